using System.Globalization;
using System.Text.RegularExpressions;

namespace GptBert.Cli;

/// <summary>
/// Parses the values of --max-time and --max-tokens as people type them.
/// </summary>
public static partial class Durations
{
    /// <summary>
    /// "90s", "10m", "1.5h", "1h30m", "2m30s", "1d", or a clock time "H:MM:SS" / "D.HH:MM:SS" ("00:10:00").
    /// A bare number is refused (seconds or minutes?), as is zero or a negative time.
    /// </summary>
    public static bool TryParse(string text, out TimeSpan value, out string? error)
    {
        value = default;
        error = null;
        var s = text.Trim().ToLowerInvariant();
        if (s.Length == 0) { error = "is empty"; return false; }
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            error = "has no unit; write e.g. 90s, 10m, 1h30m or 00:10:00";
            return false;
        }
        if (s.Count(c => c == ':') == 2)
        {
            if (TimeSpan.TryParseExact(s, [@"h\:mm\:ss", @"hh\:mm\:ss", @"d\.hh\:mm\:ss", @"h\:mm\:ss\.FFFFFFF", @"hh\:mm\:ss\.FFFFFFF"],
                    CultureInfo.InvariantCulture, out value) || TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out value))
                return Positive(value, out error);
            error = "is not a time like 00:10:00 (hours:minutes:seconds)";
            return false;
        }
        var m = Compound().Match(s);
        if (!m.Success)
        {
            error = "is not a duration; write e.g. 90s, 10m, 1h30m, 1.5h or 00:10:00";
            return false;
        }
        double seconds = 0;
        foreach (Capture part in m.Groups["part"].Captures)
        {
            var pm = Part().Match(part.Value);
            double n = double.Parse(pm.Groups["n"].Value, CultureInfo.InvariantCulture);
            seconds += n * pm.Groups["u"].Value switch
            {
                "ms" => 0.001,
                "s" or "sec" or "secs" or "second" or "seconds" => 1,
                "m" or "min" or "mins" or "minute" or "minutes" => 60,
                "h" or "hr" or "hrs" or "hour" or "hours" => 3600,
                _ => 86400, // d, day, days
            };
        }
        if (seconds > TimeSpan.MaxValue.TotalSeconds / 2) { error = "is too long"; return false; }
        value = TimeSpan.FromSeconds(seconds);
        return Positive(value, out error);
    }

    static bool Positive(TimeSpan t, out string? error)
    {
        error = t > TimeSpan.Zero ? null : "must be longer than zero";
        return error is null;
    }

    /// <summary>"1h30m", "1h 30m", "90s": one or more number+unit parts.</summary>
    [GeneratedRegex(@"^(?:(?<part>\d+(?:\.\d+)?\s*(?:ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d))\s*)+$")]
    private static partial Regex Compound();

    [GeneratedRegex(@"^(?<n>\d+(?:\.\d+)?)\s*(?<u>[a-z]+)$")]
    private static partial Regex Part();

    /// <summary>"2h05m", "3m12s", "4.2s": a duration for people.</summary>
    public static string Format(TimeSpan t)
    {
        if (t.TotalSeconds < 60) return t.TotalSeconds.ToString(t.TotalSeconds < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + "s";
        if (t.TotalMinutes < 60) return $"{(int)t.TotalMinutes}m{t.Seconds:00}s";
        return $"{(int)t.TotalHours}h{t.Minutes:00}m";
    }

    /// <summary>A count with an optional K/M/B suffix (powers of 1000): "500000", "2M", "1.5B", "1e6".</summary>
    public static bool TryParseCount(string text, out long value, out string? error)
    {
        value = 0;
        error = null;
        var s = text.Trim().Replace("_", "").Replace(",", "");
        double factor = 1;
        if (s.Length > 1 && char.ToUpperInvariant(s[^1]) is 'K' or 'M' or 'B' or 'G' or 'T')
        {
            factor = char.ToUpperInvariant(s[^1]) switch { 'K' => 1e3, 'M' => 1e6, 'B' or 'G' => 1e9, _ => 1e12 };
            s = s[..^1];
        }
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || !double.IsFinite(n))
        {
            error = "is not a count; write e.g. 500000, 2M or 1.5B";
            return false;
        }
        double v = Math.Round(n * factor);
        if (v <= 0) { error = "must be positive"; return false; }
        if (v > long.MaxValue / 2) { error = "is too large"; return false; }
        value = (long)v;
        return true;
    }
}
