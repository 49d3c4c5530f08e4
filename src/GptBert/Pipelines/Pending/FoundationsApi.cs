// TEMPORARY: the generation API the lead lands on main in "Foundations:" (ITextGenerator, GeneratedToken with
// LogProb/Finish, Generator.EncodePrompt, GenerationScheduler), stood in for over today's Generator so the server
// builds before it lands. Files that use it alias these names; when main has them, this file and the aliases go.
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace GptBert.Pipelines.Pending;

public sealed record GeneratedToken(int Id, string TextDelta)
{
    public double LogProb { get; init; } = double.NaN;
    public FinishReason? Finish { get; init; }
}

public interface ITextGenerator
{
    ModelHandle Handle { get; }
    IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options, CancellationToken cancellationToken = default);
}

public sealed class PendingGenerator(ModelHandle handle) : ITextGenerator
{
    readonly Generator inner = new(handle);
    readonly SemaphoreSlim gate = new(1, 1); // today's Generator is not known to be safe to run twice at once
    public ModelHandle Handle => handle;

    public IReadOnlyList<int> EncodePrompt(string prompt, GenerationOptions options)
    {
        var ids = handle.Tokenizer.Encode(prompt, addSpecialTokens: false).Ids.ToList();
        if (ids.Count == 0 && handle.Tokenizer.BosId is int bos) ids.Add(bos);
        return ids;
    }

    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(IReadOnlyList<int> promptIds, GenerationOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<GeneratedToken>();
        string prompt = handle.Tokenizer.Decode(promptIds, skipSpecialTokens: false);
        var run = Task.Run(async () =>
        {
            bool entered = false;
            try
            {
                await gate.WaitAsync(cancellationToken);
                entered = true;
                GeneratedToken? last = null;
                var result = inner.Generate(prompt, options, t =>
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (last is not null) channel.Writer.TryWrite(last);
                    last = new GeneratedToken(t.Id, t.TextDelta);
                });
                if (last is not null) channel.Writer.TryWrite(last with { Finish = result.Finish });
                channel.Writer.TryComplete();
            }
            catch (Exception e) { channel.Writer.TryComplete(e); }
            finally { if (entered) gate.Release(); }
        }, CancellationToken.None);
        await foreach (var t in channel.Reader.ReadAllAsync(CancellationToken.None))
            yield return t;
        await run;
        cancellationToken.ThrowIfCancellationRequested();
    }
}
