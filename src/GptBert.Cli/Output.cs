using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GptBert.Cli;

/// <summary>
/// Writes results to stdout: plain text lines, or one compact JSON object per line (JSON Lines).
/// Warnings and errors never go here, so --jsonl output stays machine-readable.
/// </summary>
public sealed class Output(TextWriter writer)
{
    static readonly JsonWriterOptions JsonOptions = new()
    {
        Indented = false,
        // Keep non-ASCII text (tokens, generated text) readable; still valid JSON.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public TextWriter Writer => writer;

    public void Line(string text = "") => writer.WriteLine(text);

    public void Write(string text) => writer.Write(text);

    public void Flush() => writer.Flush();

    /// <summary>Writes one JSON object on its own line.</summary>
    public void JsonLine(Action<Utf8JsonWriter> writeProperties)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            writeProperties(json);
            json.WriteEndObject();
        }
        writer.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    /// <summary>Pretty-printed JSON document (for `info --json`).</summary>
    public void JsonPretty(Action<Utf8JsonWriter> writeProperties)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions with { Indented = true }))
        {
            json.WriteStartObject();
            writeProperties(json);
            json.WriteEndObject();
        }
        writer.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    public static void WriteArray(Utf8JsonWriter json, string name, IEnumerable<int> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values) json.WriteNumberValue(v);
        json.WriteEndArray();
    }

    public static void WriteArray(Utf8JsonWriter json, string name, IEnumerable<float> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values) json.WriteNumberValue(float.IsFinite(v) ? v : 0f);
        json.WriteEndArray();
    }

    public static void WriteArray(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values) json.WriteStringValue(v);
        json.WriteEndArray();
    }

    /// <summary>Shortest round-trip, culture-invariant number text.</summary>
    public static string Number(float v) => v.ToString(CultureInfo.InvariantCulture);
    public static string Number(double v) => v.ToString(CultureInfo.InvariantCulture);
    public static string Score(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>A probability for people: "0.4170", or "3.2e-05" when it would print as 0.0000.</summary>
    public static string Probability(double p) =>
        p >= 0.0001 || p == 0 ? p.ToString("F4", CultureInfo.InvariantCulture) : p.ToString("0.0e-00", CultureInfo.InvariantCulture);

    /// <summary>Bytes in binary units: "512 B", "86.7 MiB", "1.52 GiB".</summary>
    public static string HumanBytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes; int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : v.ToString(v >= 100 ? "F0" : v >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture) + " " + units[u];
    }

    /// <summary>Counts in short units: "22.7M", "124M", "1.3B".</summary>
    public static string HumanCount(long n) => n switch
    {
        >= 1_000_000_000 => (n / 1e9).ToString(n >= 10_000_000_000 ? "F0" : "F1", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (n / 1e6).ToString(n >= 100_000_000 ? "F0" : "F1", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (n / 1e3).ToString(n >= 100_000 ? "F0" : "F1", CultureInfo.InvariantCulture) + "K",
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
