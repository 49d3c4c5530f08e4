using System.Text.Json;
using GptBert.Pipelines;
using GptBert.Tokenizers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GptBert.Server.Endpoints;

public sealed record ClassificationItem(int Index, string Label, double Score, IReadOnlyDictionary<string, double> Scores);
public sealed record FillMaskCandidate(int TokenId, string Token, string TokenStr, double Score);
public sealed record FillMaskSlot(int Position, IReadOnlyList<FillMaskCandidate> Candidates);
public sealed record FillMaskItem(int Index, IReadOnlyList<FillMaskSlot> Masks);
public sealed record TaskList<T>(IReadOnlyList<T> Data, string Model, Usage Usage)
{
    public string Object => "list";
}

public sealed record RerankDocument(string Text);
public sealed record RerankResult(int Index, double RelevanceScore, RerankDocument? Document);
public sealed record RerankResponse(string Id, string Model, IReadOnlyList<RerankResult> Results, Usage Usage);

/// <summary>
/// The task routes beyond OpenAI's: /v1/classify (a fine-tuned classifier's label and scores per text), /v1/fill-mask
/// (top-k fillers per [MASK]) and /v1/rerank (documents ordered by relevance to a query). Classify and fill-mask go
/// through dynamic batching like /v1/embeddings.
/// </summary>
public static class TaskEndpoints
{
    public static IEndpointRouteBuilder MapClassify(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/classify", async (HttpContext context, ServerState state) =>
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            if (model.Classifications is null) throw model.CannotDo("classification", "/v1/classify");
            var texts = Inputs.Texts(body, "input", model);
            var pairs = body.Strings("text_pair");
            if (pairs is not null && pairs.Count != texts.Count)
                throw ApiException.BadRequest($"'text_pair' must have one text per input ({texts.Count}), got {pairs.Count}", "text_pair");
            long tokens = Inputs.CheckLengths(context, state, model, texts, "input", pairs);
            var results = await model.Classifications.SubmitAsync(texts.Select((t, i) => (t, pairs?[i])).ToList(), context.RequestAborted);
            return TypedResults.Ok(new TaskList<ClassificationItem>(
                results.Select((c, i) => new ClassificationItem(i, c.Label, c.Scores[c.Label], c.Scores)).ToList(), model.Name, new Usage(tokens, tokens)));
        });
        return app;
    }

    public static IEndpointRouteBuilder MapFillMask(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/fill-mask", async (HttpContext context, ServerState state) =>
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            if (model.FillMasks is null) throw model.CannotDo("fill-mask", "/v1/fill-mask");
            var texts = Inputs.Texts(body, "input", model);
            int topK = body.Int("top_k") ?? 5;
            if (topK is < 1 or > 100) throw ApiException.BadRequest($"'top_k' must be between 1 and 100 (got {topK})", "top_k");
            long tokens = Inputs.CheckLengths(context, state, model, texts, "input");
            int maskId = model.Tokenizer.MaskId ?? throw ApiException.BadRequest($"the model '{model.Name}' has no mask token", "model");
            for (int i = 0; i < texts.Count; i++)
                if (!model.Tokenizer.Encode(texts[i]).Ids.Contains(maskId))
                    throw ApiException.BadRequest($"'input{(texts.Count > 1 ? $"[{i}]" : "")}' has no {model.Tokenizer.MaskToken} token; write it where a word should be predicted", "input");
            var results = await model.FillMasks.SubmitAsync(texts.Select(t => (t, (string?)null, topK)).ToList(), context.RequestAborted);
            return TypedResults.Ok(new TaskList<FillMaskItem>(results.Select((r, i) => new FillMaskItem(i, r.Select(p => new FillMaskSlot(p.Position,
                p.Candidates.Select(c => new FillMaskCandidate(c.Id, c.Token, model.Tokenizer.Decode([c.Id]), c.Score)).ToList())).ToList())).ToList(),
                model.Name, new Usage(tokens, tokens)));
        });
        return app;
    }

    /// <summary>
    /// /v1/rerank (and /rerank) in the vLLM/Jina shape: a classifier model scores each (query, document) pair as a
    /// cross-encoder (P(relevant), see Relevance.CrossEncoder); any other model is a bi-encoder, the cosine of the query's and
    /// each document's embeddings, computed by the same batched Embedder as /v1/embeddings.
    /// </summary>
    public static IEndpointRouteBuilder MapRerank(this IEndpointRouteBuilder app)
    {
        async Task<IResult> Rerank(HttpContext context, ServerState state)
        {
            var body = await JsonRequest.ReadAsync(context);
            var model = Inputs.Model(context, state, body);
            string query = body.RequiredString("query");
            if (query.Length == 0) throw ApiException.BadRequest("'query' is empty", "query");
            var docs = body.Raw("documents") ?? throw ApiException.BadRequest("'documents' is required", "documents");
            if (docs.ValueKind != JsonValueKind.Array) throw JsonRequest.WrongType("documents", "an array", docs);
            var documents = docs.EnumerateArray().Select((d, i) => d.ValueKind == JsonValueKind.String ? d.GetString()!
                : d.ValueKind == JsonValueKind.Object && d.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
                : throw JsonRequest.WrongType($"documents[{i}]", "a string or {\"text\": ...}", d)).ToList();
            if (documents.Count == 0) throw ApiException.BadRequest("'documents' must not be empty", "documents");
            if (documents.FindIndex(d => d.Length == 0) is int empty and >= 0) throw ApiException.BadRequest($"'documents[{empty}]' is empty", "documents");
            int topN = body.Int("top_n") ?? documents.Count;
            if (topN < 1) throw ApiException.BadRequest($"'top_n' must be at least 1 (got {topN})", "top_n");
            bool returnDocuments = body.Bool("return_documents") ?? true;
            double[] scores;
            long tokens;
            if (model.Relevances is not null)
            {
                // A cross-encoder reads each (query, document) pair together.
                tokens = Inputs.CheckLengths(context, state, model, documents.Select(_ => query).ToList(), "documents", documents);
                scores = (await model.Relevances.SubmitAsync(documents.Select(d => (query, d)).ToList(), context.RequestAborted)).ToArray();
            }
            else
            {
                var all = new List<string> { query };
                all.AddRange(documents);
                var encodings = all.Select(t => model.Tokenizer.Encode(t, addSpecialTokens: true)).ToList();
                tokens = Inputs.CheckLengths(context, state, model, encodings, "documents");
                var vectors = await model.Embeddings.SubmitAsync(encodings, context.RequestAborted);
                scores = documents.Select((_, i) => Embedder.Cosine(vectors[0], vectors[i + 1])).ToArray();
            }
            var results = documents.Select((d, i) => new RerankResult(i, scores[i], returnDocuments ? new RerankDocument(d) : null))
                .OrderByDescending(r => r.RelevanceScore).ThenBy(r => r.Index).Take(topN).ToList();
            return TypedResults.Ok(new RerankResponse(Generation.Id("rerank"), model.Name, results, new Usage(tokens, tokens)));
        }
        app.MapPost("/v1/rerank", Rerank);
        app.MapPost("/rerank", Rerank);
        return app;
    }
}
