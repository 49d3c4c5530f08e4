// Embedding throughput: GptBert's TorchSharp BERT vs ONNX Runtime on the same all-MiniLM-L6-v2 file,
// same machine, same run. Thread settings (count, OpenMP wait policy) must be fixed before libtorch
// loads, so the driver runs each variant in a child process of this program.
//   dotnet run -c Release --project bench/GptBert.Bench -- embed [--seconds S] [--rounds R] [--padded] [--quick] [--out FILE]
using System.Diagnostics;
using System.Globalization;
using GptBert.Assets;
using GptBert.Bench;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var argList = args.ToList();
string Opt(string name, string dflt) { int i = argList.IndexOf(name); return i >= 0 && i + 1 < argList.Count ? argList[i + 1] : dflt; }
double seconds = double.Parse(Opt("--seconds", "3"));
(int B, int T)[] shapes = [(1, 16), (1, 128), (32, 32), (32, 128)];

if (argList.FirstOrDefault() == "child")
{
    // child ENGINE THREADS: prints one "B T median_ms" line per shape
    string engine = argList[1]; int threads = int.Parse(argList[2]);
    // The host's process-wide choices, as the CLI makes them for its model-running commands (each skipped where the variant set the variable itself).
    GptBert.Engine.TorchRuntime.PrepareProcess(inferenceOnly: true);
    foreach (var (b, t) in shapes)
    {
        // Every product through libtorch (MKL). Through the options: EmbedBench.Torch's Configure(threads) would switch a bare flag back on.
        if (engine == "torch-mkl") GptBert.Engine.TorchRuntime.Configure(GptBert.Engine.TorchRuntime.Options with { SmallKernels = false });
        if (engine == "torch-small") GptBert.Engine.BlockedGemm.Enabled = false; // SmallGemm up to 256 rows, MKL above (before BlockedGemm)
        double ms = engine == "ort" ? EmbedBench.Ort(b, t, threads, seconds)
            : engine == "torch-int8" ? EmbedBench.Torch(b, t, threads, seconds, Int8Bench.QuantizedMiniLm())
            : EmbedBench.Torch(b, t, threads, seconds);
        Console.WriteLine($"{b} {t} {ms:F3}");
    }
    return 0;
}

