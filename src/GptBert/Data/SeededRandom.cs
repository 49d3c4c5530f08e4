namespace GptBert.Data;

/// <summary>
/// A small deterministic random generator (SplitMix64) for shuffles and splits: unlike <see cref="Random"/>,
/// its sequence is fixed by this code, so a seed gives the same split on every machine and .NET version.
/// It is a <see cref="Random"/>, so training draws masking, NSP and augmentation randomness from it too.
/// </summary>
public sealed class SeededRandom(long seed) : Random
{
    ulong state = unchecked((ulong)seed);

    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    public override int Next(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        ulong n = (ulong)maxExclusive, limit = ulong.MaxValue - ulong.MaxValue % n;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (int)(r % n);
    }

    /// <summary>Uniform double in [0, 1).</summary>
    public override double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    // Everything Random offers goes through the two generators above.
    protected override double Sample() => NextDouble();
    public override int Next() => Next(int.MaxValue);
    public override int Next(int minValue, int maxValue) => minValue + (int)NextInt64(maxValue - (long)minValue);
    public override long NextInt64(long maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        ulong n = (ulong)maxExclusive, limit = ulong.MaxValue - ulong.MaxValue % n;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (long)(r % n);
    }
    public override long NextInt64() => NextInt64(long.MaxValue);
    public override long NextInt64(long minValue, long maxValue) => minValue + NextInt64(maxValue - minValue);
    public override float NextSingle() => (float)NextDouble();
    public override void NextBytes(Span<byte> buffer) { for (int i = 0; i < buffer.Length; i++) buffer[i] = (byte)NextUInt64(); }
    public override void NextBytes(byte[] buffer) => NextBytes(buffer.AsSpan());

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
