using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// What a packet path needs to forward a packet of a tracked connection: its endpoints, its real server and its
/// forwarding method (the fields of the kernel's <c>ip_vs_conn</c> that <c>ip_vs_*_xmit</c> reads).
/// </summary>
/// <param name="Protocol">The transport protocol.</param>
/// <param name="Client">The client's endpoint (the inbound source).</param>
/// <param name="Virtual">The virtual service's endpoint (the inbound destination).</param>
/// <param name="Destination">The real server's endpoint.</param>
/// <param name="Local">The director's local endpoint of a full-NAT connection; default otherwise.</param>
/// <param name="RealServer">The real server's registry index.</param>
/// <param name="Method">The forwarding method.</param>
public readonly record struct ConnectionForwarding(
    L4Protocol Protocol,
    InetEndpoint Client,
    InetEndpoint Virtual,
    InetEndpoint Destination,
    InetEndpoint Local,
    int RealServer,
    ForwardingMethod Method);

public sealed partial class ConnectionTable
{
    /// <summary>
    /// Reads what forwarding a packet of the connection needs, without the clock or any allocation: the per-packet
    /// form of <see cref="TryGetInfo"/>. The read is validated by the entry's generation before and after, so a
    /// connection that ended or whose slot was reused under the reader is reported as ended.
    /// </summary>
    /// <param name="handle">The connection.</param>
    /// <param name="forwarding">The connection's endpoints, server and method when live.</param>
    /// <returns>False when the connection has ended.</returns>
    public bool TryGetForwarding(ConnectionHandle handle, out ConnectionForwarding forwarding)
    {
        if (handle.Tag != Tag)
        {
            // Another table's handle (or none).
            forwarding = default;
            return false;
        }

        return handle.IsIPv6 ? ReadForwarding(_v6, handle, out forwarding) : ReadForwarding(_v4, handle, out forwarding);
    }

    /// <summary>
    /// Reads only a connection's real server and forwarding method: the lookup part of its slot, which a lookup has just
    /// read, so no further cache line. Enough to forward direct-routing and tunnelled packets, whose rewrite needs no
    /// endpoint of the connection.
    /// </summary>
    /// <param name="handle">The connection.</param>
    /// <param name="realServer">The real server's registry index.</param>
    /// <param name="method">The forwarding method.</param>
    /// <returns>False when the connection has ended.</returns>
    public bool TryGetServer(ConnectionHandle handle, out int realServer, out ForwardingMethod method)
    {
        if (handle.Tag == Tag)
        {
            return handle.IsIPv6 ? ReadServer(_v6, handle, out realServer, out method) : ReadServer(_v4, handle, out realServer, out method);
        }

        realServer = -1;
        method = default;
        return false;
    }

    /// <summary>
    /// Reads what a NAT or full-NAT reply needs of its connection to be sent back to the client: the client and virtual
    /// service endpoints, the real server and the method, all on the lookup part of the slot (not the route line, which
    /// <see cref="TryGetForwarding"/> reads too for the destination and local endpoints).
    /// </summary>
    /// <param name="handle">The connection.</param>
    /// <param name="client">The client's endpoint.</param>
    /// <param name="virtualService">The virtual service's endpoint.</param>
    /// <param name="realServer">The real server's registry index.</param>
    /// <param name="method">The forwarding method.</param>
    /// <returns>False when the connection has ended.</returns>
    public bool TryGetReply(ConnectionHandle handle, out InetEndpoint client, out InetEndpoint virtualService, out int realServer, out ForwardingMethod method)
    {
        if (handle.Tag == Tag)
        {
            return handle.IsIPv6
                ? ReadReply(_v6, handle, out client, out virtualService, out realServer, out method)
                : ReadReply(_v4, handle, out client, out virtualService, out realServer, out method);
        }

        client = default;
        virtualService = default;
        realServer = -1;
        method = default;
        return false;
    }

    private static bool ReadReply<T>(ConnectionStore<T> store, ConnectionHandle handle, out InetEndpoint client, out InetEndpoint virtualService, out int realServer, out ForwardingMethod method)
        where T : unmanaged, IStoredAddress<T>
    {
        if (!store.TryReadWord(handle.Index, handle.Generation, out uint seen))
        {
            client = default;
            virtualService = default;
            realServer = -1;
            method = default;
            return false;
        }

        ref var e = ref store.EntryAt(handle.Index);
        client = new InetEndpoint(T.ToIpAddress(e.Client), e.ClientPort);
        virtualService = new InetEndpoint(T.ToIpAddress(e.Virtual), e.VirtualPort);
        realServer = e.RealServer;
        method = (ForwardingMethod)(e.Meta & ConnectionStore<T>.MethodMask);
        return ConnectionStore<T>.IsStillSame(ref e, seen, 0, out _);
    }

    private static bool ReadServer<T>(ConnectionStore<T> store, ConnectionHandle handle, out int realServer, out ForwardingMethod method)
        where T : unmanaged, IStoredAddress<T>
    {
        if (!store.TryReadWord(handle.Index, handle.Generation, out uint seen))
        {
            realServer = -1;
            method = default;
            return false;
        }

        ref var e = ref store.EntryAt(handle.Index);
        realServer = e.RealServer;
        method = (ForwardingMethod)(e.Meta & ConnectionStore<T>.MethodMask);
        return ConnectionStore<T>.IsStillSame(ref e, seen, 0, out _);
    }

    /// <summary>
    /// Starts loading the part of a connection's slot that <see cref="TryGetForwarding"/> reads beyond what a lookup
    /// read (the destination and local endpoints), so that a packet path finishing a batch of looked-up packets waits
    /// for DRAM once for the whole batch instead of once per packet. A hint: it does nothing for a handle that is not
    /// this table's.
    /// </summary>
    /// <param name="handle">A connection found by a lookup.</param>
    public void PrefetchForwarding(ConnectionHandle handle)
    {
        if (handle.Tag != Tag)
        {
            return;
        }

        if (handle.IsIPv6)
        {
            if ((uint)handle.Index < (uint)_v6.Capacity)
            {
                MemoryPrefetch.Line(ref _v6.RouteAt(handle.Index));
            }
        }
        else if ((uint)handle.Index < (uint)_v4.Capacity)
        {
            MemoryPrefetch.Line(ref _v4.RouteAt(handle.Index));
        }
    }

    private static bool ReadForwarding<T>(ConnectionStore<T> store, ConnectionHandle handle, out ConnectionForwarding forwarding)
        where T : unmanaged, IStoredAddress<T>
    {
        if (!handle.IsSome || !store.TryReadWord(handle.Index, handle.Generation, out uint seen))
        {
            forwarding = default;
            return false;
        }

        ref var e = ref store.EntryAt(handle.Index);
        ref var r = ref store.RouteAt(handle.Index);
        var method = (ForwardingMethod)(e.Meta & ConnectionStore<T>.MethodMask);
        forwarding = new ConnectionForwarding(
            (L4Protocol)e.Protocol,
            new InetEndpoint(T.ToIpAddress(e.Client), e.ClientPort),
            new InetEndpoint(T.ToIpAddress(e.Virtual), e.VirtualPort),
            new InetEndpoint(T.ToIpAddress(r.Destination), r.DestinationPort),
            method == ForwardingMethod.FullNat ? new InetEndpoint(T.ToIpAddress(r.Local), r.LocalPort) : default,
            e.RealServer,
            method);
        return ConnectionStore<T>.IsStillSame(ref e, seen, 0, out _);
    }
}
