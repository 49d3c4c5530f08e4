using System.Globalization;

namespace GptBert.Reporting;

/// <summary>Tick positions and labels of one chart axis.</summary>
public sealed record AxisTicks(IReadOnlyList<double> Values, IReadOnlyList<string> Labels, IReadOnlyList<double> Minor)
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// "Nice" linear ticks (multiples of 1, 2 or 5 × 10^k) inside [<paramref name="lo"/>, <paramref name="hi"/>],
    /// about <paramref name="target"/> of them.
    /// </summary>
    public static AxisTicks Linear(double lo, double hi, int target)
    {
        if (!(hi > lo) || !double.IsFinite(hi - lo)) return new AxisTicks([], [], []);
        double step = NiceStep((hi - lo) / Math.Max(1, target));
        var values = new List<double>();
        double first = Math.Ceiling(lo / step - 1e-9);
        for (int i = 0; i < 60; i++)
        {
            double v = (first + i) * step;
            if (v > hi + step * 1e-9) break;
            if (Math.Abs(v) < step * 1e-9) v = 0; // no "-0"
            values.Add(v);
        }
        return new AxisTicks(values, FormatLinear(values, step), []);
    }

    /// <summary>
    /// Ticks for a log10 axis whose visible range is 10^<paramref name="logLo"/> … 10^<paramref name="logHi"/>:
    /// powers of ten (every n-th when there are many decades, with 2…9 as minor ticks), or 1-2-5 steps,
    /// or plain linear ticks when the range is narrower than that.
    /// </summary>
    public static AxisTicks Log(double logLo, double logHi, int target)
    {
        if (!(logHi > logLo) || !double.IsFinite(logHi - logLo)) return new AxisTicks([], [], []);
        int eLo = (int)Math.Ceiling(logLo - 1e-9), eHi = (int)Math.Floor(logHi + 1e-9);
        int decades = eHi - eLo + 1;
        List<double> Within(int[] mantissas)
        {
            var values = new List<double>();
            for (int e = eLo - 1; e <= eHi; e++)
                foreach (var m in mantissas)
                {
                    double v = m * Math.Pow(10, e), lv = Math.Log10(v);
                    if (lv >= logLo - 1e-9 && lv <= logHi + 1e-9) values.Add(v);
                }
            return values;
        }
        AxisTicks Labelled(List<double> values, List<double> minor) => new(values, values.Select(FormatLogValue).ToArray(), minor);

        if (decades < 3)
        {
            // Less than three powers of ten in view: 1-2-5 steps, or every integer mantissa.
            var oneTwoFive = Within([1, 2, 5]);
            if (oneTwoFive.Count >= 3 && oneTwoFive.Count <= target + 3)
                return Labelled(oneTwoFive, Within([3, 4, 6, 7, 8, 9]));
            if (oneTwoFive.Count < 3)
            {
                var all = Within([1, 2, 3, 4, 5, 6, 7, 8, 9]);
                if (all.Count >= 3) return Labelled(all, []);
            }
        }
        if (decades >= 2)
        {
            int every = Math.Max(1, (int)Math.Ceiling(decades / (double)Math.Max(2, target)));
            var values = new List<double>();
            for (int e = eLo; e <= eHi; e++)
                if ((e - eLo) % every == 0) values.Add(Math.Pow(10, e));
            var minor = every == 1 && logHi - logLo <= 8 ? Within([2, 3, 4, 5, 6, 7, 8, 9]) : [];
            return Labelled(values, minor);
        }
        // Narrower than a factor of ~3: linear ticks, placed logarithmically by the caller.
        return Linear(Math.Pow(10, logLo), Math.Pow(10, logHi), Math.Max(3, target / 2));
    }

    /// <summary>1, 2 or 5 × 10^k, the smallest not below <paramref name="raw"/> (roughly).</summary>
    public static double NiceStep(double raw)
    {
        if (!(raw > 0) || !double.IsFinite(raw)) return 1;
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double norm = raw / mag;
        double nice = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
        return nice * mag;
    }

    /// <summary>
    /// Labels with as many decimals as the step needs ("0.5", "1.0", "1.5"); "12k", "1.5M" for large
    /// numbers; "5e-5", "1e-4" for tiny ones (learning rates).
    /// </summary>
    public static IReadOnlyList<string> FormatLinear(IReadOnlyList<double> values, double step)
    {
        double maxAbs = values.Count == 0 ? 0 : values.Max(Math.Abs);
        if (maxAbs >= 1e4 && step >= 1)
        {
            (double unit, string suffix) = maxAbs >= 1e9 ? (1e9, "G") : maxAbs >= 1e6 ? (1e6, "M") : (1e3, "k");
            int dec = Decimals(step / unit);
            return values.Select(v => v == 0 ? "0" : Trim((v / unit).ToString("F" + dec, Inv)) + suffix).ToArray();
        }
        if (maxAbs > 0 && maxAbs < 1e-3)
            return values.Select(v => v == 0 ? "0" : Scientific(v)).ToArray();
        int decimals = Decimals(step);
        return values.Select(v => v.ToString("F" + decimals, Inv)).ToArray();
    }

    static int Decimals(double step) => step >= 1 ? 0 : Math.Min(12, (int)Math.Ceiling(-Math.Log10(step) - 1e-9));

    static string Trim(string s) => s.Contains('.') ? s.TrimEnd('0').TrimEnd('.') : s;

    static string Scientific(double v)
    {
        int e = (int)Math.Floor(Math.Log10(Math.Abs(v)) + 1e-9);
        double m = v / Math.Pow(10, e);
        if (Math.Abs(m) >= 9.995) { m /= 10; e++; }
        return Trim(m.ToString("F2", Inv)) + "e" + e.ToString(Inv);
    }

    static string FormatLogValue(double v)
    {
        if (v >= 1e-3 && v < 1e5) return Trim(v.ToString("0.######", Inv));
        return Scientific(v);
    }
}
