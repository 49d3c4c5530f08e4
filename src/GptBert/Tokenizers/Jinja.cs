using System.Globalization;
using System.Text;
using System.Text.Json;

namespace GptBert.Tokenizers;

/// <summary>
/// The subset of Jinja2 that Hugging Face chat templates use, with the environment transformers renders them in
/// (trim_blocks, lstrip_blocks, loop controls). Supported: text, <c>{{ }}</c>, <c>{# #}</c>, <c>-</c>/<c>+</c> whitespace
/// control; <c>if/elif/else</c>, <c>for ... in ... [if ...]</c> (with <c>loop.*</c>, tuple targets, <c>else</c>),
/// <c>set</c> (names and <c>namespace</c> attributes), <c>break</c>, <c>continue</c>, <c>generation</c>; literals
/// (strings, numbers, true/false/none, lists, dicts), attribute and item access, slices, calls, filters, tests,
/// arithmetic, <c>~</c>, comparisons, <c>in</c>, <c>and/or/not</c>, <c>x if c else y</c>; the string, list and dict
/// methods templates call. Anything else (macros, call/filter blocks, includes, ...) is refused at parse time with a
/// one-line <see cref="GptBertException"/> naming it.
/// </summary>
internal static class Jinja
{
    public static Template Parse(string source) => new Parser(Lex(source)).ParseTemplate();

    // ---------------------------------------------------------------- values

    /// <summary>Jinja's undefined: falsy, prints as "", and anything read from it is undefined too.</summary>
    public sealed class Undefined
    {
        public static readonly Undefined Value = new();
        public override string ToString() => "";
    }

    /// <summary>The object <c>namespace(...)</c> returns: attributes a loop body can set.</summary>
    public sealed class Namespace : Dictionary<string, object?>
    {
        public Namespace() : base(StringComparer.Ordinal) { }
    }

    sealed class LoopControl(bool isBreak) : Exception { public bool IsBreak { get; } = isBreak; }

    /// <summary>Variables: a for loop's body gets a scope of its own (so its sets do not leak, as in Jinja2).</summary>
    public sealed class Scope(Scope? parent)
    {
        readonly Dictionary<string, object?> vars = new(StringComparer.Ordinal);
        readonly Scope? parent = parent;

        public object? Get(string name)
        {
            for (var s = this; s is not null; s = s.parent)
                if (s.vars.TryGetValue(name, out var v)) return v;
            return Undefined.Value;
        }

        public void Set(string name, object? value) => vars[name] = value;
    }

    public sealed class Template(List<Node> body)
    {
        public string Render(IReadOnlyDictionary<string, object?> variables)
        {
            var globals = new Scope(null);
            foreach (var (k, f) in Globals) globals.Set(k, f);
            foreach (var (k, v) in variables) globals.Set(k, v);
            var sb = new StringBuilder();
            Node.RenderAll(body, new Scope(globals), sb);
            return sb.ToString();
        }
    }

    // ---------------------------------------------------------------- lexing

    enum Kind { Text, Output, Block }

    sealed record Piece(Kind Kind, string Content, int Line);

    static List<Piece> Lex(string src)
    {
        var raw = new List<(Kind Kind, string Content, bool TrimLeft, bool TrimRight, bool KeepLeft, bool IsComment, int Line)>();
        int i = 0, line = 1;
        var text = new StringBuilder();
        while (i < src.Length)
        {
            if (src[i] == '{' && i + 1 < src.Length && src[i + 1] is '{' or '%' or '#')
            {
                char open = src[i + 1];
                string close = open switch { '{' => "}}", '%' => "%}", _ => "#}" };
                int start = i + 2;
                bool trimLeft = start < src.Length && src[start] == '-';
                bool keepLeft = start < src.Length && src[start] == '+';
                if (trimLeft || keepLeft) start++;
                int end = FindClose(src, start, close, line);
                bool trimRight = end > start && src[end - 1] == '-';
                string inner = src[start..(trimRight ? end - 1 : end)];
                raw.Add((Kind.Text, text.ToString(), false, false, false, false, line));
                text.Clear();
                raw.Add((open == '{' ? Kind.Output : Kind.Block, inner, trimLeft, trimRight, keepLeft, open == '#', line));
                line += src[i..(end + 2)].Count(c => c == '\n');
                i = end + 2;
                continue;
            }
            if (src[i] == '\n') line++;
            text.Append(src[i++]);
        }
        // keep_trailing_newline is off in Jinja2 by default: one newline at the very end of the template is dropped.
        if (text.Length > 0 && text[^1] == '\n') text.Length -= text.Length > 1 && text[^2] == '\r' ? 2 : 1;
        raw.Add((Kind.Text, text.ToString(), false, false, false, false, line));

        // Whitespace control, as Jinja2 applies it: '-' strips all whitespace on that side; lstrip_blocks strips the
        // spaces and tabs before a block or comment tag that starts its line; trim_blocks drops the first newline after one.
        var texts = raw.Select(r => r.Content).ToArray();
        for (int k = 0; k < raw.Count; k++)
        {
            var r = raw[k];
            if (r.Kind == Kind.Text) continue;
            if (r.TrimLeft) texts[k - 1] = texts[k - 1].TrimEnd();
            else if (r.Kind == Kind.Block && !r.KeepLeft)
            {
                // Judged on the source text (a newline that trim_blocks took from it still started this line).
                string before = raw[k - 1].Content;
                int nl = before.LastIndexOf('\n');
                bool lineStart = nl >= 0 || k - 1 == 0;
                if (lineStart && before[(nl + 1)..].All(c => c is ' ' or '\t')) texts[k - 1] = texts[k - 1].TrimEnd(' ', '\t');
            }
            if (r.TrimRight) texts[k + 1] = texts[k + 1].TrimStart();
            else if (r.Kind == Kind.Block)
            {
                string after = texts[k + 1];
                if (after.StartsWith("\r\n", StringComparison.Ordinal)) texts[k + 1] = after[2..];
                else if (after.StartsWith('\n')) texts[k + 1] = after[1..];
            }
        }
        var pieces = new List<Piece>();
        for (int k = 0; k < raw.Count; k++)
        {
            if (raw[k].IsComment) continue;
            if (raw[k].Kind == Kind.Text && texts[k].Length == 0) continue;
            pieces.Add(new Piece(raw[k].Kind, texts[k], raw[k].Line));
        }
        return pieces;
    }

