namespace GptBert.Training;

/// <summary>
/// Deterministic seed derivation (SplitMix64). HashCode.Combine is randomised per process, so it must never
/// feed seeds: a run resumed in a new process has to draw exactly the same numbers.
/// </summary>
public static class Seeds
{
    public static int Mix(params long[] parts)
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        foreach (var p in parts)
        {
            ulong z = h + (ulong)p + 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            h = z ^ (z >> 31);
        }
        return (int)(h & 0x7FFFFFFF);
    }
}
