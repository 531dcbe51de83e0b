using Lvs.Core;

namespace Lvs.Devices;

/// <summary>
/// A link on an existing interface through AF_PACKET raw sockets: one socket per queue in a PACKET_FANOUT group,
/// each with memory-mapped TPACKET_V3 receive and transmit rings. The interface's MAC, MTU and kernel addresses are
/// the link's. See docs/devices.md.
/// </summary>
public sealed class AfPacketLink : IFrameLink
{
    private readonly AfPacketQueue[] _queues;
    private readonly ReceiveOffloads? _offloads;
    private int _disposed;

    /// <summary>Opens the link.</summary>
    /// <param name="interfaceName">An existing interface.</param>
    /// <param name="options">Queues, ring sizes, fanout and offloads; null for the defaults.</param>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    /// <exception cref="IOException">No such interface, or a socket call failed (not root: EPERM).</exception>
    public AfPacketLink(string interfaceName, AfPacketLinkOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("AF_PACKET links need Linux.");
        }

        options ??= new AfPacketLinkOptions();
        Validate(options);
        InterfaceFacts facts = InterfaceFacts.Read(interfaceName);
        Name = interfaceName;
        Index = facts.Index;
        Mac = facts.Mac;
        Mtu = facts.Mtu;
        Addresses = facts.Addresses;
        MaxFrameLength = facts.Mtu + 18;
        _queues = new AfPacketQueue[options.QueueCount];
        try
        {
            if (options.DisableReceiveOffloads)
            {
                _offloads = ReceiveOffloads.Disable(interfaceName);
            }

            for (int i = 0; i < _queues.Length; i++)
            {
                _queues[i] = new AfPacketQueue(this, facts.Index, options, MaxFrameLength);
                if (i == 0 && options.ReceiveAllMulticast)
                {
                    _queues[i].ReceiveAllMulticast(facts.Index);
                }

                if (_queues.Length > 1)
                {
                    FanoutGroupId = _queues[i].JoinFanout(FanoutGroupId ?? options.FanoutGroupId ?? 0, options.FanoutMode);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The interface's index.</summary>
    public int Index { get; }

    /// <inheritdoc/>
    public MacAddress Mac { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <summary>The longest frame received or sent: the MTU, the Ethernet header and one VLAN tag.</summary>
    public int MaxFrameLength { get; }

    /// <inheritdoc/>
    public IReadOnlyList<InetPrefix> Addresses { get; }

    /// <inheritdoc/>
    public int QueueCount => _queues.Length;

    /// <summary>The PACKET_FANOUT group the queues share (null with a single queue).</summary>
    public int? FanoutGroupId { get; private set; }

    /// <summary>The receive offloads the link turned off on the interface (restored on <see cref="Dispose"/>), by ethtool's names.</summary>
    public IReadOnlyList<string> DisabledOffloads => _offloads?.Disabled ?? [];

    /// <inheritdoc/>
    public IFrameQueue GetQueue(int index) => _queues[index];

    /// <summary>Gets a queue with its AF_PACKET-specific members (counters).</summary>
    /// <param name="index">From 0 to <see cref="QueueCount"/> - 1.</param>
    /// <returns>The queue.</returns>
    public AfPacketQueue GetPacketQueue(int index) => _queues[index];

    /// <summary>Closes every queue (unmapping its rings) and restores the offloads. Call after the packet threads have stopped.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (AfPacketQueue? queue in _queues)
        {
            queue?.Dispose();
        }

        _offloads?.Restore();
    }

    private static void Validate(AfPacketLinkOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueCount, 1, nameof(options.QueueCount));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Headroom, nameof(options.Headroom));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Tailroom, nameof(options.Tailroom));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BlockCount, 1, nameof(options.BlockCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BlockTimeoutMilliseconds, 1, nameof(options.BlockTimeoutMilliseconds));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TransmitSlots, 1, nameof(options.TransmitSlots));
        if (options.BlockSize < 4096 || options.BlockSize % 4096 != 0 || options.BlockSize % 2048 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BlockSize, "BlockSize must be a multiple of the 4096-byte page.");
        }

        if (options.FanoutGroupId is { } id && id is < 1 or > 0xFFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(options), id, "FanoutGroupId must be 1-65535.");
        }
    }
}
