using TorchSharp;
using static TorchSharp.torch;

namespace GptBert.Engine;

/// <summary>
/// Mixed precision the way torch.autocast does it, by hand (TorchSharp 0.107 exposes no autocast): inside
/// <see cref="Use"/>, the matrix products of <see cref="Ops"/> run on 16-bit copies of their fp32 operands and
/// return fp32, while everything else (embeddings, LayerNorm, GELU, residual sums, losses, the optimizer)
/// stays fp32. Weights remain fp32: they are the master copy, and autograd carries gradients back through
/// the casts as fp32. fp16's narrow range additionally needs loss scaling (<see cref="LossScaler"/>); bf16 does not.
/// </summary>
public static class MixedPrecision
{
    [ThreadStatic] static ScalarType? current;

    /// <summary>The 16-bit type matrix products use on this thread, or null for fp32.</summary>
    public static ScalarType? Current => current;

    /// <summary>Runs matrix products in <paramref name="dtype"/> (null: fp32) until the returned scope is disposed.</summary>
    public static IDisposable Use(ScalarType? dtype)
    {
        var previous = current;
        current = dtype;
        return new Restore(previous);
    }

    sealed class Restore(ScalarType? previous) : IDisposable
    {
        public void Dispose() => current = previous;
    }

    /// <summary>Test hook: pretend the CPU has native fp16/bf16 arithmetic (libtorch emulates it, slowly).</summary>
    internal static bool AssumeNativeCpuSupport { get; set; }

    /// <summary>
    /// The compute type for --precision on <paramref name="device"/>: null for fp32, else BFloat16 or Float16.
    /// Refused with the reason where the hardware would only emulate it (slower than fp32, so never what the user wants).
    /// </summary>
    public static ScalarType? Resolve(string precision, Device device)
    {
        ScalarType? dtype = precision switch
        {
            "fp32" => null,
            "bf16" => ScalarType.BFloat16,
            "fp16" => ScalarType.Float16,
            _ => throw new GptBertException($"Precision must be fp32, bf16 or fp16 (got {precision})") { Parameter = "Precision" },
        };
        if (dtype is null || device.type != DeviceType.CPU || AssumeNativeCpuSupport) return dtype;
        if (CpuHasNative(dtype.Value)) return dtype;
        string name = Name(dtype);
        string unreadable = CpuFlags().Count == 0 ? "; CPU flags could not be read on this OS" : "";
        string alternative = dtype == ScalarType.Float16 && CpuHasNative(ScalarType.BFloat16) ? "Precision bf16 (native on this CPU) or " : "";
        throw new GptBertException(
            $"Precision {name}: this CPU has no native {name} arithmetic ({string.Join(", ", NativeFlags(dtype.Value))}{unreadable}), so {name} would be emulated and slower than fp32; use {alternative}Precision fp32, or a GPU with Device cuda")
        { Parameter = "Precision", RelatedParameters = ["Device"] };
    }

    /// <summary>Whether the CPU computes in <paramref name="dtype"/> natively: the x86 and Arm feature flags that oneDNN uses.</summary>
    public static bool CpuHasNative(ScalarType dtype) => CpuFlags().Overlaps(NativeFlags(dtype));

    static string[] NativeFlags(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => ["avx512_bf16", "amx_bf16", "bf16"],
        ScalarType.Float16 => ["avx512_fp16", "amx_fp16", "fphp"],
        _ => [],
    };

    static HashSet<string>? cpuFlags;

    /// <summary>The CPU's feature flags from /proc/cpuinfo ("flags" on x86, "Features" on Arm); empty elsewhere.</summary>
    public static IReadOnlySet<string> CpuFlags()
    {
        if (cpuFlags is not null) return cpuFlags;
        var set = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("flags", StringComparison.Ordinal) || line.StartsWith("Features", StringComparison.Ordinal))
                    {
                        int colon = line.IndexOf(':');
                        if (colon > 0) set.UnionWith(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
                        break;
                    }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return cpuFlags = set;
    }

    public static string Name(ScalarType? dtype) => dtype switch
    {
        null => "fp32",
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        var t => t.ToString()!,
    };
}
