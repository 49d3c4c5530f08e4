using System.Text;
using System.Text.RegularExpressions;

namespace GptBert.Data;

/// <summary>
/// Turns "a file, a folder or a glob" into a sorted list of files. Globs understand <c>*</c> and <c>?</c>
/// (within one path segment) and <c>**</c> (any number of folders, including none), so
/// <c>data/**/*.txt</c> matches <c>data/a.txt</c> and <c>data/x/y/b.txt</c>. Hidden files and folders
/// (names starting with '.') are skipped unless named explicitly. The order is ordinal by relative path,
/// so it is the same on every machine.
/// </summary>
public static class FileSet
{
    /// <summary>True when <paramref name="path"/> contains a glob wildcard (<c>*</c> or <c>?</c>).</summary>
    public static bool IsGlob(string path) => path.IndexOfAny(['*', '?']) >= 0;

    /// <summary>
    /// The files named by <paramref name="pathOrFolderOrGlob"/>: the file itself; for a folder, the files whose
    /// name matches <paramref name="folderFilePattern"/> in it and its subfolders; for a glob, the files it matches.
    /// Paths come back as the caller spelled them (relative stays relative). Throws when nothing matches.
    /// </summary>
    public static IReadOnlyList<string> Resolve(string pathOrFolderOrGlob, string folderFilePattern = "*.txt")
    {
        if (string.IsNullOrWhiteSpace(pathOrFolderOrGlob))
            throw new GptBertException("no corpus path given; pass a file, a folder or a glob such as data/**/*.txt");
        var spec = pathOrFolderOrGlob;
        if (!IsGlob(spec))
        {
            if (File.Exists(spec)) return [spec];
            if (Directory.Exists(spec))
            {
                var nameRegex = SegmentRegex(folderFilePattern);
                var found = Walk(spec).Where(rel => nameRegex.IsMatch(rel[(rel.LastIndexOf('/') + 1)..])).ToList();
                if (found.Count == 0)
                    throw new GptBertException($"{spec}: no {folderFilePattern} files in this folder or its subfolders; pass a file, or a glob such as '{Path.Combine(spec, "**", "*.md")}'");
                return Finish(spec, found);
            }
            throw new GptBertException($"{spec}: no such file or folder; check the path");
        }

        var segments = spec.Replace('\\', '/').Split('/');
        int firstWild = Array.FindIndex(segments, IsGlob);
        string root = firstWild == 0 ? "" : string.Join('/', segments[..firstWild]);
        if (root == "" && spec.StartsWith('/')) root = "/";
        string baseDir = root == "" ? "." : root;
        if (!Directory.Exists(baseDir))
            throw new GptBertException($"{spec}: folder '{baseDir}' does not exist; check the path");
        var rest = segments[firstWild..];
        var regex = new Regex("^" + string.Join("", rest.Select((s, i) => SegmentPattern(s, last: i == rest.Length - 1))) + "$",
            OperatingSystem.IsWindows() ? RegexOptions.IgnoreCase | RegexOptions.CultureInvariant : RegexOptions.CultureInvariant);
        bool hiddenNamed = rest.Any(s => s.StartsWith('.'));
        var matches = Walk(baseDir, includeHidden: hiddenNamed).Where(r => regex.IsMatch(r)).ToList();
        if (matches.Count == 0)
            throw new GptBertException($"{spec}: no files match; check the pattern (** searches subfolders, e.g. data/**/*.txt)");
        return Finish(root, matches);
    }

    static List<string> Finish(string root, List<string> relative)
    {
        relative.Sort(StringComparer.Ordinal);
        return relative.Select(r => root == "" ? r.Replace('/', Path.DirectorySeparatorChar) : Path.Combine(root, r.Replace('/', Path.DirectorySeparatorChar))).ToList();
    }

    /// <summary>Relative paths ('/'-separated) of all files under <paramref name="dir"/>, hidden entries skipped.</summary>
    static IEnumerable<string> Walk(string dir, bool includeHidden = false)
    {
        var stack = new Stack<(string Full, string Rel)>();
        stack.Push((dir, ""));
        while (stack.Count > 0)
        {
            var (full, rel) = stack.Pop();
            IEnumerable<string> files, dirs;
            try
            {
                files = Directory.EnumerateFiles(full).ToList();
                dirs = Directory.EnumerateDirectories(full).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new GptBertException($"{full}: cannot list the folder ({e.Message.TrimEnd('.')}); check its permissions", e);
            }
            foreach (var f in files)
            {
                var name = Path.GetFileName(f);
                if (!includeHidden && name.StartsWith('.')) continue;
                yield return rel + name;
            }
            foreach (var d in dirs)
            {
                var name = Path.GetFileName(d);
                if (!includeHidden && name.StartsWith('.')) continue;
                if (new DirectoryInfo(d).LinkTarget is not null) continue;   // don't follow folder links (cycles)
                stack.Push((d, rel + name + "/"));
            }
        }
    }

    static Regex SegmentRegex(string pattern) =>
        new("^" + Wildcards(pattern) + "$", OperatingSystem.IsWindows() ? RegexOptions.IgnoreCase | RegexOptions.CultureInvariant : RegexOptions.CultureInvariant);

    static string SegmentPattern(string segment, bool last)
    {
        if (segment == "**") return last ? ".*" : "(?:[^/]+/)*";
        return Wildcards(segment) + (last ? "" : "/");
    }

    static string Wildcards(string segment)
    {
        var sb = new StringBuilder();
        foreach (var c in segment)
            sb.Append(c switch { '*' => "[^/]*", '?' => "[^/]", _ => Regex.Escape(c.ToString()) });
        return sb.ToString();
    }
}
