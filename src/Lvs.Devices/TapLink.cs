using System.Security.Cryptography;
using System.Text;
using Lvs.Core;
using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// A TAP device the director owns (/dev/net/tun, IFF_TAP | IFF_NO_PI, IFF_MULTI_QUEUE with several queues): the
/// director is the wire side, the kernel side is an ordinary interface (to put on a bridge, or address). Created up
/// with the given MTU; not persistent, so closing its descriptors on <see cref="Dispose"/> deletes it.
/// </summary>
public sealed class TapLink : IFrameLink
{
    private readonly TapQueue[] _queues;
    private int _disposed;

    /// <summary>Creates the TAP device.</summary>
    /// <param name="options">Name, addresses, MAC, MTU and queues.</param>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    /// <exception cref="IOException">/dev/net/tun missing, not permitted, or the name is taken by another kind of interface.</exception>
    public TapLink(TapLinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("TAP links need Linux.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueCount, 1, nameof(options.QueueCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Mtu, 68, nameof(options.Mtu));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1, nameof(options.BatchSize));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Headroom, nameof(options.Headroom));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Tailroom, nameof(options.Tailroom));
        Name = options.Name;
        Mac = options.Mac ?? DeriveMac(options.Name);
        Mtu = options.Mtu;
        Addresses = options.Addresses.ToArray();
        MaxFrameLength = options.Mtu + 18;
        short flags = (short)(Constants.IffTap | Constants.IffNoPi | (options.QueueCount > 1 ? Constants.IffMultiQueue : 0));
        _queues = new TapQueue[options.QueueCount];
        try
        {
            for (int i = 0; i < _queues.Length; i++)
            {
                _queues[i] = new TapQueue(this, TunTapDescriptor.Open(options.Name, flags), options, MaxFrameLength);
            }

            InterfaceControl.SetMtu(options.Name, options.Mtu);
            InterfaceControl.SetUp(options.Name);
            KernelMac = InterfaceControl.GetMac(options.Name);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <summary>The director's MAC on the link.</summary>
    public MacAddress Mac { get; }

    /// <summary>The kernel side's own MAC (the interface's address, as <c>ip link</c> shows it).</summary>
    public MacAddress KernelMac { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <summary>The longest frame received or sent: the MTU, the Ethernet header and one VLAN tag.</summary>
    public int MaxFrameLength { get; }

    /// <inheritdoc/>
    public IReadOnlyList<InetPrefix> Addresses { get; }

    /// <inheritdoc/>
    public int QueueCount => _queues.Length;

    /// <inheritdoc/>
    public IFrameQueue GetQueue(int index) => _queues[index];

    /// <summary>Gets a queue with its TAP-specific members (counters).</summary>
    /// <param name="index">From 0 to <see cref="QueueCount"/> - 1.</param>
    /// <returns>The queue.</returns>
    public TapQueue GetTapQueue(int index) => _queues[index];

    /// <summary>The locally administered unicast MAC derived from a name: 02 and five bytes of the name's SHA-256.</summary>
    /// <param name="name">The name.</param>
    /// <returns>The MAC.</returns>
    public static MacAddress DeriveMac(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(name), hash);
        hash[0] = 0x02;
        return MacAddress.Read(hash);
    }

    /// <summary>Closes every queue's descriptor, which deletes the device. Call after the packet threads have stopped.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (TapQueue? queue in _queues)
        {
            queue?.Dispose();
        }
    }
}
