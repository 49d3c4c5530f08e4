using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace GptBert.Tests;

/// <summary>
/// The library's layers, read from the compiled GptBert assembly's metadata and IL (every type a type's
/// signatures, attributes, locals, catch clauses and instructions name), so a reference hidden in a method
/// body counts as much as one in a signature:
/// Models, Tokenizers, Engine, Checkpoints → (nothing above them);
/// Pipelines (inference) → those, never Training; Training → Pipelines and below; Compare → everything,
/// in its own assembly that the library never references.
/// </summary>
public class LayeringTests
{
    static readonly string[] Foundations = ["GptBert.Models", "GptBert.Tokenizers", "GptBert.Engine", "GptBert.Checkpoints"];
    static readonly string[] Inference = [.. Foundations, "GptBert.Pipelines"];

    static readonly Lazy<IReadOnlyDictionary<string, HashSet<string>>> references = new(() => AssemblyReferences.Read(typeof(GptBertException).Assembly.Location));

    /// <summary>Type (namespace-qualified, outermost) → the types it references, for types in <paramref name="layers"/>.</summary>
    static IEnumerable<(string From, string To)> ReferencesFrom(string[] layers) =>
        references.Value.Where(kv => layers.Any(l => InNamespace(kv.Key, l))).SelectMany(kv => kv.Value.Select(to => (kv.Key, to)));

    /// <summary>"GptBert.Training.Trainer" is in GptBert.Training; "GptBert.Tokenizers.Training.BpeTrainer" is not.</summary>
    static bool InNamespace(string type, string ns) => type.StartsWith(ns + ".", StringComparison.Ordinal);

    static void AssertNone(IEnumerable<(string From, string To)> violations, string rule)
    {
        var list = violations.Select(v => $"{v.From} → {v.To}").Distinct().Order().ToList();
        Assert.True(list.Count == 0, $"{rule}:\n  " + string.Join("\n  ", list));
    }

    [Fact]
    public void InferenceDoesNotDependOnTrainingOrCompare()
    {
        AssertNone(ReferencesFrom(Inference).Where(r => IsTrainingOrCompare(r.To)),
            "Pipelines, Models, Tokenizers, Engine and Checkpoints must not reference GptBert.Training or GptBert.Compare");
    }

    [Fact]
    public void FoundationsDoNotDependOnPipelines()
    {
        AssertNone(ReferencesFrom(Foundations).Where(r => InNamespace(r.To, "GptBert.Pipelines") || IsTrainingOrCompare(r.To)),
            "Models, Tokenizers, Engine and Checkpoints must not reference GptBert.Pipelines, GptBert.Training or GptBert.Compare");
    }

