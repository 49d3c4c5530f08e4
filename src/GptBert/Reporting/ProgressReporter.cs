using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace GptBert.Reporting;

/// <summary>
/// Limits of a run; training stops at whichever ends first, so the ETA is the smallest of their
/// estimates. Null means no such limit.
/// </summary>
public sealed record ProgressBudget(long? Steps = null, long? Tokens = null, TimeSpan? Time = null);

/// <summary>
/// Progress of a long job (training, evaluation) on one line of stderr:
/// <c>step 120/1000 12% | loss 3.4521 | lr 3.00e-04 | 12.3k tok/s | 1m05s | ETA 8m12s</c>.
/// On a terminal the line is redrawn in place (carriage return), at most 4 times a second; otherwise
/// (a log file, CI) a full line is written at most once per <c>lineInterval</c>. Rates are averages over
/// this session (from the step and token counts given at construction, so a resumed run is not
/// credited with earlier work). Thread-safe.
/// </summary>
public sealed class ProgressReporter
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    static readonly TimeSpan TerminalInterval = TimeSpan.FromMilliseconds(250);

    readonly object _lock = new();
    readonly TextWriter _writer;
    readonly Func<TimeSpan> _clock;
    readonly TimeSpan _start;
    readonly TimeSpan _lineInterval;
    readonly long _startStep, _startTokens;

    string? _line;          // latest state, rendered
    bool _linePrinted;      // _line has been written
    TimeSpan? _lastWrite;
    int _lastLength;        // terminal: length of the line on screen
    bool _finished;

    public ProgressBudget Budget { get; }
    /// <summary>True when the line is redrawn in place (a terminal), false when full lines are written.</summary>
    public bool Interactive { get; }
    /// <summary>The estimate of the latest <see cref="Report"/>; null when nothing can be estimated yet.</summary>
    public TimeSpan? Eta { get; private set; }

    /// <param name="budget">Step, token and wall-time limits (any may be absent).</param>
    /// <param name="writer">Where to write; null writes nothing (the library never writes to the console by itself: a host passes its stream).</param>
    /// <param name="interactive">Redraw one line in place; default: when writing to <see cref="Console.Error"/> and it is a terminal.</param>
    /// <param name="clock">Monotonic time since any fixed origin; default a stopwatch.</param>
    /// <param name="lineInterval">Non-interactive: least time between two lines (default 10 s).</param>
    /// <param name="startStep">Step count at the start of this session (resume).</param>
    /// <param name="startTokens">Token count at the start of this session (resume).</param>
    public ProgressReporter(ProgressBudget? budget = null, TextWriter? writer = null, bool? interactive = null,
        Func<TimeSpan>? clock = null, TimeSpan? lineInterval = null, long startStep = 0, long startTokens = 0)
    {
        Budget = budget ?? new ProgressBudget();
        _writer = writer ?? TextWriter.Null;
        bool toStderr = ReferenceEquals(writer, Console.Error);
        Interactive = interactive ?? (toStderr && !Console.IsErrorRedirected);
        if (clock is null)
        {
            var sw = Stopwatch.StartNew();
            clock = () => sw.Elapsed;
        }
        _clock = clock;
        _start = clock();
        _lineInterval = lineInterval ?? TimeSpan.FromSeconds(10);
        _startStep = startStep;
        _startTokens = startTokens;
        // A redrawn line longer than the terminal wraps, and '\r' then only returns to its last row.
        if (Interactive && toStderr)
        {
            try { _maxWidth = Console.WindowWidth > 20 ? Console.WindowWidth - 1 : int.MaxValue; }
            catch (Exception e) when (e is IOException or PlatformNotSupportedException or InvalidOperationException) { }
        }
    }

    readonly int _maxWidth = int.MaxValue;

    /// <summary>
    /// Records the state after <paramref name="step"/> (cumulative <paramref name="tokens"/>) and shows it
    /// unless the last update was too recent. Cheap enough to call every step.
    /// </summary>
    public void Report(long step, double? loss = null, double? lr = null, long? tokens = null)
    {
        lock (_lock)
        {
            if (_finished) return;
            var now = _clock();
            var elapsed = now - _start;
            Eta = EstimateRemaining(step, tokens, elapsed, out double? fraction);
            _line = FormatLine(step, loss, lr, tokens, elapsed, Eta, fraction);
            _linePrinted = false;
            var interval = Interactive ? TerminalInterval : _lineInterval;
            if (_lastWrite is { } last && now - last < interval) return;
            WriteCurrent();
            _lastWrite = now;
        }
    }

    /// <summary>Writes a message on its own line without garbling the progress line (which is redrawn after it).</summary>
    public void Message(string text)
    {
        lock (_lock)
        {
            if (Interactive && _lastLength > 0)
            {
                _writer.Write("\r" + text.PadRight(_lastLength) + "\n");
                _lastLength = 0;
                if (!_finished && _line is not null) { _linePrinted = false; WriteCurrent(); return; }
            }
            else _writer.Write(text + "\n");
            _writer.Flush();
        }
    }

    /// <summary>Shows the latest state if it was held back by throttling, and ends the line. Later reports are ignored.</summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_finished) return;
            _finished = true;
            if (_line is not null && !_linePrinted) WriteCurrent();
            if (Interactive && _lastLength > 0)
            {
                _writer.Write("\n");
                _lastLength = 0;
            }
            _writer.Flush();
        }
    }

    void WriteCurrent()
    {
        var line = _line!;
        if (Interactive)
        {
            if (line.Length > _maxWidth) line = line[.._maxWidth];
            _writer.Write("\r" + line + (line.Length < _lastLength ? new string(' ', _lastLength - line.Length) : ""));
            _lastLength = line.Length;
        }
        else _writer.Write(line + "\n");
        _writer.Flush();
        _linePrinted = true;
    }

    /// <summary>
    /// Time left until the first budget runs out, from this session's average rates, and the fraction of
    /// that budget used so far; null when no budget applies or no progress has been measured yet.
    /// </summary>
    TimeSpan? EstimateRemaining(long step, long? tokens, TimeSpan elapsed, out double? fraction)
    {
        double seconds = elapsed.TotalSeconds;
        double best = double.PositiveInfinity, usedOfBest = 0;
        void Consider(double remaining, double used)
        {
            if (double.IsFinite(remaining) && remaining < best) { best = remaining; usedOfBest = used; }
        }
        if (Budget.Steps is { } totalSteps && totalSteps > 0 && seconds > 0 && step > _startStep)
        {
            double rate = (step - _startStep) / seconds;
            Consider((totalSteps - step) / rate, (double)step / totalSteps);
        }
        if (Budget.Tokens is { } totalTokens && totalTokens > 0 && tokens is { } t && seconds > 0 && t > _startTokens)
        {
            double rate = (t - _startTokens) / seconds;
            Consider((totalTokens - t) / rate, (double)t / totalTokens);
        }
        if (Budget.Time is { } time && time > TimeSpan.Zero)
            Consider((time - elapsed).TotalSeconds, seconds / time.TotalSeconds);
        fraction = null;
        if (!double.IsFinite(best)) return null;
        fraction = Math.Clamp(usedOfBest, 0, 1);
        return TimeSpan.FromSeconds(Math.Max(0, best));
    }

    string FormatLine(long step, double? loss, double? lr, long? tokens, TimeSpan elapsed, TimeSpan? eta, double? fraction)
    {
        var sb = new StringBuilder();
        sb.Append("step ").Append(step.ToString(Inv));
        if (Budget.Steps is { } total) sb.Append('/').Append(total.ToString(Inv));
        if (fraction is { } f) sb.Append(' ').Append(Math.Floor(f * 100).ToString(Inv)).Append('%');
        if (loss is { } l) sb.Append(" | loss ").Append(double.IsFinite(l) ? l.ToString("F4", Inv) : l.ToString(Inv));
        if (lr is { } r) sb.Append(" | lr ").Append(r.ToString("0.00e+00", Inv));
        double seconds = elapsed.TotalSeconds;
        if (tokens is { } t && seconds > 0 && t > _startTokens)
            sb.Append(" | ").Append(FormatCount((t - _startTokens) / seconds)).Append(" tok/s");
        sb.Append(" | ").Append(FormatDuration(elapsed));
        sb.Append(" | ETA ").Append(eta is { } e ? FormatDuration(e) : "?");
        return sb.ToString();
    }

    /// <summary>"850", "12.3k", "1.23M".</summary>
    public static string FormatCount(double v) =>
        v >= 1e6 ? (v / 1e6).ToString("0.00", Inv) + "M"
        : v >= 1e4 ? (v / 1e3).ToString("0.0", Inv) + "k"
        : v >= 1e3 ? (v / 1e3).ToString("0.00", Inv) + "k"
        : v.ToString("0", Inv);

    /// <summary>Durations as "12s", "3m05s", "1h02m", "2d03h" (rounded down; negative is "0s").</summary>
    public static string FormatDuration(TimeSpan d)
    {
        long s = d <= TimeSpan.Zero ? 0 : (long)Math.Floor(d.TotalSeconds);
        if (s < 60) return $"{s}s";
        if (s < 3600) return $"{s / 60}m{s % 60:00}s";
        if (s < 86400) return $"{s / 3600}h{s % 3600 / 60:00}m";
        return $"{s / 86400}d{s % 86400 / 3600:00}h";
    }
}
