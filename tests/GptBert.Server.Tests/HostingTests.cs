using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace GptBert.Server.Tests;

/// <summary>Binding, CORS and graceful shutdown: the parts of serving that are about the process, not the models.</summary>
public sealed partial class HostingTests
{
    [Fact]
    public async Task CorsHeadersOnlyForTheConfiguredOrigin()
    {
        await using var plain = new RunningServer(new ServerOptions { Models = [new("minilm", "minilm")] });
        await using var cors = new RunningServer(new ServerOptions { Models = [new("minilm", "minilm")], CorsOrigins = ["https://app.example"], ApiKey = RunningServer.Key });

        HttpRequestMessage Preflight() => new(HttpMethod.Options, "/v1/embeddings")
        {
            Headers = { { "Origin", "https://app.example" }, { "Access-Control-Request-Method", "POST" }, { "Access-Control-Request-Headers", "authorization,content-type" } },
        };
        var allowed = await cors.Client(null).SendAsync(Preflight());
        Assert.Equal("https://app.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        var other = Preflight();
        other.Headers.Remove("Origin");
        other.Headers.Add("Origin", "https://evil.example");
        Assert.False((await cors.Client(null).SendAsync(other)).Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False((await plain.Client(null).SendAsync(Preflight())).Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task BindsLoopbackByDefault()
    {
        Assert.Equal("127.0.0.1", new ServerOptions().Host);
        await using var s = new RunningServer(new ServerOptions { Models = [new("minilm", "minilm")] });
        Assert.Equal("127.0.0.1", s.BaseAddress.Host);
    }

    [GeneratedRegex(@"listening on (http://\S+)")]
    private static partial Regex Listening();

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);

    [Fact]
    public async Task SigtermFinishesTheRequestInFlightThenExitsZero()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var cli = Path.Combine(AppContext.BaseDirectory, "GptBert.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { cli, "serve", "--model", $"gpt={TinyModels.Gpt}", "--port", "0", "--threads", "1", "--shutdown-timeout", "20s" }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stderr = new StringBuilder();
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        Uri? address = null;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.AppendLine(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m) address = new Uri(m.Groups[1].Value);
            if (e.Data.EndsWith("ready", StringComparison.Ordinal) && address is not null) ready.TrySetResult(address);
        };
        var stdout = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        try
        {
            var baseAddress = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using var http = new HttpClient { BaseAddress = baseAddress };
            var release = new TaskCompletionSource();
            var inFlight = http.PostAsync("/v1/completions", new SlowBody("{\"model\": \"gpt\", \"prompt\": \"Hello\", ", "\"max_tokens\": 8, \"temperature\": 0}", release.Task));
            // Wait until the server is reading that request's body (it holds a slot), then SIGTERM.
            for (int i = 0; i < 300 && !(await http.GetStringAsync("/metrics")).Contains("gptbert_requests_running 1"); i++) await Task.Delay(20);
            Assert.Contains("gptbert_requests_running 1", await http.GetStringAsync("/metrics"));

            Assert.Equal(0, kill(process.Id, 15)); // SIGTERM
            await Task.Delay(300);
            Assert.False(process.HasExited, "the server must wait for the request in flight");
            release.SetResult();
            var response = await inFlight.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("\"text_completion\"", await response.Content.ReadAsStringAsync());

            Assert.True(process.WaitForExit(30_000), "the server did not exit after SIGTERM\n" + stderr);
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{stderr}");
            lock (stderr) Assert.Contains("gptbert serve: stopped", stderr.ToString());
            lock (stdout) Assert.Contains("\"route\":\"/v1/completions\"", stdout.ToString());
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    sealed class SlowBody(string first, string rest, Task gate) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(first));
            await stream.FlushAsync();
            await gate;
            await stream.WriteAsync(Encoding.UTF8.GetBytes(rest));
        }

        protected override bool TryComputeLength(out long length) { length = -1; return false; }
    }
}