if (argList.FirstOrDefault() == "train")
{
    // train [--threads N]: one process, thread count fixed before the first op.
    int threads = int.Parse(Opt("--threads", Environment.ProcessorCount.ToString()));
    GptBert.Engine.TorchRuntime.Configure(threads);
    string trainOut = Opt("--out", Path.Combine(FindRepoRoot(), "bench", "results", "training-throughput.md"));
    double peakBefore = TrainBench.MatmulGflops();
    // bf16 mixed precision only where the CPU has it natively (emulated bf16 is slower than fp32 and not offered).
    bool bf16 = GptBert.Engine.MixedPrecision.CpuHasNative(TorchSharp.torch.ScalarType.BFloat16);
    var runs = new List<TrainBench.Result> { TrainBench.Run("gpt", peakBefore), TrainBench.Run("bert", peakBefore) };
    if (bf16) runs.AddRange([TrainBench.Run("gpt", peakBefore, TorchSharp.torch.ScalarType.BFloat16), TrainBench.Run("bert", peakBefore, TorchSharp.torch.ScalarType.BFloat16)]);
    double peakAfter = TrainBench.MatmulGflops();
    double peak = Math.Max(peakBefore, peakAfter);
    runs = runs.Select(r => r with { Mfu = r.ModelGflops / peak }).ToList();
    var t = new System.Text.StringBuilder();
    t.AppendLine("# Training throughput: GPT vs BERT of the same size");
    t.AppendLine();
    t.AppendLine($"- Command: `dotnet run -c Release --project bench/GptBert.Bench -- train --threads {threads}`");
    t.AppendLine($"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    t.AppendLine($"- Machine: {EmbedBench.Machine()}");
    t.AppendLine("- Models: 6 layers, hidden 320, 8 heads, vocabulary 8192, batch 16 x 128 tokens, AdamW + clipping; median of 8 steps after 2 warm-up steps.");
    t.AppendLine("- Precision: fp32, and bf16 mixed precision (`--precision bf16`: matrix products and attention in bf16, fp32 weights, LayerNorm, losses and optimizer) where the CPU has native bf16.");
    t.AppendLine($"- Reference: 2048^3 fp32 matmul in the same process, {peakBefore:F1} GFLOPS before and {peakAfter:F1} after the runs (the higher is used).");
    t.AppendLine("- MFU = 6 x parameters x tokens/s / fp32 matmul FLOPS (the issue's definition; embeddings included). bf16 rows use the same fp32 reference, so their MFU can exceed what fp32 could reach; 'vs fp32' is the step-time speed-up over the fp32 row of the same model.");
    t.AppendLine();
    t.AppendLine("| model | precision | parameters | step ms | tokens/s | model GFLOPS | MFU | vs fp32 |");
    t.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|");
    foreach (var r in runs)
    {
        var fp32 = runs.First(x => x.Name == r.Name && x.Precision == "fp32");
        t.AppendLine($"| {r.Name} | {r.Precision} | {r.Parameters:N0} | {r.StepMs:F0} | {r.TokensPerSecond:F0} | {r.ModelGflops:F1} | {r.Mfu:P0} | {fp32.StepMs / r.StepMs:F2}x |");
    }
    File.WriteAllText(trainOut, t.ToString());
    Console.WriteLine(t.ToString());
    return 0;
}

if (argList.FirstOrDefault() == "profile")
{
    // profile [--batch B] [--tokens T] [--threads N]: each kind of op of a MiniLM-shaped forward, timed alone.
    int threads = int.Parse(Opt("--threads", Environment.ProcessorCount.ToString()));
    int b = int.Parse(Opt("--batch", "32")), tk = int.Parse(Opt("--tokens", "128"));
    Console.WriteLine($"| op ({b}x{tk}) | 1 thread ms | {threads} threads ms |");
    Console.WriteLine("|---|---:|---:|");
    foreach (var (op, ms1, msN) in ForwardProfile.Run(b, tk, threads)) Console.WriteLine($"| {op} | {ms1:F1} | {msN:F1} |");
    return 0;
}

if (argList.FirstOrDefault() == "gemm")
{
    // gemm [--threads N]: MiniLM's products at 16..4096 rows, SmallGemm vs BlockedGemm vs libtorch/MKL, one process.
    int threads = int.Parse(Opt("--threads", Environment.ProcessorCount.ToString()));
    GptBert.Engine.TorchRuntime.Configure(threads);
    const double flopsPerRow = 2.0 * 6 * (4 * 384 * 384 + 2 * 384 * 1536);
    var t = new System.Text.StringBuilder();
    t.AppendLine("# Matrix products: GptBert's SmallGemm and BlockedGemm vs libtorch (MKL)");
    t.AppendLine();
    t.AppendLine($"- Command: `dotnet run -c Release --project bench/GptBert.Bench -- gemm --threads {threads}`");
    t.AppendLine($"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    t.AppendLine($"- Machine: {EmbedBench.Machine()}");
    t.AppendLine($"- Load average before: {Int8Bench.LoadAverage()}");
    t.AppendLine("- What is timed: MiniLM's 36 encoder products (random fp32 weights, 42 MB) with bias, at M rows, no gradient; median of 30 passes, the variants alternated 3 times (middle value). SmallGemm = the unpacked few-row kernels at every size; BlockedGemm = the packed AVX-512 kernel at every size; MKL = libtorch's F.linear.");
    t.AppendLine();
    bool hasBlocked = GptBert.Engine.BlockedGemm.Supported;
    t.AppendLine(hasBlocked ? "| rows | SmallGemm ms | GFLOPS | BlockedGemm ms | GFLOPS | MKL ms | GFLOPS | best vs MKL |" : "| rows | SmallGemm ms | GFLOPS | MKL ms | GFLOPS | SmallGemm vs MKL |");
    t.AppendLine(hasBlocked ? "|---:|---:|---:|---:|---:|---:|---:|---:|" : "|---:|---:|---:|---:|---:|---:|");
    foreach (var (m, ms) in GemmBench.Run([16, 32, 64, 128, 256, 512, 1024, 4096]))
    {
        string Cell(GemmBench.Variant v) => $"{ms[v]:F2} | {flopsPerRow * m / ms[v] / 1e6:F0}";
        double best = ms.Where(kv => kv.Key != GemmBench.Variant.Mkl).Min(kv => kv.Value);
        t.AppendLine(hasBlocked
            ? $"| {m} | {Cell(GemmBench.Variant.Small)} | {Cell(GemmBench.Variant.Blocked)} | {Cell(GemmBench.Variant.Mkl)} | {ms[GemmBench.Variant.Mkl] / best:F2}x |"
            : $"| {m} | {Cell(GemmBench.Variant.Small)} | {Cell(GemmBench.Variant.Mkl)} | {ms[GemmBench.Variant.Mkl] / best:F2}x |");
    }
    File.WriteAllText(Opt("--out", Path.Combine(FindRepoRoot(), "bench", "results", "small-batch-gemm.md")), t.ToString());
    Console.WriteLine(t.ToString());
    return 0;
}

if (argList.FirstOrDefault() == "decode")
{
    // decode [--threads N]: GPT-2 124M incremental decoding latency, SmallGemm vs libtorch/MKL, one process.
    int threads = int.Parse(Opt("--threads", Environment.ProcessorCount.ToString()));
    GptBert.Engine.TorchRuntime.Configure(threads);
    var (ours, mkl) = DecodeBench.Run();
    var t = new System.Text.StringBuilder();
    t.AppendLine("# Generation latency: one GPT-2 124M decoding step");
    t.AppendLine();
    t.AppendLine($"- Command: `dotnet run -c Release --project bench/GptBert.Bench -- decode --threads {threads}`");
    t.AppendLine($"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    t.AppendLine($"- Machine: {EmbedBench.Machine()}");
    t.AppendLine("- What is timed: `GPT2LMHeadModel.Forward` on one new token with the KV cache (16-token prompt, 32 greedy steps, batch 1),");
    t.AppendLine("  per token, median of 3 rounds, both variants alternated 3 times in the same process (middle value). Every step streams");
    t.AppendLine("  the 124M fp32 weights (~500 MB with the tied 50257x768 output layer) from memory, so this is a memory-bandwidth test.");
    t.AppendLine();
    t.AppendLine("| products | ms per token | tokens/s | vs MKL |");
    t.AppendLine("|---|---:|---:|---:|");
    t.AppendLine($"| GptBert SmallGemm (default) | {ours:F1} | {1000 / ours:F1} | {mkl / ours:F2}x |");
    t.AppendLine($"| libtorch/MKL only (GPTBERT_SMALL_GEMM=0) | {mkl:F1} | {1000 / mkl:F1} | 1.00x |");
    File.WriteAllText(Opt("--out", Path.Combine(FindRepoRoot(), "bench", "results", "generation-latency.md")), t.ToString());
    Console.WriteLine(t.ToString());
    return 0;
}

if (argList.FirstOrDefault() == "latency")
{
    // latency --data FILE [--rounds R] [--samples N] [--threads T] [--max-length L] DIR...: batch-1 classification latency
    // of saved classifiers, alternated over rounds in one process (LatencyBench.cs). Prints "model round_ms..." lines and
    // "model median_ms min_ms max_ms" summaries, for scripts such as bench/prune.sh.
    int threads = int.Parse(Opt("--threads", "2"));
    GptBert.Engine.TorchRuntime.Configure(threads);
    var valued = new HashSet<string> { "--data", "--rounds", "--samples", "--threads", "--max-length" };
    var dirs = argList.Skip(1).Where((a, i) => !valued.Contains(a) && !valued.Contains(argList[i])).ToList();
    var lat = LatencyBench.Run(dirs, Opt("--data", ""), int.Parse(Opt("--rounds", "3")), int.Parse(Opt("--samples", "50")), int.Parse(Opt("--max-length", "128")));
    foreach (var (dir, perRound) in lat)
    {
        var sorted = perRound.Order().ToList();
        Console.WriteLine($"{dir} rounds {string.Join(' ', perRound.Select(v => v.ToString("F2")))}");
        Console.WriteLine($"{dir} median {sorted[sorted.Count / 2]:F2} min {sorted[0]:F2} max {sorted[^1]:F2}");
    }
    return 0;
}

if (argList.FirstOrDefault() == "serve")
{
    // serve [--seconds S] [--gen-seconds S] [--rounds R] [--threads N] [--gen-model 124m|small|tiny] [--max-tokens N] [--out FILE]:
    // `gptbert serve` in this process on a loopback port, HttpClient load from this process (ServeBench.cs).
    int threads = int.Parse(Opt("--threads", "2"));
    GptBert.Engine.TorchRuntime.Configure(threads);
    double cellSeconds = double.Parse(Opt("--seconds", "5"));
    double genSeconds = double.Parse(Opt("--gen-seconds", (cellSeconds * 2).ToString()));
    int serveRounds = int.Parse(Opt("--rounds", "2"));
    string genModel = Opt("--gen-model", "124m");
    int maxTokens = int.Parse(Opt("--max-tokens", "32"));
    int pairs = int.Parse(Opt("--overhead-pairs", "200"));
    string serveOut = Opt("--out", Path.Combine(FindRepoRoot(), "bench", "results", "serve.md"));
    string command = "dotnet run -c Release --project bench/GptBert.Bench -- " + string.Join(' ', argList.Where((a, i) => !(a == "--out" || (i > 0 && argList[i - 1] == "--out"))));
    var report = await ServeReport.RunAsync(command, threads, cellSeconds, genSeconds, serveRounds, genModel, maxTokens, pairs, FindRepoRoot());
    File.WriteAllText(serveOut, report);
    Console.WriteLine(report);
    return 0;
}

if (argList.FirstOrDefault() == "int8-gemm")
{
    // int8-gemm [--threads N] [--rows M]: MiniLM's product shapes, fp32 (libtorch) vs the int8 dynamic kernels, one process.
    int threads = int.Parse(Opt("--threads", "1"));
    GptBert.Engine.TorchRuntime.Configure(threads);
    foreach (var (k, n) in new[] { (384, 384), (384, 1536), (1536, 384) })
        foreach (int m in new[] { 16, 128, 1024, 4096 })
        {
            var (fp32, int8, quantize) = Int8Bench.Gemm(m, k, n);
            Console.WriteLine($"M {m,5} K {k,5} N {n,5}: fp32 {fp32,8:F3} ms  int8 {int8,8:F3} ms ({quantize:F3} quantizing the rows)  {fp32 / int8:F2}x  {2.0 * m * n * k / int8 / 1e6:F0} GOPS");
        }
    return 0;
}

if (argList.FirstOrDefault() == "int8")
{
    // int8 [--seconds S] [--rounds R] [--skip-decode] [--out FILE]: MiniLM embeddings (ONNX Runtime fp32 / ours fp32 / ours int8
    // dynamic, child processes, interleaved rounds), the int8 embedding quality, then GPT-2 124M decoding fp32 vs int8 in this process.
    int rounds8 = int.Parse(Opt("--rounds", "3"));
    string out8 = Opt("--out", Path.Combine(FindRepoRoot(), "bench", "results", "int8.md"));
    string loadBefore = Int8Bench.LoadAverage();
    Int8Bench.QuantizedMiniLm(); // once, before the children read it
    var v8 = new (string Name, string Engine)[] { ("ONNX Runtime fp32 (shipped model.onnx)", "ort"), ("GptBert fp32", "torch"), ("GptBert int8 dynamic", "torch-int8") };
    var t8 = v8.ToDictionary(v => v.Name, _ => new List<double[]>());
    if (argList.Contains("--decode-only"))
    {
        GptBert.Engine.TorchRuntime.Configure(2);
        foreach (var d in Int8Bench.Decode(rounds: 1)) Console.WriteLine($"{d.Name}: {d.Ms:F1} ms");
        return 0;
    }
    for (int round = 1; round <= rounds8; round++)
        foreach (var v in v8)
        {
            Console.Error.WriteLine($"round {round}/{rounds8}: {v.Name} ...");
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
            foreach (var a in new[] { "child", v.Engine, "2", "--seconds", seconds.ToString() }) psi.ArgumentList.Add(a);
            foreach (var name in new[] { "GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "THP_MEM_ALLOC_ENABLE" }) psi.Environment.Remove(name);
            using var p = Process.Start(psi)!;
            var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            p.WaitForExit();
            if (p.ExitCode != 0) { Console.Error.WriteLine($"variant {v.Name} failed"); return 1; }
            t8[v.Name].Add(lines.Select(l => double.Parse(l.Split(' ')[2])).ToArray());
        }
    double Med(IEnumerable<double> xs) { var a = xs.OrderBy(x => x).ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
    // Per shape, the ratio of each round (num's time / den's time in that round): the median is reported, with the rounds' range.
    double[][] RatioRounds(string num, string den) => shapes.Select((_, i) => t8[num].Select((r, k) => r[i] / t8[den][k][i]).ToArray()).ToArray();
    double[] Ratio(string num, string den) => RatioRounds(num, den).Select(Med).ToArray();
    string Cells(string num, string den) => string.Join(" | ", RatioRounds(num, den).Select(EmbedBench.RatioCell));
    var ms8 = v8.ToDictionary(v => v.Name, v => shapes.Select((_, i) => Med(t8[v.Name].Select(r => r[i]))).ToArray());
    var speedVsOurs = Ratio("GptBert fp32", "GptBert int8 dynamic");
    var speedVsOrt = Ratio("ONNX Runtime fp32 (shipped model.onnx)", "GptBert int8 dynamic");
    var oursVsOrt = Ratio("ONNX Runtime fp32 (shipped model.onnx)", "GptBert fp32");
    Console.Error.WriteLine("quality ...");
    GptBert.Engine.TorchRuntime.Configure(2);
    var samples = Path.Combine(FindRepoRoot(), "data", "samples", "moby-dick-openings.txt");
    var quality = Int8Bench.Quality(samples);
    List<Int8Bench.DecodeResult>? decode = null;
    double bandwidth = 0;
    if (!argList.Contains("--skip-decode"))
    {
        Console.Error.WriteLine("decode ...");
        bandwidth = Int8Bench.Bandwidth(2);
        decode = Int8Bench.Decode();
    }
    string loadAfter = Int8Bench.LoadAverage();

    var r8 = new System.Text.StringBuilder();
    r8.AppendLine("# int8 inference: `gptbert quantize`");
    r8.AppendLine();
    r8.AppendLine($"- Command: `dotnet run -c Release --project bench/GptBert.Bench -- {string.Join(' ', argList.Where((a, i) => !(a == "--out" || (i > 0 && argList[i - 1] == "--out"))))}`");
    r8.AppendLine($"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    r8.AppendLine($"- Machine: {EmbedBench.Machine()}; int8 kernel path: {string.Join(", ", GptBert.Engine.Int8Gemm.SupportedPaths)} available");
    r8.AppendLine($"- Load average (1/5/15 min) before: {loadBefore}; after: {loadAfter} (the 2 cores were shared with other work: compare ratios within a round, not absolute times)");
    r8.AppendLine();
    r8.AppendLine("## MiniLM embeddings (all-MiniLM-L6-v2), 2 threads");
    r8.AppendLine();
    r8.AppendLine("One forward pass + mean pooling + L2 norm on pre-tokenized random ids (batch x tokens), median of repeated runs, each variant in");
    r8.AppendLine($"its own process; {rounds8} interleaved rounds, ratios taken within a round then the median. int8 = `gptbert quantize --model minilm` (dynamic).");
    r8.AppendLine();
    r8.AppendLine("| variant | " + string.Join(" | ", shapes.Select(s => $"{s.B}x{s.T} ms")) + " |");
    r8.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", shapes.Length)));
    foreach (var v in v8) r8.AppendLine($"| {v.Name} | " + string.Join(" | ", ms8[v.Name].Select(x => x.ToString("F1"))) + " |");
    r8.AppendLine($"| speed-up of int8 over GptBert fp32 (rounds' range) | " + Cells("GptBert fp32", "GptBert int8 dynamic") + " |");
    r8.AppendLine($"| speed-up of int8 over ONNX Runtime fp32 (rounds' range) | " + Cells("ONNX Runtime fp32 (shipped model.onnx)", "GptBert int8 dynamic") + " |");
    r8.AppendLine($"| (GptBert fp32 over ONNX Runtime fp32) | " + Cells("ONNX Runtime fp32 (shipped model.onnx)", "GptBert fp32") + " |");
    r8.AppendLine();
    r8.AppendLine($"Goals (issue #11): int8 ≥ 2x our fp32 at 32x128 (**{speedVsOurs[3]:F2}x: {(speedVsOurs[3] >= 2 ? "met" : "not met")}**), ≥ 1.5x at 1x16 (**{speedVsOurs[0]:F2}x: {(speedVsOurs[0] >= 1.5 ? "met" : "not met")}**), " +
        $"faster than ONNX Runtime fp32 at every shape (**{(speedVsOrt.All(x => x > 1) ? "met" : "not met")}**: {string.Join(", ", speedVsOrt.Select(x => x.ToString("F2") + "x"))}).");
    r8.AppendLine();
    r8.AppendLine("## Quality");
    r8.AppendLine();
    r8.AppendLine($"Cosine between int8 and fp32 MiniLM embeddings of the {quality.Texts} lines of data/samples/moby-dick-openings.txt (truncated at 256 tokens):");
    r8.AppendLine($"mean **{quality.Mean:F4}**, minimum {quality.Min:F4} (goal: mean ≥ 0.99: **{(quality.Mean >= 0.99 ? "met" : "not met")}**).");
    if (decode is not null)
    {
        var fp = decode[0];
        r8.AppendLine();
        r8.AppendLine("## GPT-2 124M-shaped decoding step, batch 1, KV cache, 2 threads");
        r8.AppendLine();
        r8.AppendLine("`GPT2LMHeadModel.Forward` on one new token (16-token prompt, 32 greedy steps), random weights, per token; median of 3 rounds,");
        r8.AppendLine("the variants alternated 3 times in one process (middle value). Each int8 variant is loaded from the directory `Int8Quantization.Save` wrote.");
        r8.AppendLine($"Bound = weight bytes read per step / measured read bandwidth ({bandwidth:F1} GB/s, 2 threads summing 1 GB).");
        r8.AppendLine();
        r8.AppendLine("| variant | ms per token | tokens/s | speed-up vs fp32 | weight bytes per step | bandwidth bound ms |");
        r8.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var d in decode)
            r8.AppendLine($"| {d.Name} | {d.Ms:F1} | {1000 / d.Ms:F1} | {fp.Ms / d.Ms:F2}x | {d.WeightBytes / 1e6:F0} MB | {d.WeightBytes / (bandwidth * 1e9) * 1000:F1} |");
        var best = decode.Skip(1).Where(d => d.Name.Contains("weight-only")).MaxBy(d => fp.Ms / d.Ms)!;
        r8.AppendLine();
        r8.AppendLine($"Goal: int8 weight-only ≥ 2.5x faster than fp32: **{fp.Ms / best.Ms:F2}x with {best.Name.Replace("int8 weight-only, ", "")}: {(fp.Ms / best.Ms >= 2.5 ? "met" : "not met")}**.");
    }
    File.WriteAllText(out8, r8.ToString());
    Console.WriteLine(r8.ToString());
    return 0;
}

if (argList.FirstOrDefault() != "embed")
{
    Console.Error.WriteLine("usage: GptBert.Bench embed [--seconds S] [--rounds R] [--padded] [--quick] [--out FILE] | int8 [--seconds S] [--rounds R] [--skip-decode] [--out FILE] | train [--threads N] [--out FILE] | decode [--threads N] [--out FILE] | gemm [--threads N] [--out FILE] | serve [--seconds S] [--gen-seconds S] [--rounds R] [--threads N] [--gen-model 124m|small|tiny] [--max-tokens N] [--out FILE]");
    return 2;
}

bool padded = argList.Contains("--padded"), quick = argList.Contains("--quick");
string outFile = Opt("--out", Path.Combine(FindRepoRoot(), "bench", "results", padded ? "embedding-throughput-padded.md" : "embedding-throughput.md"));
BuiltIn.ReadMiniLmResource("vocab.txt"); // fail early if the model is missing
var allVariants = new (string Name, string Engine, int Threads, string Env)[]
{
    ("ONNX Runtime (2 intra-op threads)", "ort", 2, ""),
    ("TorchSharp, 1 thread", "torch", 1, ""),
    ("TorchSharp, 2 threads, GptBert default (SmallGemm < 64 rows, BlockedGemm and the attention kernel where AVX-512, OMP_WAIT_POLICY=PASSIVE as the CLI's model-running commands set it, TuneMemory)", "torch", 2, ""),
    ("TorchSharp, 2 threads, GptBert default but freed memory returned to the kernel (MALLOC_TRIM_THRESHOLD_ and MALLOC_MMAP_THRESHOLD_ fixed at glibc's initial 128 KiB, its dynamic threshold off) and no huge pages", "torch", 2, "MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072 THP_MEM_ALLOC_ENABLE=0"),
    ("TorchSharp, 2 threads, without BlockedGemm (SmallGemm ≤ 256 rows, MKL above)", "torch-small", 2, ""),
    ("TorchSharp, 2 threads, libtorch/MKL products and attention only (our kernels off)", "torch-mkl", 2, ""),
    ("TorchSharp, 2 threads, GOMP_SPINCOUNT=10000 (the setting of training commands)", "torch", 2, "GOMP_SPINCOUNT=10000"),
    ("TorchSharp, 2 threads, OMP_WAIT_POLICY=ACTIVE", "torch", 2, "OMP_WAIT_POLICY=ACTIVE"),
};
// --quick: ONNX Runtime, GptBert's default, without BlockedGemm and the MKL-only products (the comparisons that matter, in less time).
var variants = quick ? allVariants.Where(v => v.Engine is "ort" or "torch-mkl" or "torch-small" || v.Name.Contains("GptBert default") && !v.Name.Contains("returned to the kernel")).ToArray() : allVariants;
// Rounds interleave the variants, so a burst of load elsewhere on the machine hits one round, not one variant;
// each ratio is taken against ONNX Runtime of the same round, then the median over rounds is reported.
int rounds = int.Parse(Opt("--rounds", "3"));
var times = variants.ToDictionary(v => v.Name, _ => new List<double[]>());
for (int round = 1; round <= rounds; round++)
    foreach (var v in variants)
    {
        Console.Error.WriteLine($"round {round}/{rounds}: {v.Name} ...");
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(Environment.GetCommandLineArgs()[0]); // run as `dotnet X.dll`
        foreach (var a in new[] { "child", v.Engine, v.Threads.ToString(), "--seconds", seconds.ToString() }) psi.ArgumentList.Add(a);
        foreach (var name in new[] { "GOMP_SPINCOUNT", "OMP_WAIT_POLICY", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "THP_MEM_ALLOC_ENABLE" }) psi.Environment.Remove(name);
        if (padded) psi.Environment["BENCH_PADDED"] = "1"; else psi.Environment.Remove("BENCH_PADDED");
        foreach (var kv in v.Env.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.Environment[kv.Split('=')[0]] = kv.Split('=')[1];
        using var p = Process.Start(psi)!;
        var lines = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        p.WaitForExit();
        if (p.ExitCode != 0) { Console.Error.WriteLine($"variant {v.Name} failed"); return 1; }
        times[v.Name].Add(lines.Select(l => double.Parse(l.Split(' ')[2])).ToArray());
    }
static double Median(IEnumerable<double> xs) { var a = xs.OrderBy(x => x).ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
var ortRuns = times[variants[0].Name];
var results = variants.ToDictionary(v => v.Name, v => shapes.Select((_, i) => Median(times[v.Name].Select(r => r[i]))).ToArray());
var ratioRounds = variants.ToDictionary(v => v.Name, v => shapes.Select((_, i) => times[v.Name].Select((r, k) => r[i] / ortRuns[k][i]).ToArray()).ToArray());

var md = new System.Text.StringBuilder();
md.AppendLine("# Embedding throughput: TorchSharp BERT vs ONNX Runtime (all-MiniLM-L6-v2)");
md.AppendLine();
md.AppendLine($"- Command: `dotnet run -c Release --project bench/GptBert.Bench -- embed --seconds {seconds} --rounds {rounds}{(padded ? " --padded" : "")}{(quick ? " --quick" : "")}`");
md.AppendLine($"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
md.AppendLine($"- Machine: {EmbedBench.Machine()}");
md.AppendLine("- What is timed: one forward pass of the encoder plus masked mean pooling and L2 normalisation on");
md.AppendLine(padded
    ? "  pre-tokenized random ids (batch x tokens; in batches, rows of real length t, 7t/8, 3t/4, 5t/8 in turn, the rest padding\n  with attention mask 0, as real texts of different lengths), median of repeated runs after warm-up."
    : "  pre-tokenized random ids (batch x tokens, no padding), median of repeated runs after warm-up.");
md.AppendLine("  ONNX Runtime runs the shipped model.onnx (graph optimisation ALL); TorchSharp runs the weights imported from it.");
md.AppendLine();
md.AppendLine("| variant | " + string.Join(" | ", shapes.Select(s => $"{s.B}x{s.T} ms")) + " | " + string.Join(" | ", shapes.Select(s => $"{s.B}x{s.T} ratio")) + " |");
md.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", shapes.Length * 2)));
foreach (var v in variants)
{
    md.AppendLine($"| {v.Name} | " + string.Join(" | ", results[v.Name].Select(x => x.ToString("F1"))) + " | " + string.Join(" | ", ratioRounds[v.Name].Select(EmbedBench.RatioCell)) + " |");
}
md.AppendLine();
md.AppendLine($"Times are medians over {rounds} rounds; ratio = time / ONNX Runtime time of the same round: the median over rounds, then the rounds' range (lower is better; goal of issue #11: ≤ 1.0x at every shape).");
md.AppendLine("GptBert's inference kernels: SmallGemm (AVX2/AVX-512, unpacked weights) for products of fewer than 64 rows, BlockedGemm (packed AVX-512) from 64 rows, AttentionKernel (AVX-512) for attention; on an AVX2-only CPU, SmallGemm up to 256 rows and libtorch (MKL, scaled_dot_product_attention) for the rest. The children let libgomp's idle workers sleep and keep freed memory as the CLI's model-running commands do (TorchRuntime.SetOpenMpPassive, TuneMemory).");
File.WriteAllText(outFile, md.ToString());
Console.WriteLine(md.ToString());
return 0;

static string FindRepoRoot()
{
    var d = new DirectoryInfo(AppContext.BaseDirectory);
    while (d is not null && !File.Exists(Path.Combine(d.FullName, "GptBert.sln"))) d = d.Parent;
    return d?.FullName ?? Directory.GetCurrentDirectory();
}
