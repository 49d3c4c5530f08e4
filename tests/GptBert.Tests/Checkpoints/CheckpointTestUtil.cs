using System.Buffers.Binary;
using System.Text;

namespace GptBert.Tests.Checkpoints;

/// <summary>Byte-level helpers that follow the published safetensors layout, independent of the code under test.</summary>
static class CheckpointTestUtil
{
    public static string TempDir(string name) => TestUtil.TempDir(name);

    /// <summary>8-byte little-endian header length, the JSON header, then the data buffer.</summary>
    public static byte[] SafetensorsFile(string headerJson, byte[] data, ulong? headerLengthOverride = null)
    {
        var json = Encoding.UTF8.GetBytes(headerJson);
        var file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerLengthOverride ?? (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        return file;
    }

    public static byte[] F32(params float[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(i * 4), v[i]);
        return b;
    }

    public static byte[] F64(params double[] v)
    {
        var b = new byte[v.Length * 8];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(i * 8), v[i]);
        return b;
    }

    public static byte[] I64(params long[] v)
    {
        var b = new byte[v.Length * 8];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(i * 8), v[i]);
        return b;
    }

    public static byte[] I32(params int[] v)
    {
        var b = new byte[v.Length * 4];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(i * 4), v[i]);
        return b;
    }

    /// <summary>16-bit words (IEEE half or bfloat16 bit patterns, or int16) little-endian.</summary>
    public static byte[] U16(params ushort[] v)
    {
        var b = new byte[v.Length * 2];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(i * 2), v[i]);
        return b;
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
