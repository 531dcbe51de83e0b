using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// The identity of a flow in one direction: protocol and source and destination endpoints (the kernel's
/// <c>ip_vs_conn_param</c> without the netns). 40 bytes with no padding, so it can be hashed as raw bytes.
/// </summary>
/// <remarks>
/// For ICMP echo the ports hold the identifier (as source and destination, like the kernel's
/// conntrack), and for non-first fragments both ports are 0.
/// </remarks>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
public readonly struct FlowKey : IEquatable<FlowKey>
{
    private readonly ulong _sourceHigh;
    private readonly ulong _sourceLow;
    private readonly ulong _destinationHigh;
    private readonly ulong _destinationLow;
    private readonly uint _ports;
    private readonly uint _protocol;

    /// <summary>Creates a flow key.</summary>
    /// <param name="protocol">The transport protocol.</param>
    /// <param name="source">The source address and port.</param>
    /// <param name="destination">The destination address and port.</param>
    public FlowKey(L4Protocol protocol, InetEndpoint source, InetEndpoint destination)
        : this(protocol, source.Address, source.Port, destination.Address, destination.Port)
    {
    }

    /// <summary>Creates a flow key.</summary>
    /// <param name="protocol">The transport protocol.</param>
    /// <param name="sourceAddress">The source address.</param>
    /// <param name="sourcePort">The source port.</param>
    /// <param name="destinationAddress">The destination address.</param>
    /// <param name="destinationPort">The destination port.</param>
    public FlowKey(L4Protocol protocol, InetAddress sourceAddress, ushort sourcePort, InetAddress destinationAddress, ushort destinationPort)
    {
        _sourceHigh = sourceAddress.High;
        _sourceLow = sourceAddress.Low;
        _destinationHigh = destinationAddress.High;
        _destinationLow = destinationAddress.Low;
        _ports = (uint)sourcePort << 16 | destinationPort;
        _protocol = (byte)protocol;
    }

    /// <summary>The transport protocol.</summary>
    public L4Protocol Protocol => (L4Protocol)_protocol;

    /// <summary>The source address.</summary>
    public InetAddress SourceAddress => new(_sourceHigh, _sourceLow);

    /// <summary>The destination address.</summary>
    public InetAddress DestinationAddress => new(_destinationHigh, _destinationLow);

    /// <summary>The source port (0 where the protocol has none).</summary>
    public ushort SourcePort => (ushort)(_ports >> 16);

    /// <summary>The destination port (0 where the protocol has none).</summary>
    public ushort DestinationPort => (ushort)_ports;

    /// <summary>The source endpoint.</summary>
    public InetEndpoint Source => new(SourceAddress, SourcePort);

    /// <summary>The destination endpoint.</summary>
    public InetEndpoint Destination => new(DestinationAddress, DestinationPort);

    /// <summary>True when both addresses are IPv4.</summary>
    public bool IsIPv4 => SourceAddress.IsIPv4;

    /// <summary>The key of the opposite direction (source and destination swapped).</summary>
    /// <returns>The reversed key.</returns>
    public FlowKey Reverse() => new(Protocol, DestinationAddress, DestinationPort, SourceAddress, SourcePort);

    /// <summary>The seeded XxHash3 of the key with the process seed <see cref="FlowHash.Seed"/>.</summary>
    /// <returns>A 64-bit hash.</returns>
    public ulong Hash() => Hash(FlowHash.Seed);

    /// <summary>The XxHash3 of the key's 40 bytes with the given seed.</summary>
    /// <param name="seed">The hash seed.</param>
    /// <returns>A 64-bit hash.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Hash(ulong seed) =>
        XxHash3.HashToUInt64(MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKey>(in this)), unchecked((long)seed));

    /// <inheritdoc/>
    public bool Equals(FlowKey other) =>
        _sourceLow == other._sourceLow
        && _destinationLow == other._destinationLow
        && _ports == other._ports
        && _sourceHigh == other._sourceHigh
        && _destinationHigh == other._destinationHigh
        && _protocol == other._protocol;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is FlowKey other && Equals(other);

    /// <summary>The seeded hash folded to 32 bits, so dictionaries keyed by flows resist chosen collisions.</summary>
    /// <returns>The hash code.</returns>
    public override int GetHashCode()
    {
        ulong h = Hash();
        return (int)(h ^ (h >> 32));
    }

    /// <summary>Formats as <c>TCP 10.0.0.1:1234 -> 10.0.0.2:80</c>.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => $"{Protocol.ToString().ToUpperInvariant()} {Source} -> {Destination}";

    /// <summary>Equality.</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>True when equal.</returns>
    public static bool operator ==(FlowKey left, FlowKey right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">Left operand.</param>
    /// <param name="right">Right operand.</param>
    /// <returns>True when different.</returns>
    public static bool operator !=(FlowKey left, FlowKey right) => !left.Equals(right);
}
