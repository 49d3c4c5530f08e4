using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GptBert.Server.Endpoints;

public sealed record TokenizeResponse(IReadOnlyList<int> Tokens, int Count, int MaxModelLen, IReadOnlyList<string> TokenStrs);
public sealed record DetokenizeResponse(string Prompt);

/// <summary>POST /tokenize and /detokenize, in vLLM's shapes, with the model's own tokenizer.</summary>
public static class TokenizeEndpoints
{
    public static IEndpointRouteBuilder MapTokenize(this IEndpointRouteBuilder app)
    {
        app.MapPost("/tokenize", async (HttpContext context, ServerState state) =>
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            string text = body.String("prompt") ?? body.String("text") ?? throw ApiException.BadRequest("'prompt' is required", "prompt");
            bool special = body.Bool("add_special_tokens") ?? model.Generator is null; // BERT needs [CLS]/[SEP]; GPT-2 adds nothing
            var enc = model.Tokenizer.Encode(text, addSpecialTokens: special);
            Inputs.CheckTotal(state, enc.Length, "prompt");
            context.Features.Get<RequestInfo>()!.PromptTokens = enc.Length;
            return TypedResults.Ok(new TokenizeResponse(enc.Ids, enc.Length, model.ContextLength, enc.Tokens));
        });
        app.MapPost("/detokenize", async (HttpContext context, ServerState state) =>
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            var v = body.Raw("tokens") ?? throw ApiException.BadRequest("'tokens' is required", "tokens");
            var ids = JsonRequest.Ids(v, "tokens");
            int vocab = model.Tokenizer.VocabSize;
            foreach (var id in ids)
                if (id < 0 || id >= vocab) throw ApiException.BadRequest($"'tokens' has token id {id}, outside the model's vocabulary (0-{vocab - 1})", "tokens");
            Inputs.CheckTotal(state, ids.Length, "tokens");
            return TypedResults.Ok(new DetokenizeResponse(model.Tokenizer.Decode(ids, skipSpecialTokens: body.Bool("skip_special_tokens") ?? false)));
        });
        return app;
    }
}
