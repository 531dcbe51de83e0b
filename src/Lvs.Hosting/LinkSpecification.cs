using Lvs.Core;

namespace Lvs.Hosting;

/// <summary>What kind of link the director opens.</summary>
public enum LinkKind
{
    /// <summary>An existing interface, opened with an AF_PACKET socket; the host's kernel owns its addresses.</summary>
    Interface,

    /// <summary>A TAP device the director creates and owns, with the addresses it is given.</summary>
    Tap,
}

/// <summary>A link to create: its name, kind and (for a TAP device) its addresses with their subnets.</summary>
/// <param name="Name">The interface or device name.</param>
/// <param name="Kind">The kind.</param>
/// <param name="Addresses">The addresses of a TAP device; empty for an interface (its kernel addresses are read).</param>
public sealed record LinkSpecification(string Name, LinkKind Kind, IReadOnlyList<InetPrefix> Addresses);