    static int FindClose(string src, int from, string close, int line)
    {
        char? quote = null;
        for (int i = from; i + 1 < src.Length; i++)
        {
            char c = src[i];
            if (quote is not null)
            {
                if (c == '\\') i++;
                else if (c == quote) quote = null;
                continue;
            }
            if (close != "#}" && c is '\'' or '"') { quote = c; continue; }
            if (c == close[0] && src[i + 1] == close[1]) return i;
        }
        throw new GptBertException($"line {line}: a tag is not closed (missing '{close}')");
    }

    // ---------------------------------------------------------------- expression tokens

    enum T { Name, String, Int, Float, Op, End }

    sealed record Tok(T Type, string Text, object? Value = null);

    static readonly string[] Ops = ["==", "!=", "<=", ">=", "//", "**", "<", ">", "+", "-", "*", "/", "%", "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "="];

    static List<Tok> Tokenize(string s, int line)
    {
        var toks = new List<Tok>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (char.IsLetter(c) || c == '_')
            {
                int st = i;
                while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
                toks.Add(new Tok(T.Name, s[st..i]));
                continue;
            }
            if (char.IsDigit(c))
            {
                int st = i;
                while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '_')) i++;
                bool isFloat = i + 1 < s.Length && s[i] == '.' && char.IsDigit(s[i + 1]);
                if (isFloat) { i++; while (i < s.Length && char.IsDigit(s[i])) i++; }
                string num = s[st..i].Replace("_", "");
                toks.Add(isFloat ? new Tok(T.Float, num, double.Parse(num, CultureInfo.InvariantCulture)) : new Tok(T.Int, num, long.Parse(num, CultureInfo.InvariantCulture)));
                continue;
            }
            if (c is '\'' or '"')
            {
                var sb = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= s.Length) throw new GptBertException($"line {line}: a string literal is not closed");
                    char d = s[i++];
                    if (d == c) break;
                    if (d == '\\' && i < s.Length)
                    {
                        char e = s[i++];
                        sb.Append(e switch { 'n' => '\n', 't' => '\t', 'r' => '\r', '0' => '\0', _ => e });
                        continue;
                    }
                    sb.Append(d);
                }
                toks.Add(new Tok(T.String, sb.ToString(), sb.ToString()));
                continue;
            }
            var op = Ops.FirstOrDefault(o => string.CompareOrdinal(s, i, o, 0, o.Length) == 0)
                ?? throw new GptBertException($"line {line}: unexpected character '{c}' in a tag");
            toks.Add(new Tok(T.Op, op));
            i += op.Length;
        }
        toks.Add(new Tok(T.End, ""));
        return toks;
    }

    // ---------------------------------------------------------------- nodes

    public abstract class Node
    {
        public abstract void Render(Scope scope, StringBuilder sb);

        public static void RenderAll(List<Node> nodes, Scope scope, StringBuilder sb)
        {
            foreach (var n in nodes) n.Render(scope, sb);
        }
    }

    sealed class TextNode(string text) : Node
    {
        public override void Render(Scope scope, StringBuilder sb) => sb.Append(text);
    }

    sealed class OutputNode(Func<Scope, object?> expr) : Node
    {
        public override void Render(Scope scope, StringBuilder sb) => sb.Append(Str(expr(scope)));
    }

    sealed class IfNode(List<(Func<Scope, object?> Cond, List<Node> Body)> branches, List<Node>? otherwise) : Node
    {
        public override void Render(Scope scope, StringBuilder sb)
        {
            foreach (var (cond, body) in branches)
                if (Truthy(cond(scope))) { RenderAll(body, scope, sb); return; }
            if (otherwise is not null) RenderAll(otherwise, scope, sb);
        }
    }

    sealed class ForNode(string[] targets, Func<Scope, object?> iterable, Func<Scope, object?>? filter, List<Node> body, List<Node>? otherwise) : Node
    {
        public override void Render(Scope scope, StringBuilder sb)
        {
            var all = Iterate(iterable(scope)).ToList();
            if (filter is not null)
                all = all.Where(item => { var s = new Scope(scope); Bind(s, item); return Truthy(filter(s)); }).ToList();
            if (all.Count == 0) { if (otherwise is not null) RenderAll(otherwise, scope, sb); return; }
            for (int i = 0; i < all.Count; i++)
            {
                var s = new Scope(scope);
                Bind(s, all[i]);
                s.Set("loop", new Dictionary<string, object?>
                {
                    ["index"] = (long)i + 1, ["index0"] = (long)i, ["revindex"] = (long)(all.Count - i), ["revindex0"] = (long)(all.Count - i - 1),
                    ["first"] = i == 0, ["last"] = i == all.Count - 1, ["length"] = (long)all.Count,
                    ["previtem"] = i > 0 ? all[i - 1] : Undefined.Value, ["nextitem"] = i + 1 < all.Count ? all[i + 1] : Undefined.Value,
                });
                try { RenderAll(body, s, sb); }
                catch (LoopControl c) { if (c.IsBreak) break; }
            }
        }

        void Bind(Scope s, object? item)
        {
            if (targets.Length == 1) { s.Set(targets[0], item); return; }
            var parts = Iterate(item).ToList();
            if (parts.Count != targets.Length) throw new GptBertException($"cannot unpack {parts.Count} values into {targets.Length} loop variables");
            for (int k = 0; k < targets.Length; k++) s.Set(targets[k], parts[k]);
        }
    }

    sealed class SetNode(string name, string? attribute, Func<Scope, object?> value) : Node
    {
        public override void Render(Scope scope, StringBuilder sb)
        {
            var v = value(scope);
            if (attribute is null) { scope.Set(name, v); return; }
            if (scope.Get(name) is Namespace ns) ns[attribute] = v;
            else throw new GptBertException($"cannot set '{name}.{attribute}': '{name}' is not a namespace()");
        }
    }

    sealed class LoopControlNode(bool isBreak) : Node
    {
        public override void Render(Scope scope, StringBuilder sb) => throw new LoopControl(isBreak);
    }

    sealed class BodyNode(List<Node> body) : Node
    {
        public override void Render(Scope scope, StringBuilder sb) => RenderAll(body, scope, sb);
    }

    // ---------------------------------------------------------------- parsing

    sealed class Parser(List<Piece> pieces)
    {
        int at;

        public Template ParseTemplate()
        {
            var body = ParseBody(out var end);
            if (end is not null) throw new GptBertException($"line {pieces[at - 1].Line}: unexpected {{% {end} %}}");
            return new Template(body);
        }

        /// <summary>Nodes up to a block tag this level does not own; returns that tag's first word (null at the end).</summary>
        List<Node> ParseBody(out string? endTag)
        {
            var nodes = new List<Node>();
            while (at < pieces.Count)
            {
                var p = pieces[at++];
                switch (p.Kind)
                {
                    case Kind.Text: nodes.Add(new TextNode(p.Content)); break;
                    case Kind.Output:
                        var ex = new ExprParser(Tokenize(p.Content, p.Line), p.Line);
                        nodes.Add(new OutputNode(ex.ParseAll()));
                        break;
                    default:
                        var toks = Tokenize(p.Content, p.Line);
                        if (toks[0].Type != T.Name) throw new GptBertException($"line {p.Line}: empty or malformed block tag {{% {p.Content.Trim()} %}}");
                        string word = toks[0].Text;
                        switch (word)
                        {
                            case "if": nodes.Add(ParseIf(toks, p.Line)); break;
                            case "for": nodes.Add(ParseFor(toks, p.Line)); break;
                            case "set": nodes.Add(ParseSet(toks, p.Line)); break;
                            case "break" or "continue": nodes.Add(new LoopControlNode(word == "break")); break;
                            case "generation":
                                var inner = ParseBody(out var e);
                                if (e != "endgeneration") throw Unclosed("generation", p.Line);
                                nodes.Add(new BodyNode(inner));
                                break;
                            case "elif" or "else" or "endif" or "endfor" or "endgeneration":
                                endTag = word;
                                lastTag = toks;
                                return nodes;
                            default:
                                throw new GptBertException($"line {p.Line}: chat template uses {{% {word} %}}, which is outside the Jinja subset GptBert supports (if, for, set, break, continue, generation)");
                        }
                        break;
                }
            }
            endTag = null;
            return nodes;
        }

        List<Tok> lastTag = [];

        static GptBertException Unclosed(string what, int line) => new($"line {line}: {{% {what} %}} is not closed");

        Node ParseIf(List<Tok> toks, int line)
        {
            var branches = new List<(Func<Scope, object?>, List<Node>)>();
            List<Node>? otherwise = null;
            var cond = new ExprParser(toks, line, 1).ParseAll();
            while (true)
            {
                var body = ParseBody(out var end);
                branches.Add((cond, body));
                if (end == "elif") { cond = new ExprParser(lastTag, line, 1).ParseAll(); continue; }
                if (end == "else")
                {
                    otherwise = ParseBody(out end);
                    if (end != "endif") throw Unclosed("if", line);
                    break;
                }
                if (end == "endif") break;
                throw Unclosed("if", line);
            }
            return new IfNode(branches, otherwise);
        }

        Node ParseFor(List<Tok> toks, int line)
        {
            var targets = new List<string>();
            int i = 1;
            while (true)
            {
                if (toks[i].Type != T.Name) throw new GptBertException($"line {line}: expected a loop variable after 'for'");
                targets.Add(toks[i++].Text);
                if (toks[i] is { Type: T.Op, Text: "," }) { i++; continue; }
                break;
            }
            if (toks[i] is not { Type: T.Name, Text: "in" }) throw new GptBertException($"line {line}: expected 'in' in {{% for %}}");
            var ex = new ExprParser(toks, line, i + 1);
            var iterable = ex.ParseOr(allowConditional: false);
            Func<Scope, object?>? filter = null;
            if (ex.Peek is { Type: T.Name, Text: "if" }) { ex.Next(); filter = ex.ParseOr(allowConditional: false); }
            if (ex.Peek is { Type: T.Name, Text: "recursive" }) throw new GptBertException($"line {line}: chat template uses a recursive for loop, which is outside the Jinja subset GptBert supports");
            ex.ExpectEnd();
            var body = ParseBody(out var end);
            List<Node>? otherwise = null;
            if (end == "else") otherwise = ParseBody(out end);
            if (end != "endfor") throw Unclosed("for", line);
            return new ForNode([.. targets], iterable, filter, body, otherwise);
        }

        Node ParseSet(List<Tok> toks, int line)
        {
            if (toks[1].Type != T.Name) throw new GptBertException($"line {line}: expected a name after 'set'");
            string name = toks[1].Text;
            string? attr = null;
            int i = 2;
            if (toks[i] is { Type: T.Op, Text: "." }) { attr = toks[i + 1].Text; i += 2; }
            if (toks[i] is not { Type: T.Op, Text: "=" })
                throw new GptBertException($"line {line}: chat template uses a block {{% set {name} %}}...{{% endset %}} or a tuple assignment, which is outside the Jinja subset GptBert supports");
            return new SetNode(name, attr, new ExprParser(toks, line, i + 1).ParseAll());
        }
    }

    sealed class ExprParser(List<Tok> toks, int line, int start = 0)
    {
        int i = start;
        public Tok Peek => toks[i];
        public Tok Next() => toks[i++];
        bool IsOp(string op) => toks[i].Type == T.Op && toks[i].Text == op;
        bool IsName(string name) => toks[i].Type == T.Name && toks[i].Text == name;
        void Expect(string op)
        {
            if (!IsOp(op)) throw Error($"expected '{op}'");
            i++;
        }
        GptBertException Error(string what) => new($"line {line}: {what} at '{(toks[i].Type == T.End ? "end of tag" : toks[i].Text)}'");

        public void ExpectEnd() { if (toks[i].Type != T.End) throw Error("unexpected token"); }

        public Func<Scope, object?> ParseAll()
        {
            var e = ParseExpr();
            ExpectEnd();
            return e;
        }

        Func<Scope, object?> ParseExpr() => ParseOr(allowConditional: true);

        public Func<Scope, object?> ParseOr(bool allowConditional)
        {
            var left = ParseOrOnly();
            if (allowConditional && IsName("if"))
            {
                i++;
                var cond = ParseOrOnly();
                Func<Scope, object?>? otherwise = null;
                if (IsName("else")) { i++; otherwise = ParseOr(allowConditional: true); }
                var l = left;
                return s => Truthy(cond(s)) ? l(s) : otherwise is null ? Undefined.Value : otherwise(s);
            }
            return left;
        }

        Func<Scope, object?> ParseOrOnly()
        {
            var left = ParseAnd();
            while (IsName("or")) { i++; var l = left; var r = ParseAnd(); left = s => l(s) is var a && Truthy(a) ? a : r(s); }
            return left;
        }

        Func<Scope, object?> ParseAnd()
        {
            var left = ParseNot();
            while (IsName("and")) { i++; var l = left; var r = ParseNot(); left = s => l(s) is var a && !Truthy(a) ? a : r(s); }
            return left;
        }

        Func<Scope, object?> ParseNot()
        {
            if (IsName("not")) { i++; var e = ParseNot(); return s => !Truthy(e(s)); }
            return ParseCompare();
        }

        Func<Scope, object?> ParseCompare()
        {
            var left = ParseMath1();
            while (true)
            {
                string? op = toks[i] switch
                {
                    { Type: T.Op, Text: "==" or "!=" or "<" or ">" or "<=" or ">=" } t => t.Text,
                    { Type: T.Name, Text: "in" } => "in",
                    { Type: T.Name, Text: "not" } when toks[i + 1] is { Type: T.Name, Text: "in" } => "not in",
                    _ => null,
                };
                if (op is null) return left;
                i += op == "not in" ? 2 : 1;
                var l = left; var r = ParseMath1();
                left = op switch
                {
                    "==" => s => ValueEquals(l(s), r(s)),
                    "!=" => s => !ValueEquals(l(s), r(s)),
                    "in" => s => Contains(r(s), l(s)),
                    "not in" => s => !Contains(r(s), l(s)),
                    _ => s => Compare(l(s), r(s), op),
                };
            }
        }

        Func<Scope, object?> ParseMath1()
        {
            var left = ParseConcat();
            while (IsOp("+") || IsOp("-"))
            {
                string op = Next().Text; var l = left; var r = ParseConcat();
                left = op == "+" ? s => Add(l(s), r(s)) : s => Arith(l(s), r(s), "-");
            }
            return left;
        }

        Func<Scope, object?> ParseConcat()
        {
            var left = ParseMath2();
            while (IsOp("~")) { i++; var l = left; var r = ParseMath2(); left = s => Str(l(s)) + Str(r(s)); }
            return left;
        }

        Func<Scope, object?> ParseMath2()
        {
            var left = ParsePow();
            while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))
            {
                string op = Next().Text; var l = left; var r = ParsePow();
                left = s => Arith(l(s), r(s), op);
            }
            return left;
        }

        Func<Scope, object?> ParsePow()
        {
            var left = ParseUnary();
            while (IsOp("**")) { i++; var l = left; var r = ParseUnary(); left = s => Arith(l(s), r(s), "**"); }
            return left;
        }

        Func<Scope, object?> ParseUnary()
        {
            if (IsOp("-")) { i++; var e = ParseUnary(); return s => Arith(0L, e(s), "-"); }
            if (IsOp("+")) { i++; return ParseUnary(); }
            var prim = ParsePostfix(ParsePrimary());
            return ParseFilters(prim);
        }

        Func<Scope, object?> ParsePrimary()
        {
            var t = Next();
            switch (t.Type)
            {
                case T.String:
                    // Adjacent string literals concatenate, as in Python.
                    string str = (string)t.Value!;
                    while (toks[i].Type == T.String) str += (string)Next().Value!;
                    return _ => str;
                case T.Int or T.Float: { var v = t.Value; return _ => v; }
                case T.Name:
                    switch (t.Text)
                    {
                        case "true" or "True": return _ => true;
                        case "false" or "False": return _ => false;
                        case "none" or "None": return _ => null;
                    }
                    string name = t.Text;
                    return s => s.Get(name);
                case T.Op when t.Text == "(":
                {
                    var e = ParseExpr();
                    if (IsOp(","))
                    {
                        var items = new List<Func<Scope, object?>> { e };
                        while (IsOp(",")) { i++; if (IsOp(")")) break; items.Add(ParseExpr()); }
                        Expect(")");
                        return s => items.Select(x => x(s)).ToList();
                    }
                    Expect(")");
                    return e;
                }
                case T.Op when t.Text == "[":
                {
                    var items = new List<Func<Scope, object?>>();
                    while (!IsOp("]")) { items.Add(ParseExpr()); if (!IsOp(",")) break; i++; }
                    Expect("]");
                    return s => items.Select(x => x(s)).ToList();
                }
                case T.Op when t.Text == "{":
                {
                    var items = new List<(Func<Scope, object?>, Func<Scope, object?>)>();
                    while (!IsOp("}")) { var k = ParseExpr(); Expect(":"); items.Add((k, ParseExpr())); if (!IsOp(",")) break; i++; }
                    Expect("}");
                    return s => items.ToDictionary(x => Str(x.Item1(s)), x => x.Item2(s));
                }
            }
            i--;
            throw Error("expected a value");
        }

        Func<Scope, object?> ParsePostfix(Func<Scope, object?> e)
        {
            while (true)
            {
                if (IsOp("."))
                {
                    i++;
                    if (toks[i].Type != T.Name) throw Error("expected an attribute name");
                    string name = Next().Text;
                    if (IsOp("("))
                    {
                        var (args, kwargs) = ParseArgs();
                        var target = e;
                        e = s => CallMethod(target(s), name, args.Select(a => a(s)).ToList(), kwargs.ToDictionary(k => k.Key, k => k.Value(s)), line);
                    }
                    else { var target = e; e = s => GetAttr(target(s), name); }
                }
                else if (IsOp("["))
                {
                    i++;
                    Func<Scope, object?>? a = null, b = null, c = null;
                    bool slice = false;
                    if (!IsOp(":")) a = ParseExpr();
                    if (IsOp(":"))
                    {
                        slice = true; i++;
                        if (!IsOp("]") && !IsOp(":")) b = ParseExpr();
                        if (IsOp(":")) { i++; if (!IsOp("]")) c = ParseExpr(); }
                    }
                    Expect("]");
                    var target = e;
                    e = slice ? s => Slice(target(s), a?.Invoke(s), b?.Invoke(s), c?.Invoke(s)) : s => GetItem(target(s), a!(s));
                }
                else if (IsOp("("))
                {
                    var (args, kwargs) = ParseArgs();
                    var target = e;
                    e = s => CallFunction(target(s), args.Select(a => a(s)).ToList(), kwargs.ToDictionary(k => k.Key, k => k.Value(s)), line);
                }
                else return e;
            }
        }

        (List<Func<Scope, object?>> Args, Dictionary<string, Func<Scope, object?>> Kwargs) ParseArgs()
        {
            Expect("(");
            var args = new List<Func<Scope, object?>>();
            var kwargs = new Dictionary<string, Func<Scope, object?>>();
            while (!IsOp(")"))
            {
                if (toks[i].Type == T.Name && toks[i + 1] is { Type: T.Op, Text: "=" })
                {
                    string k = Next().Text; i++;
                    kwargs[k] = ParseExpr();
                }
                else args.Add(ParseExpr());
                if (!IsOp(",")) break;
                i++;
            }
            Expect(")");
            return (args, kwargs);
        }

        Func<Scope, object?> ParseFilters(Func<Scope, object?> e)
        {
            while (true)
            {
                if (IsOp("|"))
                {
                    i++;
                    if (toks[i].Type != T.Name) throw Error("expected a filter name");
                    string name = Next().Text;
                    var (args, kwargs) = IsOp("(") ? ParseArgs() : ([], []);
                    if (!Filters.ContainsKey(name))
                        throw new GptBertException($"line {line}: chat template uses the filter '{name}', which is outside the Jinja subset GptBert supports ({string.Join(", ", Filters.Keys.Order())})");
                    var f = Filters[name]; var target = e;
                    e = s => f(target(s), args.Select(a => a(s)).ToList(), kwargs.ToDictionary(k => k.Key, k => k.Value(s)));
                }
                else if (IsName("is"))
                {
                    i++;
                    bool negate = false;
                    if (IsName("not")) { negate = true; i++; }
                    if (toks[i].Type != T.Name && toks[i].Type != T.Op) throw Error("expected a test name");
                    string name = Next().Text;
                    if (name == "==") name = "eq";
                    if (!Tests.ContainsKey(name))
                        throw new GptBertException($"line {line}: chat template uses the test '{name}', which is outside the Jinja subset GptBert supports ({string.Join(", ", Tests.Keys.Order())})");
                    var args = new List<Func<Scope, object?>>();
                    if (IsOp("(")) args = ParseArgs().Args;
                    else if (toks[i].Type is T.String or T.Int or T.Float || (toks[i].Type == T.Name && toks[i].Text is not ("and" or "or" or "else" or "if" or "is" or "in" or "not")))
                        args.Add(ParsePostfix(ParsePrimary()));
                    var test = Tests[name]; var target = e;
                    e = s => test(target(s), args.Select(a => a(s)).ToList()) != negate;
                }
                else return e;
            }
        }
    }

    // ---------------------------------------------------------------- semantics

    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long n => n != 0,
        double d => d != 0,
        string s => s.Length > 0,
        System.Collections.ICollection c => c.Count > 0,
        _ => true,
    };

    public static string Str(object? v) => v switch
    {
        null => "None",
        Undefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long n => n.ToString(CultureInfo.InvariantCulture),
        double d => PyFloat(d),
        _ => Repr(v),
    };

    static string PyFloat(double d) =>
        double.IsInteger(d) && Math.Abs(d) < 1e16 ? d.ToString("0.0", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Python's repr of a value (how Jinja prints a list or dict).</summary>
    static string Repr(object? v) => v switch
    {
        string s => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'").Replace("\n", "\\n") + "'",
        IDictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))) + "}",
        IList<object?> l => "[" + string.Join(", ", l.Select(Repr)) + "]",
        _ => Str(v),
    };

    static IEnumerable<object?> Iterate(object? v) => v switch
    {
        null or Undefined => [],
        string s => s.Select(c => (object?)c.ToString()),
        IDictionary<string, object?> d => d.Keys,
        IEnumerable<object?> e => e,
        _ => throw new GptBertException($"cannot iterate over {TypeName(v)}"),
    };

    static string TypeName(object? v) => v switch
    {
        null => "none", Undefined => "undefined", string => "a string", bool => "a boolean", long => "an integer", double => "a float",
        IDictionary<string, object?> => "a dict", IList<object?> => "a list", _ => v.GetType().Name,
    };

    static bool ValueEquals(object? a, object? b) => (a, b) switch
    {
        (Undefined, Undefined) => true,
        (null, null) => true,
        (long x, long y) => x == y,
        (long or double, long or double) => Convert.ToDouble(a, CultureInfo.InvariantCulture) == Convert.ToDouble(b, CultureInfo.InvariantCulture),
        (string x, string y) => x == y,
        (bool x, bool y) => x == y,
        (IList<object?> x, IList<object?> y) => x.Count == y.Count && x.Zip(y).All(p => ValueEquals(p.First, p.Second)),
        _ => ReferenceEquals(a, b),
    };

    static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw new GptBertException($"'in <string>' needs a string on the left, not {TypeName(item)}"),
        IDictionary<string, object?> d => item is string k && d.ContainsKey(k),
        IEnumerable<object?> e => e.Any(x => ValueEquals(x, item)),
        null or Undefined => false,
        _ => throw new GptBertException($"'in' needs a string, list or dict on the right, not {TypeName(container)}"),
    };

    static bool Compare(object? a, object? b, string op)
    {
        int c = (a, b) switch
        {
            (long or double, long or double) => Convert.ToDouble(a, CultureInfo.InvariantCulture).CompareTo(Convert.ToDouble(b, CultureInfo.InvariantCulture)),
            (string x, string y) => string.CompareOrdinal(x, y),
            _ => throw new GptBertException($"cannot compare {TypeName(a)} with {TypeName(b)} using '{op}'"),
        };
        return op switch { "<" => c < 0, ">" => c > 0, "<=" => c <= 0, _ => c >= 0 };
    }

    static object? Add(object? a, object? b) => (a, b) switch
    {
        (string x, string y) => x + y,
        (IList<object?> x, IList<object?> y) => x.Concat(y).ToList(),
        _ => Arith(a, b, "+"),
    };

    static object? Arith(object? a, object? b, string op)
    {
        if (a is bool ab) a = ab ? 1L : 0L;
        if (b is bool bb) b = bb ? 1L : 0L;
        if (a is long x && b is long y)
            return op switch
            {
                "+" => (object)(x + y), "-" => x - y, "*" => x * y,
                "/" => (double)x / y, // true division gives a float, as in Python
                "//" => y == 0 ? throw new GptBertException("integer division by zero") : (long)Math.Floor((double)x / y),
                "%" => y == 0 ? throw new GptBertException("modulo by zero") : ((x % y) + y) % y,
                _ => (long)Math.Pow(x, y),
            };
        if (a is long or double && b is long or double)
        {
            double p = Convert.ToDouble(a, CultureInfo.InvariantCulture), q = Convert.ToDouble(b, CultureInfo.InvariantCulture);
            return op switch { "+" => p + q, "-" => p - q, "*" => p * q, "/" => p / q, "//" => Math.Floor(p / q), "%" => p - q * Math.Floor(p / q), _ => Math.Pow(p, q) };
        }
        if (op == "*" && a is string s && b is long n) return string.Concat(Enumerable.Repeat(s, (int)Math.Max(0, n)));
        throw new GptBertException($"cannot apply '{op}' to {TypeName(a)} and {TypeName(b)}");
    }

    static object? GetAttr(object? target, string name) => target switch
    {
        IDictionary<string, object?> d => d.TryGetValue(name, out var v) ? v : Undefined.Value,
        _ => Undefined.Value,
    };

    static object? GetItem(object? target, object? key) => (target, key) switch
    {
        (IDictionary<string, object?> d, string k) => d.TryGetValue(k, out var v) ? v : Undefined.Value,
        (IList<object?> l, long n) => n < 0 ? (n + l.Count >= 0 ? l[(int)(n + l.Count)] : Undefined.Value) : n < l.Count ? l[(int)n] : Undefined.Value,
        (string s, long n) => n < 0 ? (n + s.Length >= 0 ? s[(int)(n + s.Length)].ToString() : Undefined.Value) : n < s.Length ? s[(int)n].ToString() : Undefined.Value,
        (Undefined, _) or (null, _) => Undefined.Value,
        _ => Undefined.Value,
    };

    static object? Slice(object? target, object? start, object? stop, object? step)
    {
        long st = step is long k ? k : 1;
        if (st == 0) throw new GptBertException("slice step cannot be zero");
        List<object?> items = target switch
        {
            string s => s.Select(c => (object?)c.ToString()).ToList(),
            IList<object?> l => l.ToList(),
            _ => throw new GptBertException($"cannot slice {TypeName(target)}"),
        };
        int n = items.Count;
        int Norm(object? v, int dflt) => v is long x ? (int)(x < 0 ? Math.Max(x + n, st < 0 ? -1 : 0) : Math.Min(x, st < 0 ? n - 1 : n)) : dflt;
        int a = Norm(start, st > 0 ? 0 : n - 1), b = Norm(stop, st > 0 ? n : -1);
        var result = new List<object?>();
        for (int i = a; st > 0 ? i < b : i > b; i += (int)st) result.Add(items[i]);
        return target is string ? string.Concat(result.Select(Str)) : result;
    }

    static object? CallFunction(object? f, List<object?> args, Dictionary<string, object?> kwargs, int line) => f switch
    {
        Func<List<object?>, Dictionary<string, object?>, object?> fn => fn(args, kwargs),
        _ => throw new GptBertException($"line {line}: {TypeName(f)} is not a function"),
    };

    /// <summary>Functions every template can call.</summary>
    public static readonly Dictionary<string, Func<List<object?>, Dictionary<string, object?>, object?>> Globals = new()
    {
        ["raise_exception"] = (a, _) => throw new GptBertException($"the chat template refused the conversation: {(a.Count > 0 ? Str(a[0]) : "")}"),
        ["namespace"] = (_, kw) => { var ns = new Namespace(); foreach (var (k, v) in kw) ns[k] = v; return ns; },
        ["range"] = (a, _) =>
        {
            long start = a.Count > 1 ? (long)a[0]! : 0, stop = (long)(a.Count > 1 ? a[1] : a[0])!, step = a.Count > 2 ? (long)a[2]! : 1;
            var r = new List<object?>();
            for (long x = start; step > 0 ? x < stop : x > stop; x += step) r.Add(x);
            return r;
        },
        ["strftime_now"] = (a, _) => StrFTime(DateTime.Now, a.Count > 0 ? Str(a[0]) : "%Y-%m-%d"),
    };

    static string StrFTime(DateTime t, string format) => format
        .Replace("%Y", t.ToString("yyyy", CultureInfo.InvariantCulture)).Replace("%m", t.ToString("MM", CultureInfo.InvariantCulture))
        .Replace("%d", t.ToString("dd", CultureInfo.InvariantCulture)).Replace("%B", t.ToString("MMMM", CultureInfo.InvariantCulture))
        .Replace("%b", t.ToString("MMM", CultureInfo.InvariantCulture)).Replace("%H", t.ToString("HH", CultureInfo.InvariantCulture))
        .Replace("%M", t.ToString("mm", CultureInfo.InvariantCulture)).Replace("%S", t.ToString("ss", CultureInfo.InvariantCulture));

    static object? CallMethod(object? target, string name, List<object?> a, Dictionary<string, object?> kw, int line)
    {
        string? S(int k) => a.Count > k ? Str(a[k]) : null;
        switch (target)
        {
            case string s:
                return name switch
                {
                    "strip" => S(0) is { } c ? s.Trim(c.ToCharArray()) : s.Trim(),
                    "lstrip" => S(0) is { } c ? s.TrimStart(c.ToCharArray()) : s.TrimStart(),
                    "rstrip" => S(0) is { } c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd(),
                    "upper" => s.ToUpperInvariant(),
                    "lower" => s.ToLowerInvariant(),
                    "title" => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(s.ToLowerInvariant()),
                    "capitalize" => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant(),
                    "startswith" => a[0] is IList<object?> l ? l.Any(p => s.StartsWith(Str(p), StringComparison.Ordinal)) : s.StartsWith(S(0)!, StringComparison.Ordinal),
                    "endswith" => a[0] is IList<object?> l ? l.Any(p => s.EndsWith(Str(p), StringComparison.Ordinal)) : s.EndsWith(S(0)!, StringComparison.Ordinal),
                    "split" => (S(0) is { } sep ? s.Split(sep) : s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).Select(x => (object?)x).ToList(),
                    "replace" => s.Replace(S(0)!, S(1)!, StringComparison.Ordinal),
                    "find" => (long)s.IndexOf(S(0)!, StringComparison.Ordinal),
                    "count" => (long)(S(0)!.Length == 0 ? s.Length + 1 : (s.Length - s.Replace(S(0)!, "").Length) / S(0)!.Length),
                    "format" => PyFormat(s, a),
                    _ => throw new GptBertException($"line {line}: chat template calls the string method '{name}', which GptBert's Jinja subset does not support"),
                };
            case IDictionary<string, object?> d when d is not Namespace:
                return name switch
                {
                    "items" => d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList(),
                    "keys" => d.Keys.Select(k => (object?)k).ToList(),
                    "values" => d.Values.ToList(),
                    "get" => d.TryGetValue(S(0)!, out var v) ? v : a.Count > 1 ? a[1] : null,
                    _ => throw new GptBertException($"line {line}: chat template calls the dict method '{name}', which GptBert's Jinja subset does not support"),
                };
            case IList<object?> l:
                return name switch
                {
                    "index" => (long)l.ToList().FindIndex(x => ValueEquals(x, a[0])),
                    "count" => (long)l.Count(x => ValueEquals(x, a[0])),
                    _ => throw new GptBertException($"line {line}: chat template calls the list method '{name}', which GptBert's Jinja subset does not support"),
                };
            default:
                if (target is Undefined) throw new GptBertException($"line {line}: '{name}()' called on an undefined value");
                throw new GptBertException($"line {line}: {TypeName(target)} has no method '{name}'");
        }
    }

    static string PyFormat(string format, List<object?> args)
    {
        int next = 0;
        return System.Text.RegularExpressions.Regex.Replace(format, @"\{(\d*)\}", m => Str(args[m.Groups[1].Length > 0 ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : next++]));
    }

    delegate object? Filter(object? value, List<object?> args, Dictionary<string, object?> kwargs);

    static readonly Dictionary<string, Filter> Filters = new()
    {
        ["trim"] = (v, a, _) => a.Count > 0 ? Str(v).Trim(Str(a[0]).ToCharArray()) : Str(v).Trim(),
        ["length"] = (v, _, _) => Length(v),
        ["count"] = (v, _, _) => Length(v),
        ["upper"] = (v, _, _) => Str(v).ToUpperInvariant(),
        ["lower"] = (v, _, _) => Str(v).ToLowerInvariant(),
        ["capitalize"] = (v, _, _) => Str(v) is { Length: > 0 } s ? char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant() : "",
        ["title"] = (v, _, _) => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(Str(v).ToLowerInvariant()),
        ["string"] = (v, _, _) => Str(v),
        ["int"] = (v, _, _) => v switch { long n => n, double d => (long)d, string s when long.TryParse(s.Trim(), CultureInfo.InvariantCulture, out var n) => n, _ => 0L },
        ["float"] = (v, _, _) => v switch { long n => (double)n, double d => d, string s when double.TryParse(s.Trim(), CultureInfo.InvariantCulture, out var d) => d, _ => 0.0 },
        ["default"] = Default, ["d"] = Default,
        ["first"] = (v, _, _) => Iterate(v).FirstOrDefault(),
        ["last"] = (v, _, _) => Iterate(v).LastOrDefault(),
        ["list"] = (v, _, _) => Iterate(v).ToList(),
        ["reverse"] = (v, _, _) => v is string s ? new string(s.Reverse().ToArray()) : Iterate(v).Reverse().ToList(),
        ["join"] = (v, a, _) => string.Join(a.Count > 0 ? Str(a[0]) : "", Iterate(v).Select(Str)),
        ["replace"] = (v, a, _) => Str(v).Replace(Str(a[0]), Str(a[1]), StringComparison.Ordinal),
        ["items"] = (v, _, _) => v is IDictionary<string, object?> d ? d.Select(kv => (object?)new List<object?> { kv.Key, kv.Value }).ToList() : [],
        ["tojson"] = (v, a, kw) => ToJson(v, kw.TryGetValue("indent", out var ind) ? ind as long? : a.Count > 0 ? a[0] as long? : null),
        ["selectattr"] = (v, a, _) => SelectAttr(v, a, keep: true),
        ["rejectattr"] = (v, a, _) => SelectAttr(v, a, keep: false),
        ["map"] = (v, a, kw) => kw.TryGetValue("attribute", out var attr)
            ? Iterate(v).Select(x => GetAttr(x, Str(attr))).ToList()
            : a.Count > 0 && Filters!.TryGetValue(Str(a[0]), out var f) ? Iterate(v).Select(x => f(x, a.Skip(1).ToList(), [])).ToList()
            : throw new GptBertException("map() needs attribute= or a filter name"),
    };

    static object? Default(object? v, List<object?> a, Dictionary<string, object?> _)
    {
        bool boolean = a.Count > 1 && Truthy(a[1]);
        return v is Undefined || (boolean && !Truthy(v)) ? (a.Count > 0 ? a[0] : "") : v;
    }

    static object? Length(object? v) => v switch
    {
        string s => (long)s.Length,
        System.Collections.ICollection c => (long)c.Count,
        _ => throw new GptBertException($"{TypeName(v)} has no length"),
    };

    static List<object?> SelectAttr(object? v, List<object?> a, bool keep)
    {
        string attr = Str(a[0]);
        return Iterate(v).Where(x =>
        {
            var value = GetAttr(x, attr);
            bool pass = a.Count > 1 ? Tests.TryGetValue(Str(a[1]), out var t) ? t(value, a.Skip(2).ToList())
                : throw new GptBertException($"unknown test '{Str(a[1])}' in selectattr") : Truthy(value);
            return pass == keep;
        }).ToList();
    }

    static readonly Dictionary<string, Func<object?, List<object?>, bool>> Tests = new()
    {
        ["defined"] = (v, _) => v is not Undefined,
        ["undefined"] = (v, _) => v is Undefined,
        ["none"] = (v, _) => v is null,
        ["string"] = (v, _) => v is string,
        ["number"] = (v, _) => v is long or double,
        ["integer"] = (v, _) => v is long,
        ["float"] = (v, _) => v is double,
        ["boolean"] = (v, _) => v is bool,
        ["true"] = (v, _) => v is true,
        ["false"] = (v, _) => v is false,
        ["mapping"] = (v, _) => v is IDictionary<string, object?>,
        ["sequence"] = (v, _) => v is string or IList<object?> or IDictionary<string, object?>,
        ["iterable"] = (v, _) => v is string or IList<object?> or IDictionary<string, object?>,
        ["equalto"] = (v, a) => ValueEquals(v, a[0]),
        ["eq"] = (v, a) => ValueEquals(v, a[0]),
        ["ne"] = (v, a) => !ValueEquals(v, a[0]),
        ["odd"] = (v, _) => v is long n && n % 2 != 0,
        ["even"] = (v, _) => v is long n && n % 2 == 0,
        ["divisibleby"] = (v, a) => v is long n && a[0] is long d && d != 0 && n % d == 0,
        ["in"] = (v, a) => Contains(a[0], v),
    };

    /// <summary>transformers' tojson: json.dumps with ensure_ascii=False (", " and ": " separators; indent when given).</summary>
    static string ToJson(object? v, long? indent)
    {
        var sb = new StringBuilder();
        void Write(object? x, int depth)
        {
            string nl = indent is long n ? "\n" + new string(' ', (int)n * (depth + 1)) : "";
            string close = indent is long m ? "\n" + new string(' ', (int)m * depth) : "";
            string sep = indent is null ? ", " : ",";
            switch (x)
            {
                case null or Undefined: sb.Append("null"); break;
                case bool b: sb.Append(b ? "true" : "false"); break;
                case long or double: sb.Append(x is double d ? PyFloat(d) : Str(x)); break;
                case string s: sb.Append(JsonSerializer.Serialize(s, JsonOpts)); break;
                case IDictionary<string, object?> dict:
                    if (dict.Count == 0) { sb.Append("{}"); break; }
                    sb.Append('{');
                    bool first = true;
                    foreach (var (k, val) in dict)
                    {
                        if (!first) sb.Append(sep);
                        first = false;
                        sb.Append(nl).Append(JsonSerializer.Serialize(k, JsonOpts)).Append(": ");
                        Write(val, depth + 1);
                    }
                    sb.Append(close).Append('}');
                    break;
                case IEnumerable<object?> list:
                    var items = list.ToList();
                    if (items.Count == 0) { sb.Append("[]"); break; }
                    sb.Append('[');
                    for (int k = 0; k < items.Count; k++)
                    {
                        if (k > 0) sb.Append(sep);
                        sb.Append(nl);
                        Write(items[k], depth + 1);
                    }
                    sb.Append(close).Append(']');
                    break;
                default: sb.Append(JsonSerializer.Serialize(Str(x), JsonOpts)); break;
            }
        }
        Write(v, 0);
        return sb.ToString();
    }

    static readonly JsonSerializerOptions JsonOpts = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
