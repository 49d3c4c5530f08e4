using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Checkpoints;

/// <summary>
/// Moves raw little-endian tensor bytes between streams and TorchSharp's native memory without an
/// intermediate managed copy of the whole tensor (chunks of at most 256 MiB, so tensors over 2 GiB work).
/// </summary>
internal static class TensorBytes
{
    const long ChunkBytes = 256L << 20;

    public static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new GptBertException("checkpoint files are little-endian and this machine is big-endian; run GptBert on a little-endian (x64/arm64) machine");
    }

    /// <summary>
    /// The elements of <paramref name="tensor"/> in row-major order, copied in one block (any layout or device; the dtype
    /// must be <typeparamref name="T"/>'s). TorchSharp's <c>data&lt;T&gt;().ToArray()</c> walks an index enumerator element
    /// by element: 22-27 ms for MiniLM's (32, 128, 384) output until the JIT tiers it up, 1.8 ms after; this is one memcpy.
    /// </summary>
    public static T[] ToArray<T>(Tensor tensor) where T : unmanaged
    {
        var expected = default(T) switch
        {
            float => ScalarType.Float32, long => ScalarType.Int64, int => ScalarType.Int32, sbyte => ScalarType.Int8, byte => ScalarType.Byte,
            _ => throw new NotSupportedException($"TensorBytes.ToArray<{typeof(T).Name}>"),
        };
        if (tensor.dtype != expected) throw new InvalidOperationException($"ToArray<{typeof(T).Name}> of a {tensor.dtype} tensor; convert it first");
        if (tensor.NumberOfElements == 0) return [];
        Tensor? dense = tensor.device_type == DeviceType.CPU && tensor.is_contiguous() ? null : tensor.cpu().contiguous();
        try { return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>((dense ?? tensor).bytes).ToArray(); }
        finally { dense?.Dispose(); }
    }

    /// <summary>Fills a contiguous CPU tensor from <paramref name="source"/>; throws EndOfStreamException when it ends early.</summary>
    public static void ReadInto(Tensor tensor, Stream source)
    {
        if (tensor.NumberOfElements == 0) return;
        if (!tensor.is_contiguous() || tensor.device_type != DeviceType.CPU)
            throw new InvalidOperationException("ReadInto needs a contiguous CPU tensor");
        using var flat = tensor.reshape(-1);
        long elementSize = tensor.ElementSize;
        long perChunk = Math.Max(1, ChunkBytes / elementSize);
        for (long start = 0; start < flat.NumberOfElements; start += perChunk)
        {
            long count = Math.Min(perChunk, flat.NumberOfElements - start);
            using var chunk = flat.narrow(0, start, count);
            source.ReadExactly(chunk.bytes);
        }
    }

    /// <summary>Writes a tensor's elements in row-major order; the tensor may be non-contiguous or off the CPU.</summary>
    public static void WriteFrom(Tensor tensor, Stream destination)
    {
        if (tensor.NumberOfElements == 0) return;
        Tensor? cpu = tensor.device_type == DeviceType.CPU ? null : tensor.cpu();
        Tensor? dense = (cpu ?? tensor).is_contiguous() ? null : (cpu ?? tensor).contiguous();
        try
        {
            var src = dense ?? cpu ?? tensor;
            using var flat = src.reshape(-1);
            long perChunk = Math.Max(1, ChunkBytes / src.ElementSize);
            for (long start = 0; start < flat.NumberOfElements; start += perChunk)
            {
                long count = Math.Min(perChunk, flat.NumberOfElements - start);
                using var chunk = flat.narrow(0, start, count);
                destination.Write(chunk.bytes);
            }
        }
        finally
        {
            dense?.Dispose();
            cpu?.Dispose();
        }
    }

    /// <summary>Copies bytes into a new contiguous CPU tensor of the given dtype and shape.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType dtype, long[] shape)
    {
        var t = empty(shape, dtype);
        if (t.NumberOfElements == 0) return t;
        if (bytes.Length != t.NumberOfElements * t.ElementSize)
        {
            t.Dispose();
            throw new InvalidOperationException("byte count does not match the tensor size");
        }
        using var flat = t.reshape(-1);
        long perChunk = Math.Max(1, ChunkBytes / t.ElementSize);
        for (long start = 0; start < flat.NumberOfElements; start += perChunk)
        {
            long count = Math.Min(perChunk, flat.NumberOfElements - start);
            using var chunk = flat.narrow(0, start, count);
            bytes.Slice((int)(start * t.ElementSize), (int)(count * t.ElementSize)).CopyTo(chunk.bytes);
        }
        return t;
    }

    public static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        ScalarType.Int8 or ScalarType.Byte or ScalarType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unsupported dtype"),
    };

    /// <summary>Product of the dims, or null when it overflows a long.</summary>
    public static long? Numel(IReadOnlyList<long> shape)
    {
        long n = 1;
        try { foreach (var d in shape) n = checked(n * d); }
        catch (OverflowException) { return null; }
        return n;
    }

    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
