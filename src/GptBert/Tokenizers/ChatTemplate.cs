using System.Text.Json;
using System.Text.Json.Nodes;

namespace GptBert.Tokenizers;

/// <summary>One message of a conversation, as chat templates see it (<c>message['role']</c>, <c>message['content']</c>).</summary>
public sealed record ChatTurn(string Role, string Content);

/// <summary>
/// A Hugging Face chat template: the Jinja2 program in tokenizer_config.json's <c>chat_template</c> that turns a list of
/// messages into the prompt text, rendered as transformers' <c>apply_chat_template</c> renders it (Jinja2 with
/// trim_blocks, lstrip_blocks and loop controls; variables <c>messages</c>, <c>add_generation_prompt</c>,
/// <c>bos_token</c>, <c>eos_token</c>, and the functions <c>raise_exception</c> and <c>strftime_now</c>).
/// No maintained Jinja2 engine for .NET exists on NuGet (Scriban and Fluid are Liquid), so the subset that chat
/// templates use is implemented in <see cref="Jinja"/>; a template using anything else is refused when it is read,
/// with one line naming the construct.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>
    /// The template for a model without one (plain GPT-2): a "role: content" line per message and, for a reply, a
    /// trailing "assistant:" cue. Generation stops at <see cref="DefaultStop"/>, where the model starts the user's turn.
    /// </summary>
    public const string DefaultSource =
        "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}" +
        "{% if add_generation_prompt %}assistant:{% endif %}";

    public const string DefaultStop = "\nuser:";

    readonly Jinja.Template program;

    public string Source { get; }
    /// <summary>True for <see cref="DefaultSource"/> (no template came with the model).</summary>
    public bool IsDefault { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    /// <summary>Texts that end an assistant turn besides the tokenizer's end of text ("\nuser:" for the default).</summary>
    public IReadOnlyList<string> Stops => IsDefault ? [DefaultStop] : [];

    ChatTemplate(string source, bool isDefault, string? bos, string? eos)
    {
        Source = source;
        IsDefault = isDefault;
        BosToken = bos;
        EosToken = eos;
        program = Jinja.Parse(source);
    }

    /// <summary>Parses a template; one outside the supported subset is refused here, naming the construct.</summary>
    public static ChatTemplate Parse(string source, string? bosToken = null, string? eosToken = null) => new(source, false, bosToken, eosToken);

    public static ChatTemplate Default { get; } = new(DefaultSource, true, null, null);

    /// <summary>
    /// The template of a model directory: tokenizer_config.json's <c>chat_template</c> (a string, or a list of named
    /// templates, of which "default" is taken) with its bos/eos tokens; else <see cref="Default"/>.
    /// </summary>
    public static ChatTemplate ForModel(string directory)
    {
        var path = Path.Combine(directory, "tokenizer_config.json");
        if (!File.Exists(path)) return Default;
        JsonNode? config;
        try { config = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new GptBertException($"{path} is not valid JSON: {e.Message}"); }
        var node = config?["chat_template"];
        string? source = node switch
        {
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonArray a => a.OfType<JsonObject>().FirstOrDefault(t => (string?)t["name"] == "default")?["template"]?.GetValue<string>(),
            _ => null,
        };
        if (source is null) return Default;
        try { return Parse(source, TokenText(config?["bos_token"]), TokenText(config?["eos_token"])); }
        catch (GptBertException e) { throw new GptBertException($"{path}: chat_template: {e.Message}"); }
    }

    /// <summary>A special token in tokenizer_config.json: a string or an AddedToken object with "content".</summary>
    static string? TokenText(JsonNode? n) => n switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject o => (string?)o["content"],
        _ => null,
    };

    /// <summary>
    /// The prompt's token ids: the rendered text tokenized without adding special tokens (the template writes its own),
    /// as transformers' apply_chat_template(tokenize=True) does; an empty rendering becomes the tokenizer's BOS.
    /// </summary>
    public IReadOnlyList<int> Encode(ITextTokenizer tokenizer, IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt = true)
    {
        var ids = tokenizer.Encode(Render(messages, addGenerationPrompt), addSpecialTokens: false).Ids;
        return ids.Length > 0 ? ids : tokenizer.BosId is int bos ? [bos] : throw new GptBertException("the chat template rendered an empty prompt");
    }

    /// <summary>
    /// The most recent part of a conversation whose prompt leaves <paramref name="reserve"/> tokens free in a window of
    /// <paramref name="window"/>: the leading system messages always stay, then the oldest other turns are dropped first
    /// (a whole turn at a time), as chat front-ends keep a conversation within a model's context. Also the prompt's ids.
    /// </summary>
    public (IReadOnlyList<ChatTurn> Kept, IReadOnlyList<int> Prompt) Fit(ITextTokenizer tokenizer, IReadOnlyList<ChatTurn> messages, int window, int reserve)
    {
        int system = 0;
        while (system < messages.Count && messages[system].Role == "system") system++;
        for (int drop = 0; system + drop < messages.Count; drop++)
        {
            var kept = messages.Take(system).Concat(messages.Skip(system + drop)).ToList();
            var ids = Encode(tokenizer, kept);
            if (ids.Count + reserve <= window) return (kept, ids);
        }
        throw new GptBertException($"the latest message alone does not fit the {window}-token window with {reserve} tokens for the reply; shorten it or ask for fewer new tokens") { Parameter = "MaxNewTokens" };
    }

    /// <summary>The prompt text for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/>, ending where the assistant's reply starts.</summary>
    public string Render(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt = true, IReadOnlyDictionary<string, object?>? variables = null)
    {
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(m => (object?)new Dictionary<string, object?> { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = BosToken ?? "",
            ["eos_token"] = EosToken ?? "",
        };
        if (variables is not null) foreach (var (k, v) in variables) vars[k] = v;
        return program.Render(vars);
    }
}
