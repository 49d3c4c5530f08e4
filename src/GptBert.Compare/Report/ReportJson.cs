using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GptBert.Compare.Report;

/// <summary>
/// The JSON of <c>gptbert compare --json</c> and of report.json: one object whose <c>verdict</c> is the
/// choice ("gpt", "bert", "either", "neither", or "baseline" when no transformer beats the best baseline by more than
/// the seed noise), then <c>transformer_verdict</c> (the GPT/BERT choice had there been no baselines), <c>verdict_text</c>, <c>budget_dependent</c> (true when a candidate other than the leader was still improving at the end of
/// the budget: more budget may change the order),
/// <c>reasons</c>, <c>warnings</c> (contention: a run that got markedly less CPU per wall second than the others,
/// <see cref="Contention"/>), <c>task</c>, <c>candidates</c> (every figure of <see cref="CandidateResult"/>, snake_case keys, quality
/// metrics keyed by their own names, per-seed values and curves), <c>baselines</c> (the same figures for the baselines,
/// family "baseline", source "majority", "tfidf" or "embeddings:MODEL"), <c>primary_metric</c> (the quality metric the verdict is decided on), <c>profile</c>, <c>requirements</c>, <c>budget_sweep</c> (with a budget sweep only: <c>unit</c>, <c>metric</c>, <c>points</c> with each budget's
/// <c>verdict</c>, <c>winner</c> and <c>quality</c>, and <c>crossovers</c> with <c>before</c>, <c>after</c>, <c>from_budget</c>,
/// <c>to_budget</c> and <c>estimated</c>), <c>budget</c>,
/// <c>command</c>, <c>versions</c>, <c>machine</c>, <c>date</c> (ISO 8601), <c>overhead_fraction</c> and
/// <c>total_seconds</c>. Enums are strings; NaN and ±∞ are written as null; sets are sorted, so the same
/// report always gives the same bytes.
/// </summary>
public static class ReportJson
{
    /// <summary>The serializer options used for the nested records (snake_case, enums as strings, non-finite numbers as null).</summary>
    public static readonly JsonSerializerOptions Options = CreateOptions();

    static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            WriteIndented = true,
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        o.Converters.Add(new FiniteDoubleConverter());
        o.Converters.Add(new SortedSetConverter());
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    /// <param name="r">The report.</param>
    /// <param name="indented">Pretty-printed (default) or on one line.</param>
    /// <param name="includeCurves">Include the training curves of each candidate (the bulk of the output).</param>
    public static string Serialize(ComparisonReport r, bool indented = true, bool includeCurves = true)
    {
        ArgumentNullException.ThrowIfNull(r);
        var options = Options; // the writer's own options decide indentation
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented, Encoder = Options.Encoder }))
        {
            w.WriteStartObject();
            w.WriteString("verdict", ReportFormat.Choice(r.Verdict));
            w.WriteString("transformer_verdict", (r.Verdict.TransformerChoice ?? r.Verdict.Choice ?? "").Trim().ToLowerInvariant());
            w.WriteString("verdict_text", ReportFormat.VerdictText(r.Verdict));
            w.WriteBoolean("budget_dependent", r.Verdict.BudgetDependent);
            w.WriteStartArray("reasons");
            foreach (var reason in r.Verdict.Reasons ?? []) w.WriteStringValue(reason);
            w.WriteEndArray();
            w.WriteStartArray("warnings");
            foreach (var warning in r.Warnings ?? []) w.WriteStringValue(warning);
            w.WriteEndArray();
            w.WriteString("task", ReportFormat.Task(r.Task));
            w.WriteString("primary_metric", Decision.PrimaryMetric(r.Task).Name);
            w.WritePropertyName("candidates");
            var candidates = includeCurves ? r.Candidates : r.Candidates.Select(c => c with { Curves = [] }).ToList();
            JsonSerializer.Serialize(w, candidates, options);
            w.WritePropertyName("baselines");
            JsonSerializer.Serialize(w, r.Baselines ?? [], options);
            w.WritePropertyName("profile");
            JsonSerializer.Serialize(w, r.Profile, options);
            w.WritePropertyName("requirements");
            JsonSerializer.Serialize(w, r.Requirements, options);
            if (r.Sweep is not null)
            {
                w.WritePropertyName("budget_sweep");
                JsonSerializer.Serialize(w, r.Sweep, options);
            }
            w.WriteString("budget", r.Budget);
            w.WriteString("command", r.Command);
            w.WriteString("versions", r.Versions);
            w.WriteString("machine", r.Machine);
            w.WriteString("date", r.Date);
            WriteNumber(w, "overhead_fraction", r.OverheadFraction);
            WriteNumber(w, "total_seconds", r.TotalSeconds);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + (indented ? "\n" : "");
    }

    static void WriteNumber(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    /// <summary>NaN and ±∞ are written as null (JSON has no such numbers); null reads back as NaN.</summary>
    sealed class FiniteDoubleConverter : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }

    /// <summary>Sets of names (<see cref="CandidateResult.Estimated"/>) as a sorted array, so the output does not depend on hashing.</summary>
    sealed class SortedSetConverter : JsonConverter<IReadOnlySet<string>>
    {
        public override IReadOnlySet<string> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            JsonSerializer.Deserialize<List<string>>(ref reader, options)?.ToHashSet(StringComparer.Ordinal) ?? [];

        public override void Write(Utf8JsonWriter writer, IReadOnlySet<string> value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            foreach (var s in value.Order(StringComparer.Ordinal)) writer.WriteStringValue(s);
            writer.WriteEndArray();
        }
    }
}
