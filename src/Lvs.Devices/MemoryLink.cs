using Lvs.Core;

namespace Lvs.Devices;

/// <summary>
/// An in-process link for tests and simulations: one end of a pair made by <see cref="CreatePair"/>; a frame sent on
/// queue <c>i</c> of one end is received on queue <c>i mod n</c> of the other. Frames are copied into the receiving
/// queue's preallocated slots (the same headroom and tailroom as a real link), so nothing is allocated per frame.
/// </summary>
public sealed class MemoryLink : IFrameLink
{
    private readonly MemoryQueue[] _queues;

    private MemoryLink(string name, MacAddress mac, IReadOnlyList<InetPrefix> addresses, MemoryLinkOptions options)
    {
        Name = name;
        Mac = mac;
        Mtu = options.Mtu;
        Addresses = addresses.ToArray();
        MaxFrameLength = options.Mtu + 18;
        _queues = new MemoryQueue[options.QueueCount];
        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i] = new MemoryQueue(this, options, MaxFrameLength);
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public MacAddress Mac { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <summary>The longest frame sent or received: the MTU, the Ethernet header and one VLAN tag.</summary>
    public int MaxFrameLength { get; }

    /// <inheritdoc/>
    public IReadOnlyList<InetPrefix> Addresses { get; }

    /// <inheritdoc/>
    public int QueueCount => _queues.Length;

    /// <summary>The other end of the pair.</summary>
    public MemoryLink Peer { get; private set; } = null!;

    /// <inheritdoc/>
    public IFrameQueue GetQueue(int index) => _queues[index];

    /// <summary>Gets a queue with its in-memory members (counters).</summary>
    /// <param name="index">From 0 to <see cref="QueueCount"/> - 1.</param>
    /// <returns>The queue.</returns>
    public MemoryQueue GetMemoryQueue(int index) => _queues[index];

    /// <summary>Creates two connected links.</summary>
    /// <param name="first">The first end's name, MAC and addresses.</param>
    /// <param name="second">The second end's name, MAC and addresses.</param>
    /// <param name="options">MTU, queues and slots (both ends); null for the defaults.</param>
    /// <returns>The two ends.</returns>
    public static (MemoryLink First, MemoryLink Second) CreatePair(
        (string Name, MacAddress Mac, IReadOnlyList<InetPrefix> Addresses) first,
        (string Name, MacAddress Mac, IReadOnlyList<InetPrefix> Addresses) second,
        MemoryLinkOptions? options = null)
    {
        options ??= new MemoryLinkOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueCount, 1, nameof(options.QueueCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Slots, 1, nameof(options.Slots));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Mtu, 68, nameof(options.Mtu));
        var a = new MemoryLink(first.Name, first.Mac, first.Addresses, options);
        var b = new MemoryLink(second.Name, second.Mac, second.Addresses, options);
        a.Peer = b;
        b.Peer = a;
        return (a, b);
    }

    /// <summary>Wakes every waiting receiver; later receives return 0 at once.</summary>
    public void Dispose()
    {
        foreach (MemoryQueue queue in _queues)
        {
            queue.Close();
        }
    }

    internal MemoryQueue PeerQueueFor(int senderIndex) => Peer._queues[senderIndex % Peer._queues.Length];

    internal int IndexOf(MemoryQueue queue) => Array.IndexOf(_queues, queue);
}
