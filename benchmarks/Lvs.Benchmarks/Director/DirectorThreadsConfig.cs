using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Lvs.Benchmarks.Director;

/// <summary>
/// The job of the engine benchmarks that run packet threads in parallel (new connections, established frames on one
/// and two threads): 3 warm-ups, 15 iterations, the median shown, and a long build timeout (the shared host can take
/// minutes to build the benchmark's executable).
/// </summary>
internal sealed class DirectorThreadsConfig : ManualConfig
{
    public DirectorThreadsConfig()
    {
        _ = AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(15).WithLaunchCount(1));
        _ = AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median);
        _ = WithBuildTimeout(TimeSpan.FromMinutes(15));
    }
}
