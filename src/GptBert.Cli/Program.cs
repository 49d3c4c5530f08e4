using System.Text;
using GptBert.Cli;

// Thin entry point: real console streams in, everything else lives in CliApp (which tests call in-process).
// The host's process-wide choices, made before libtorch loads: libgomp's workers spin briefly, not ~300,000 rounds
// (they sleep at once for commands that only run models);
// freed tensors' memory stays in the process, large ones on huge pages: fewer page faults (see TuneMemory).
GptBert.Engine.TorchRuntime.PrepareProcess(inferenceOnly: CliApp.RunsModelsOnly(args));
// `gptbert __child WORK.json RESULT.json`: a measurement run alone in this process (the compare runner's child for peak memory).
if (args is [GptBert.Cli.Commands.CompareCommand.ChildVerb, var work, var result]) return GptBert.Compare.ChildProcessRunner.Serve(work, result);
var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
var stderr = new StreamWriter(Console.OpenStandardError(), new UTF8Encoding(false)) { AutoFlush = true };
try
{
    return CliApp.Run(args, new CliInput(Console.OpenStandardInput(), isTerminal: !Console.IsInputRedirected), stdout, stderr,
        stderrIsTerminal: !Console.IsErrorRedirected);
}
finally
{
    try { stdout.Flush(); } catch (IOException) { /* stdout closed early (e.g. piped into head) */ }
}
