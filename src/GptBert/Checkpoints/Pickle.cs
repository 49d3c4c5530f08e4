using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace GptBert.Checkpoints;

/// <summary>A Python global (module + name) named by a GLOBAL / STACK_GLOBAL opcode.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A Python tuple.</summary>
internal sealed class PyTuple(object?[] items)
{
    public object?[] Items { get; } = items;
    public int Count => Items.Length;
    public object? this[int i] => Items[i];
}

/// <summary>A Python dict / OrderedDict, keeping insertion order.</summary>
internal sealed class PyDict
{
    readonly List<KeyValuePair<object, object?>> items = [];
    readonly Dictionary<object, int> index = [];

    public IReadOnlyList<KeyValuePair<object, object?>> Items => items;

    public void Set(object? key, object? value)
    {
        if (key is null) throw new PickleException("dict key is None");
        if (index.TryGetValue(key, out int i)) items[i] = new(key, value);
        else { index[key] = items.Count; items.Add(new(key, value)); }
    }
}

internal sealed class PickleException(string message) : Exception(message);

/// <summary>
/// A restricted unpickler (binary protocols 2–5, the subset <c>torch.save</c> emits, see Python's
/// Lib/pickletools.py for the opcode definitions). It never imports or calls arbitrary Python
/// objects: GLOBAL only yields a <see cref="PyGlobal"/> marker, and REDUCE / NEWOBJ / BUILD /
/// BINPERSID are delegated to the callbacks, which decide what is allowed.
/// </summary>
internal sealed class Unpickler(
    byte[] data,
    Func<PyGlobal, PyTuple, object?> reduce,
    Func<object?, object?> persistentLoad,
    Action<object?, object?> build)
{
    static readonly object Mark = new();
    int pos;
    readonly List<object?> stack = [];
    readonly List<int> marks = [];
    readonly Dictionary<long, object?> memo = [];

    public object? Load()
    {
        while (true)
        {
            if (pos >= data.Length) throw new PickleException("pickle ends without a STOP opcode");
            int at = pos;
            byte op = data[pos++];
            switch (op)
            {
                case 0x80: ReadByte(); break;                                   // PROTO
                case 0x95: ReadBytes(8); break;                                 // FRAME (framing is only a read hint)
                case (byte)'.': return Pop();                                   // STOP
                case (byte)'(': marks.Add(stack.Count); break;                  // MARK
                case (byte)'0': Pop(); break;                                   // POP
                case (byte)'1': PopMark(); break;                               // POP_MARK
                case (byte)'2': Push(Peek()); break;                            // DUP
                case (byte)'N': Push(null); break;                              // NONE
                case 0x88: Push(true); break;                                   // NEWTRUE
                case 0x89: Push(false); break;                                  // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;   // BININT
                case (byte)'K': Push((long)ReadByte()); break;                  // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;  // BININT2
                case 0x8a: Push(DecodeLong(ReadBytes(ReadByte()))); break;      // LONG1
                case 0x8b: Push(DecodeLong(ReadBytes(ReadLength(4)))); break;   // LONG4
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;            // BINFLOAT
                case (byte)'X': Push(Utf8(ReadBytes(ReadLength(4)))); break;    // BINUNICODE
                case 0x8c: Push(Utf8(ReadBytes(ReadByte()))); break;            // SHORT_BINUNICODE
                case 0x8d: Push(Utf8(ReadBytes(ReadLength(8)))); break;         // BINUNICODE8
                case (byte)'T': Push(Latin1(ReadBytes(ReadLength(4)))); break;  // BINSTRING
                case (byte)'U': Push(Latin1(ReadBytes(ReadByte()))); break;     // SHORT_BINSTRING
                case (byte)'B': Push(ReadBytes(ReadLength(4)).ToArray()); break;   // BINBYTES
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break;      // SHORT_BINBYTES
                case 0x8e: Push(ReadBytes(ReadLength(8)).ToArray()); break;        // BINBYTES8
                case (byte)')': Push(new PyTuple([])); break;                   // EMPTY_TUPLE
                case (byte)'t': Push(new PyTuple(PopMark().ToArray())); break;  // TUPLE
                case 0x85: { var a = Pop(); Push(new PyTuple([a])); break; }    // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PyTuple([a, b])); break; }                  // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PyTuple([a, b, c])); break; } // TUPLE3
                case (byte)']': Push(new List<object?>()); break;               // EMPTY_LIST
                case (byte)'l': Push(PopMark()); break;                         // LIST
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; }                 // APPEND
                case (byte)'e': { var vs = PopMark(); AsList(Peek()).AddRange(vs); break; }      // APPENDS
                case (byte)'}': Push(new PyDict()); break;                      // EMPTY_DICT
                case (byte)'d':                                                 // DICT
                {
                    var kv = PopMark();
                    var d = new PyDict();
                    for (int i = 0; i + 1 < kv.Count; i += 2) d.Set(kv[i], kv[i + 1]);
                    Push(d);
                    break;
                }
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek()).Set(k, v); break; }   // SETITEM
                case (byte)'u':                                                 // SETITEMS
                {
                    var kv = PopMark();
                    var d = AsDict(Peek());
                    for (int i = 0; i + 1 < kv.Count; i += 2) d.Set(kv[i], kv[i + 1]);
                    break;
                }
                case (byte)'c':                                                 // GLOBAL "module\nname\n"
                {
                    string module = ReadLine(), name = ReadLine();
                    Push(new PyGlobal(module, name));
                    break;
                }
                case 0x93:                                                      // STACK_GLOBAL
                {
                    var name = Pop() as string; var module = Pop() as string;
                    if (module is null || name is null) throw new PickleException($"STACK_GLOBAL at byte {at} without two strings");
                    Push(new PyGlobal(module, name));
                    break;
                }
                case (byte)'R':                                                 // REDUCE
                {
                    var args = Pop() as PyTuple ?? throw new PickleException($"REDUCE at byte {at} without an argument tuple");
                    var func = Pop() as PyGlobal ?? throw new PickleException($"REDUCE at byte {at} calls something that is not a global");
                    Push(reduce(func, args));
                    break;
                }
                case 0x81:                                                      // NEWOBJ
                {
                    var args = Pop() as PyTuple ?? throw new PickleException($"NEWOBJ at byte {at} without an argument tuple");
                    var cls = Pop() as PyGlobal ?? throw new PickleException($"NEWOBJ at byte {at} on something that is not a class");
                    Push(reduce(cls, args));
                    break;
                }
                case (byte)'b': { var state = Pop(); build(Peek(), state); break; }  // BUILD
                case (byte)'Q': Push(persistentLoad(Pop())); break;             // BINPERSID
                case (byte)'q': memo[ReadByte()] = Peek(); break;               // BINPUT
                case (byte)'r': memo[ReadLength(4)] = Peek(); break;            // LONG_BINPUT
                case 0x94: memo[memo.Count] = Peek(); break;                    // MEMOIZE
                case (byte)'h': Push(Get(ReadByte(), at)); break;               // BINGET
                case (byte)'j': Push(Get(ReadLength(4), at)); break;            // LONG_BINGET
                default:
                    throw new PickleException($"unsupported pickle opcode 0x{op:x2} at byte {at}");
            }
        }
    }

    object? Get(long key, int at) =>
        memo.TryGetValue(key, out var v) ? v : throw new PickleException($"memo key {key} used at byte {at} was never stored");

    void Push(object? o) => stack.Add(o);

    object? Peek()
    {
        if (stack.Count == 0 || (marks.Count > 0 && marks[^1] == stack.Count)) throw new PickleException($"stack underflow at byte {pos - 1}");
        return stack[^1];
    }

    object? Pop()
    {
        var o = Peek();
        stack.RemoveAt(stack.Count - 1);
        return o;
    }

    List<object?> PopMark()
    {
        if (marks.Count == 0) throw new PickleException($"missing MARK before byte {pos - 1}");
        int start = marks[^1];
        marks.RemoveAt(marks.Count - 1);
        var items = stack.GetRange(start, stack.Count - start);
        stack.RemoveRange(start, stack.Count - start);
        return items;
    }

    static List<object?> AsList(object? o) => o as List<object?> ?? throw new PickleException("APPEND on something that is not a list");
    static PyDict AsDict(object? o) => o as PyDict ?? throw new PickleException("SETITEM on something that is not a dict");

    byte ReadByte()
    {
        if (pos >= data.Length) throw new PickleException("pickle ends in the middle of an opcode");
        return data[pos++];
    }

    ReadOnlySpan<byte> ReadBytes(long count)
    {
        if (count < 0 || count > data.Length - pos) throw new PickleException("pickle ends in the middle of an opcode");
        var span = data.AsSpan(pos, (int)count);
        pos += (int)count;
        return span;
    }

    long ReadLength(int width)
    {
        var b = ReadBytes(width);
        long v = width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(b) : (long)BinaryPrimitives.ReadUInt64LittleEndian(b);
        if (v < 0) throw new PickleException("negative length in pickle");
        return v;
    }

    string ReadLine()
    {
        int end = Array.IndexOf(data, (byte)'\n', pos);
        if (end < 0) throw new PickleException("pickle ends in the middle of a GLOBAL");
        var s = Encoding.UTF8.GetString(data, pos, end - pos);
        pos = end + 1;
        return s;
    }

    static string Utf8(ReadOnlySpan<byte> b) => Encoding.UTF8.GetString(b);
    static string Latin1(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    /// <summary>Little-endian two's complement, as LONG1/LONG4 store it; long when it fits, else BigInteger.</summary>
    static object DecodeLong(ReadOnlySpan<byte> b)
    {
        if (b.Length == 0) return 0L;
        var big = new BigInteger(b, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (long)big : big;
    }
}
