using Lvs.Core;

namespace Lvs.Devices;

/// <summary>
/// A link the director sends and receives Ethernet frames on: an AF_PACKET socket on an existing interface, a TAP
/// device, or a simulated link. It has one or more queues; each packet thread uses its own queue.
/// </summary>
public interface IFrameLink : IDisposable
{
    /// <summary>The interface's name (<c>eth0</c>, <c>lvs0</c>).</summary>
    string Name { get; }

    /// <summary>The link's MAC address: the source of every frame the director sends on it.</summary>
    MacAddress Mac { get; }

    /// <summary>The link's MTU (the largest IP packet, without the Ethernet header).</summary>
    int Mtu { get; }

    /// <summary>
    /// The link's addresses with their connected subnets: the interface's kernel addresses for an AF_PACKET link,
    /// the configured ones for a TAP device.
    /// </summary>
    IReadOnlyList<InetPrefix> Addresses { get; }

    /// <summary>The number of queues (packet threads that can use the link at once).</summary>
    int QueueCount { get; }

    /// <summary>Gets a queue.</summary>
    /// <param name="index">From 0 to <see cref="QueueCount"/> - 1.</param>
    /// <returns>The queue; one thread uses it at a time.</returns>
    IFrameQueue GetQueue(int index);
}
