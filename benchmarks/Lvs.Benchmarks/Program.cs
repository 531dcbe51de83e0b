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

// Two builds of Lvs.Core and Lvs.ConnectionTracking in one alternating timing loop (docs/benchmarks.md):
//   dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- build-ab parse-ipv6|parse-ipv4|insert-batched OLD_DIR [NEW_DIR] [rounds]
if (args is ["build-ab", ..])
{
    return Lvs.Benchmarks.BuildComparisonLoop.Run(args);
}

// The engine's established-frame path in a plain loop, for a profiler (perf record with DOTNET_PerfMapEnabled=1):
//   dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- engine-loop Nat|DirectRouting|FullNat|Tunnel [seconds] [case|all] [connections]
// (cases: engine, reply and reply-lookup (NAT and FULLNAT real servers' replies), parse, lookup, update, copy+rewrite, floor-bucket-entry;
// with DOTNET_PerfMapEnabled=3 DOTNET_EnableWriteXorExecute=0 perf resolves the JIT's symbols)
// DirectorEstablishedThreadsBenchmarks in a plain loop, one line a second:
//   dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- established-loop Nat|DirectRouting THREADS [seconds]
if (args is ["established-loop", ..])
{
    return Lvs.Benchmarks.Director.EstablishedThreadsLoop.Run(args);
}

if (args is ["engine-loop", ..])
{
    return Lvs.Benchmarks.Director.DirectorEngineLoop.Run(args);
}

// DirectorNewConnectionBenchmarks as a timing loop on dedicated threads, packet and housekeeping time apart:
//   dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- newconn-loop nat|dr|table THREADS [ROUNDS] [separate|unsteered]
if (args is ["newconn-loop", ..])
{
    return Lvs.Benchmarks.Director.NewConnectionThreadsLoop.Run(args);
}

#if LVS_FORWARDING_BASELINE
// Old against new Lvs.Forwarding in one alternating timing loop (LvsForwardingBaseline set; docs/benchmarks.md):
//   dotnet run -c Release --project benchmarks/Lvs.Benchmarks -- forwarding-ab [rounds]
if (args is ["forwarding-ab", ..])
{
    return Lvs.Benchmarks.Forwarding.ForwardingRegressionLoop.Run(args);
}
#endif

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
