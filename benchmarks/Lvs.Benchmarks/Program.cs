using BenchmarkDotNet.Running;
using Lvs.Benchmarks.HealthChecks;

// Every benchmark class in this assembly is selectable by --filter, e.g.
//   dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- --filter '*FrameParser*'
// The health-check CPU load is a steady-state measurement, not a BenchmarkDotNet class:
//   dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- health-cpu [servers] [seconds]
if (args is ["health-cpu" or "health-cpu-listeners", ..])
{
    return await HealthCheckCpuLoad.RunAsync(args).ConfigureAwait(false);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
