using Lvs.Core;

namespace Lvs.Director.Simulation;

/// <summary>What the director did with a simulated flow's first packet.</summary>
/// <param name="Flow">The flow.</param>
/// <param name="Service">The service it reached; null when no service matches its destination.</param>
/// <param name="Server">The real server the engine chose; null when none took it (see <paramref name="Reason"/>).</param>
/// <param name="Destination">Where the packet went: the server's address and port (a port-0 server takes the packet's port); default without a server.</param>
/// <param name="Reason">Why no server took it (<see cref="DropReason.NoVirtualService"/>, <see cref="DropReason.NoRealServer"/>, ...); <see cref="DropReason.None"/> when one did.</param>
public sealed record FlowDecision(SimulatedFlow Flow, VirtualServiceKey? Service, RealServer? Server, InetEndpoint Destination, DropReason Reason)
{
    /// <summary>Whether a real server took the flow.</summary>
    public bool IsScheduled => Server is not null;

    /// <summary>The chosen server as <c>RIP:PORT</c> (IPv6 in brackets), or <c>-</c> and the reason.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => Server is not null ? Destination.ToString() : $"- ({Reason})";
}
