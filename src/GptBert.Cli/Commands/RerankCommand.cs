using System.CommandLine;
using GptBert.Models;
using GptBert.Pipelines;
using GptBert.Retrieval;

namespace GptBert.Cli.Commands;

/// <summary>`gptbert rerank`: order documents by relevance to a query with a cross-encoder (a classifier) or a bi-encoder.</summary>
public static class RerankCommand
{
    public static Command Create(CliContext ctx)
    {
        var command = new Command("rerank", """
            Orders documents (--input FILE or stdin, one per line; --jsonl: {"text": ..}) by relevance to --query. With a
            sequence classifier (a cross-encoder: BertForSequenceClassification fine-tuned on query/document pairs, e.g.
            'gptbert finetune' on a CSV with text, text_pair and a 0/1 label) the model reads query and document together
            and the score is P(relevant) (the sigmoid of the logit for a one-label model); with any other model (default:
            built-in 'minilm') it is the cosine of their sentence embeddings (a bi-encoder). Prints rank, score and text,
            best first; --jsonl: {"rank", "score", "index", "text"}.
            """).WithSummary("Order documents by relevance to a query (cross-encoder or bi-encoder)")
            .WithExamples("""
                gptbert rerank --query "refund policy" --input faq.txt --top 3
                gptbert rerank --model runs/cross-encoder --query "who hunts the whale?" --input passages.txt --jsonl
                """);
        var query = new Option<string>("--query", "-q") { Description = "The query", HelpName = "TEXT", Required = true };
        var top = new Option<int>("--top") { Description = "How many documents to print (default: all)", HelpName = "N", DefaultValueFactory = _ => 0 };
        var model = ModelOptions.Model(defaultModel: ModelHub.MiniLm);
        var batchSize = ModelOptions.BatchSize();
        foreach (var o in new Option[] { query, top, model, batchSize }) command.Options.Add(o);
        var common = CommonOptions.AddTo(command, noTruncate: false);
        command.SetAction(r =>
        {
            string q = r.GetValue(query)!;
            if (q.Trim().Length == 0) throw new UsageException("--query is empty");
            int k = Check.AtLeast(r.GetValue(top), 0, "--top");
            int batch = Check.AtLeast(r.GetValue(batchSize), 1, "--batch-size");
            var reader = common.Reader(ctx, r, null);
            var items = reader.ReadAll();
            if (items.Count == 0) throw new UsageException("no documents: give --input FILE or lines on stdin");
            var docs = items.Select(i => i.Pair is null ? i.Text : throw new UsageException($"{reader.Where(i)}: rerank reads one document per line; remove \"text_pair\"")).ToList();
            string source = r.GetValue(model)!;
            var config = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(source), "config.json"));
            double[] scores;
            if (ModelFactory.DefaultArchitecture(config).EndsWith("ForSequenceClassification", StringComparison.Ordinal))
            {
                using var classifier = new Classifier(source, common.TokenizerName(r), common.DeviceName(r)) { BatchSize = batch, Warn = ctx.Warn };
                scores = Relevance.CrossEncoder(classifier, docs.Select(d => (q, d)).ToList());
            }
            else
            {
                using var handle = common.LoadModel(r, source, architecture: null, requireHead: false);
                scores = Relevance.BiEncoder(new Embedder(handle) { BatchSize = batch, Warn = ctx.Warn }, q, docs);
            }
            var order = Relevance.Rank(scores);
            for (int rank = 0; rank < (k == 0 ? order.Length : Math.Min(k, order.Length)); rank++)
            {
                int i = order[rank];
                if (common.IsJsonl(r))
                    ctx.Out.JsonLine(j =>
                    {
                        j.WriteNumber("rank", rank + 1);
                        j.WriteNumber("score", scores[i]);
                        j.WriteNumber("index", i);
                        j.WriteString("text", docs[i]);
                    });
                else ctx.Out.Line($"{rank + 1}\t{Output.Score(scores[i])}\t{docs[i]}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The model that judges candidates: a cross-encoder when it is a sequence classifier, else a bi-encoder; disposing it frees the model.</summary>
    internal sealed class CandidateJudge(IDisposable model, CandidateScorer scorer) : IDisposable
    {
        public CandidateScorer Scorer => scorer;
        public void Dispose() => model.Dispose();
    }

    /// <summary>Opens the judge of generate-then-rerank (summarize, generate --num-candidates) by the same rule as rerank.</summary>
    internal static CandidateJudge OpenJudge(CommonOptions common, System.CommandLine.ParseResult r, string source, CliContext ctx)
    {
        var config = ModelConfig.Load(Path.Combine(ModelHub.ExistingDirectory(source), "config.json"));
        if (ModelFactory.DefaultArchitecture(config).EndsWith("ForSequenceClassification", StringComparison.Ordinal))
        {
            var classifier = new Classifier(source, null, common.DeviceName(r)) { Warn = ctx.Warn };
            return new CandidateJudge(classifier, CandidateReranking.CrossEncoder(classifier));
        }
        var handle = ModelHub.Load(source, architecture: null, tokenizer: null, device: common.DeviceName(r), requireHead: false);
        return new CandidateJudge(handle, CandidateReranking.Embedding(new Embedder(handle) { Overflow = common.OverflowMode(r), Warn = ctx.Warn }));
    }
}
