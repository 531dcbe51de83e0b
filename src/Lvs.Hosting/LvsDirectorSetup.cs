using Lvs.Devices.Neighbors;
using Lvs.Director;
using Lvs.Scheduling;

namespace Lvs.Hosting;

/// <summary>What <see cref="LvsDirectorBuilder"/> adds to the director beyond its options: code-built services, engine options, the statistics writer.</summary>
public sealed class LvsDirectorSetup
{
    /// <summary>Run on the table after the rules file is applied (services and real servers built in code).</summary>
    public IList<Action<ServiceTable>> ConfigureTable { get; } = [];

    /// <summary>
    /// The settings every service's scheduler is created with (sh/dh table bits and order, the Maglev table, seed and
    /// <see cref="SchedulerOptions.MaglevKernelCompatible"/>, the lblc expiry); null: the defaults.
    /// </summary>
    public SchedulerOptions? Schedulers { get; set; }

    /// <summary>Changes the engine's options (built from the host options) before the engine is created; null: none.</summary>
    public Func<DirectorOptions, DirectorOptions>? ConfigureEngine { get; set; }

    /// <summary>The neighbour cache's parameters; null: the kernel's defaults.</summary>
    public NeighborParameters? Neighbors { get; set; }

    /// <summary>The random source (reachable times); null: a shared one.</summary>
    public Random? Random { get; set; }

    /// <summary>Where the periodic <c>ipvsadm -L -n --stats</c> table goes; null: the log.</summary>
    public Action<string>? StatisticsWriter { get; set; }
}
