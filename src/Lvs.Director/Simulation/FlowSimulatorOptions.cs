using Lvs.Core;

namespace Lvs.Director.Simulation;

/// <summary>Options of a <see cref="FlowSimulator"/>.</summary>
public sealed record FlowSimulatorOptions
{
    /// <summary>The simulated connection table's IPv4 capacity (and IPv6 capacity): at least the number of flows of one run.</summary>
    public int ConnectionCapacity { get; init; } = 1 << 16;

    /// <summary>The FULLNAT local addresses (<c>--laddr</c>; <see cref="FlowSimulator.FromRules"/> takes them from the rules).</summary>
    public IReadOnlyList<InetAddress> LocalAddresses { get; init; } = [];

    /// <summary>Whether any TCP segment may create a connection (<c>sloppy_tcp</c>); the simulated flows open with a SYN anyway.</summary>
    public bool SloppyTcp { get; init; }
}