    [Fact]
    public void TheLibraryDoesNotReferenceTheCompareAssembly()
    {
        using var pe = new PEReader(File.OpenRead(typeof(GptBertException).Assembly.Location));
        var md = pe.GetMetadataReader();
        var names = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).ToList();
        Assert.Contains("TorchSharp", names); // the list is real
        Assert.DoesNotContain("GptBert.Compare", names);
        Assert.DoesNotContain(references.Value.Keys, t => InNamespace(t, "GptBert.Compare"));
    }

    /// <summary>The scanner sees references made only inside method bodies, so the rules above cannot pass vacuously.</summary>
    [Fact]
    public void TheScannerSeesReferencesInMethodBodies()
    {
        // ClassificationObjective calls Classifier.Logits and Classifier.Probabilities in its methods only.
        Assert.Contains("GptBert.Pipelines.Classifier", references.Value["GptBert.Training.ClassificationObjective"]);
        // TrainingRuns builds ModelShape's configs and loads through ModelHub.
        Assert.Contains("GptBert.Pipelines.ModelHub", references.Value["GptBert.Training.TrainingRuns"]);
        // A lambda's closure class counts for the type that wrote the lambda.
        Assert.Contains("GptBert.Models.PretrainedModel", references.Value["GptBert.Pipelines.Classifier"]);
        Assert.DoesNotContain(references.Value.Keys, t => t.Contains('<'));
    }

    static bool IsTrainingOrCompare(string type) => InNamespace(type, "GptBert.Training") || InNamespace(type, "GptBert.Compare");

    /// <summary>Every type an assembly's types reference, read with System.Reflection.Metadata.</summary>
    sealed class AssemblyReferences : ISignatureTypeProvider<string, object?>
    {
        static readonly Dictionary<short, OperandType> OperandTypes = typeof(OpCodes).GetFields()
            .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value, o => o.OperandType);

        readonly MetadataReader md;
        HashSet<string> current = [];

        AssemblyReferences(MetadataReader md) => this.md = md;

        public static IReadOnlyDictionary<string, HashSet<string>> Read(string path)
        {
            using var pe = new PEReader(File.OpenRead(path));
            var md = pe.GetMetadataReader();
            var scanner = new AssemblyReferences(md);
            var result = new Dictionary<string, HashSet<string>>();
            foreach (var h in md.TypeDefinitions)
            {
                string owner = scanner.NameOf(h);
                if (owner.StartsWith('<') || owner.Length == 0) continue; // <Module>, <PrivateImplementationDetails>
                if (!result.TryGetValue(owner, out var set)) result[owner] = set = [];
                scanner.current = set;
                scanner.ScanType(pe, h);
            }
            foreach (var (owner, set) in result) set.Remove(owner);
            return result;
        }

        void ScanType(PEReader pe, TypeDefinitionHandle h)
        {
            var t = md.GetTypeDefinition(h);
            Entity(t.BaseType);
            foreach (var i in t.GetInterfaceImplementations()) Entity(md.GetInterfaceImplementation(i).Interface);
            foreach (var gp in t.GetGenericParameters())
                foreach (var c in md.GetGenericParameter(gp).GetConstraints()) Entity(md.GetGenericParameterConstraint(c).Type);
            Attributes(t.GetCustomAttributes());
            foreach (var f in t.GetFields())
            {
                var field = md.GetFieldDefinition(f);
                field.DecodeSignature(this, null);
                Attributes(field.GetCustomAttributes());
            }
            foreach (var p in t.GetProperties())
            {
                var property = md.GetPropertyDefinition(p);
                property.DecodeSignature(this, null);
                Attributes(property.GetCustomAttributes());
            }
            foreach (var m in t.GetMethods())
            {
                var method = md.GetMethodDefinition(m);
                method.DecodeSignature(this, null);
                Attributes(method.GetCustomAttributes());
                foreach (var p in method.GetParameters()) Attributes(md.GetParameter(p).GetCustomAttributes());
                if (method.RelativeVirtualAddress != 0) Body(pe.GetMethodBody(method.RelativeVirtualAddress));
            }
        }

        void Attributes(CustomAttributeHandleCollection attributes)
        {
            foreach (var a in attributes) Entity(md.GetCustomAttribute(a).Constructor);
        }

        void Body(MethodBodyBlock body)
        {
            if (!body.LocalSignature.IsNil) md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, null);
            foreach (var region in body.ExceptionRegions) Entity(region.CatchType);
            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                short code = il.ReadByte();
                if (code == 0xFE) code = unchecked((short)(0xFE00 | il.ReadByte()));
                switch (OperandTypes[code])
                {
                    case OperandType.InlineNone: break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar: il.Offset += 1; break;
                    case OperandType.InlineVar: il.Offset += 2; break;
                    case OperandType.InlineI or OperandType.InlineBrTarget or OperandType.ShortInlineR or OperandType.InlineString: il.Offset += 4; break;
                    case OperandType.InlineI8 or OperandType.InlineR: il.Offset += 8; break;
                    case OperandType.InlineSwitch: { int n = il.ReadInt32(); il.Offset += 4 * n; break; }
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType or OperandType.InlineSig:
                        Entity(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    default: throw new InvalidOperationException($"unknown operand type of opcode 0x{code:X}");
                }
            }
        }

        /// <summary>Records the type(s) a metadata handle names: a type, a member's declaring type and signature, a signature.</summary>
        void Entity(EntityHandle h)
        {
            if (h.IsNil) return;
            switch (h.Kind)
            {
                case HandleKind.TypeDefinition:
                case HandleKind.TypeReference:
                    current.Add(NameOf(h));
                    break;
                case HandleKind.TypeSpecification:
                    md.GetTypeSpecification((TypeSpecificationHandle)h).DecodeSignature(this, null);
                    break;
                case HandleKind.FieldDefinition:
                {
                    var f = md.GetFieldDefinition((FieldDefinitionHandle)h);
                    Entity(f.GetDeclaringType());
                    f.DecodeSignature(this, null);
                    break;
                }
                case HandleKind.MethodDefinition:
                {
                    var m = md.GetMethodDefinition((MethodDefinitionHandle)h);
                    Entity(m.GetDeclaringType());
                    m.DecodeSignature(this, null);
                    break;
                }
                case HandleKind.MemberReference:
                {
                    var m = md.GetMemberReference((MemberReferenceHandle)h);
                    Entity(m.Parent);
                    if (m.GetKind() == MemberReferenceKind.Method) m.DecodeMethodSignature(this, null);
                    else m.DecodeFieldSignature(this, null);
                    break;
                }
                case HandleKind.MethodSpecification:
                {
                    var m = md.GetMethodSpecification((MethodSpecificationHandle)h);
                    Entity(m.Method);
                    m.DecodeSignature(this, null);
                    break;
                }
                case HandleKind.StandaloneSignature:
                {
                    var s = md.GetStandaloneSignature((StandaloneSignatureHandle)h);
                    if (s.GetKind() == StandaloneSignatureKind.Method) s.DecodeMethodSignature(this, null);
                    else s.DecodeLocalSignature(this, null);
                    break;
                }
            }
        }

        /// <summary>"Namespace.Name" of the outermost type (a nested type, e.g. a lambda's closure, counts as its container).</summary>
        string NameOf(EntityHandle h)
        {
            if (h.Kind == HandleKind.TypeDefinition)
            {
                var t = md.GetTypeDefinition((TypeDefinitionHandle)h);
                while (t.IsNested) t = md.GetTypeDefinition(t.GetDeclaringType());
                return Qualified(t.Namespace, t.Name);
            }
            var r = md.GetTypeReference((TypeReferenceHandle)h);
            while (r.ResolutionScope.Kind == HandleKind.TypeReference) r = md.GetTypeReference((TypeReferenceHandle)r.ResolutionScope);
            return Qualified(r.Namespace, r.Name);
        }

        string Qualified(StringHandle ns, StringHandle name) =>
            ns.IsNil || md.GetString(ns).Length == 0 ? md.GetString(name) : md.GetString(ns) + "." + md.GetString(name);

        // ISignatureTypeProvider: each type a signature names is recorded as it is decoded; the returned strings are unused.
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) { current.Add(NameOf(handle)); return ""; }
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) { current.Add(NameOf(handle)); return ""; }
        public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => "";
        public string GetSZArrayType(string elementType) => "";
        public string GetArrayType(string elementType, ArrayShape shape) => "";
        public string GetByReferenceType(string elementType) => "";
        public string GetPointerType(string elementType) => "";
        public string GetPinnedType(string elementType) => "";
        public string GetGenericInstantiation(string genericType, System.Collections.Immutable.ImmutableArray<string> typeArguments) => "";
        public string GetGenericMethodParameter(object? genericContext, int index) => "";
        public string GetGenericTypeParameter(object? genericContext, int index) => "";
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => "";
        public string GetFunctionPointerType(MethodSignature<string> signature) => "";
    }
}
