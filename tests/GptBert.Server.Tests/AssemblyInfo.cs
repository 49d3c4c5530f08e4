// libtorch's random generator and thread settings are process-wide; the server classes start their own servers and
// models, so they run one at a time (each is quick).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
