using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// A published server list of a scanning scheduler with the load block its servers were attached to; never modified
/// once published (the block's counters change, the binding does not).
/// </summary>
/// <param name="servers">The servers in list order.</param>
/// <param name="block">Their block, slot i holding server i.</param>
internal sealed class ServerListSnapshot(RealServer[] servers, RealServerLoadBlock block)
{
    /// <summary>No servers.</summary>
    public static readonly ServerListSnapshot Empty = new([], RealServerLoadBlock.Attach([]));

    /// <summary>The servers in list order.</summary>
    public readonly RealServer[] Servers = servers;

    /// <summary>The block holding their load, in the same order; scan it while <see cref="RealServerLoadBlock.IsIntact"/>.</summary>
    public readonly RealServerLoadBlock Block = block;
}
