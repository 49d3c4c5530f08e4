using System.Text.Json;
using GptBert.Tokenizers;

namespace GptBert.Tests.Tokenizers;

/// <summary>
/// ChatTemplate against Python's Jinja2 (the reference): chat-template-golden.json holds real chat templates
/// (ChatML, Zephyr, Llama 2, Mistral, Gemma, Phi-3, our default) and one exercising the rest of the subset,
/// rendered by tools/chat-templates/make_golden.py in transformers' environment.
/// </summary>
public class ChatTemplateTests
{
    static readonly JsonElement Golden = JsonDocument.Parse(File.ReadAllText(RepoFiles.At("tests", "GptBert.Tests", "Tokenizers", "chat-template-golden.json"))).RootElement;

    public static TheoryData<string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var c in Golden.GetProperty("cases").EnumerateArray())
            data.Add(c.GetProperty("template").GetString()!, c.GetProperty("conversation").GetString()!, c.GetProperty("add_generation_prompt").GetBoolean());
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RendersAsJinja2Does(string template, string conversation, bool addGenerationPrompt)
    {
        var c = Golden.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("template").GetString() == template
            && e.GetProperty("conversation").GetString() == conversation && e.GetProperty("add_generation_prompt").GetBoolean() == addGenerationPrompt);
        var t = ChatTemplate.Parse(Golden.GetProperty("templates").GetProperty(template).GetString()!, "<s>", "</s>");
        var messages = Golden.GetProperty("conversations").GetProperty(conversation).EnumerateArray()
            .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
        if (c.TryGetProperty("error", out var error))
        {
            var e = Assert.Throws<GptBertException>(() => t.Render(messages, addGenerationPrompt));
            Assert.Contains(error.GetString()!, e.Message);
        }
        else Assert.Equal(c.GetProperty("output").GetString(), t.Render(messages, addGenerationPrompt));
    }

    [Fact]
    public void DefaultTemplateIsRoleColonLinesWithAnAssistantCue()
    {
        var text = ChatTemplate.Default.Render([new("system", "Be brief."), new("user", "Hi")]);
        Assert.Equal("system: Be brief.\nuser: Hi\nassistant:", text);
        Assert.Equal(["\nuser:"], ChatTemplate.Default.Stops);
    }

    [Theory]
    [InlineData("{% macro m() %}x{% endmacro %}", "{% macro %}")]
    [InlineData("{% include 'x' %}", "{% include %}")]
    [InlineData("{% filter upper %}x{% endfilter %}", "{% filter %}")]
    [InlineData("{{ x | wordcount }}", "filter 'wordcount'")]
    [InlineData("{% if x is sameas y %}{% endif %}", "test 'sameas'")]
    [InlineData("{% set x %}a{% endset %}", "{% set x %}")]
    [InlineData("{% if true %}x", "{% if %} is not closed")]
    [InlineData("{{ 'x' ", "not closed")]
    public void RefusesConstructsOutsideTheSubsetInOneLine(string source, string named)
    {
        var e = Assert.Throws<GptBertException>(() => ChatTemplate.Parse(source));
        Assert.Contains(named, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void ReadsTheTemplateAndSpecialTokensFromTokenizerConfig()
    {
        var dir = TestUtil.TempDir("chat-template");
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """
            {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
             "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}"}]}
            """);
        var t = ChatTemplate.ForModel(dir);
        Assert.False(t.IsDefault);
        Assert.Equal("<s>[user]hi</s>", t.Render([new("user", "hi")]));
        Assert.True(ChatTemplate.ForModel(TestUtil.TempDir("no-template")).IsDefault);
    }
}
