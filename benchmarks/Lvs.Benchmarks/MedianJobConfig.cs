using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Lvs.Benchmarks;

/// <summary>
/// The job of the benchmarks judged by their medians on the shared host (the engine and its parts, packet threads, the
/// memory floor, the virtual-address check): 3 warm-ups, 15 iterations, the median shown, and a long build timeout
/// (the shared host can take minutes to build the benchmark's executable).
/// </summary>
internal sealed class MedianJobConfig : ManualConfig
{
    public MedianJobConfig()
    {
        _ = AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(15).WithLaunchCount(1));
        _ = AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median);
        _ = WithBuildTimeout(TimeSpan.FromMinutes(15));
    }
}
