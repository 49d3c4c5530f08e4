// libtorch's default random generator is process-wide: dropout, initialisation and seeding in one test
// would perturb another running in parallel, and the determinism tests (exact resume, fixed seeds
// reproduce) would flake. Tests run one at a time; each is small.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace GptBert.Tests
{
    static class TestHost
    {
        /// <summary>What the CLI's entry point does first, before libtorch loads: the host's OpenMP spin policy and memory tuning.</summary>
        [System.Runtime.CompilerServices.ModuleInitializer]
        internal static void Init() => GptBert.Engine.TorchRuntime.PrepareProcess();
    }
}
