// Marks one GLIBCXX version requirement of an ELF shared library as weak and clears the version
// of one symbol, so glibc's loader accepts the library on a libstdc++ that lacks that version.
// Why and how: README.md "TorchSharp on Debian 12". Usage: dotnet run ElfPatch.cs -- FILE VERSION SYMBOL
using System.Buffers.Binary;
using System.Text;

if (args.Length != 3) { Console.Error.WriteLine("usage: ElfPatch FILE VERSION SYMBOL"); return 2; }
string path = args[0], version = args[1], symbol = args[2];
byte[] elf = File.ReadAllBytes(path);
if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
{ Console.Error.WriteLine($"error: {path} is not a 64-bit little-endian ELF file"); return 1; }

ulong U64(long o) => BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan((int)o));
uint U32(long o) => BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)o));
ushort U16(long o) => BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan((int)o));
string Str(long o) { int e = (int)o; while (elf[e] != 0) e++; return Encoding.ASCII.GetString(elf, (int)o, e - (int)o); }

long shoff = (long)U64(0x28); int shentsize = U16(0x3A), shnum = U16(0x3C);
(uint type, long off, long size, uint link, long entsize) Sec(int i)
{ long b = shoff + (long)i * shentsize; return (U32(b + 4), (long)U64(b + 0x18), (long)U64(b + 0x20), U32(b + 0x28), (long)U64(b + 0x38)); }

const uint SHT_DYNSYM = 11, SHT_GNU_verneed = 0x6ffffffe, SHT_GNU_versym = 0x6fffffff;
int verneed = -1, versym = -1, dynsym = -1;
for (int i = 0; i < shnum; i++)
{
    var t = Sec(i).type;
    if (t == SHT_GNU_verneed) verneed = i; else if (t == SHT_GNU_versym) versym = i; else if (t == SHT_DYNSYM) dynsym = i;
}
if (verneed < 0 || versym < 0 || dynsym < 0) { Console.Error.WriteLine("error: no symbol versioning sections"); return 1; }

// 1. Walk Elf64_Verneed -> Elf64_Vernaux; set VER_FLG_WEAK on the named requirement, note its index.
var vn = Sec(verneed); long strtab = Sec((int)vn.link).off;
int versionIndex = -1; long p = vn.off;
while (true)
{
    ushort cnt = U16(p + 2); uint aux = U32(p + 8), next = U32(p + 12);
    long a = p + aux;
    for (int k = 0; k < cnt; k++)
    {
        ushort flags = U16(a + 4), other = U16(a + 6); uint name = U32(a + 8), anext = U32(a + 12);
        if (Str(strtab + name) == version)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan((int)a + 4), (ushort)(flags | 0x2));
            versionIndex = other;
        }
        a += anext;
    }
    if (next == 0) break;
    p += next;
}
if (versionIndex < 0) { Console.Error.WriteLine($"error: {path} does not require {version}"); return 1; }

// 2. Find the symbol in .dynsym; its .gnu.version entry becomes 1 (global, unversioned).
var ds = Sec(dynsym); long dstr = Sec((int)ds.link).off; var vs = Sec(versym);
int found = 0;
for (long i = 0; i < ds.size / ds.entsize; i++)
{
    long s = ds.off + i * ds.entsize;
    if (Str(dstr + U32(s)) != symbol) continue;
    BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan((int)(vs.off + i * 2)), 1);
    found++;
}
if (found == 0) { Console.Error.WriteLine($"error: symbol {symbol} not in .dynsym"); return 1; }

string tmp = path + ".tmp";
File.WriteAllBytes(tmp, elf);
File.Move(tmp, path, overwrite: true);
Console.WriteLine($"patched {Path.GetFileName(path)}: {version} weak, {symbol} unversioned");
return 0;
