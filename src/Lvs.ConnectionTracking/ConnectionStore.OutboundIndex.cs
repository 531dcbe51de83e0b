using System.Runtime.CompilerServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <content>
/// The part of <see cref="ConnectionStore{TAddress}"/> for the outbound index: chains of NAT and full-NAT connections by their reply key (lock-free lookups).
/// </content>
internal sealed partial class ConnectionStore<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    /// <summary>Finds a live connection by its reply key, in every partition (the calling thread's first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindOutbound(byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out int index, out uint word)
    {
        int bucket = OutboundBucket(protocol, source, sourcePort, destination, destinationPort);
        if (TryFindOutbound(bucket, protocol, source, sourcePort, destination, destinationPort, out index, out word))
        {
            return true;
        }

        for (int k = 1; k <= _partitionMask; k++)
        {
            if (TryFindOutbound(OutboundBucketIn(bucket, (CallerPartition + k) & _partitionMask), protocol, source, sourcePort, destination, destinationPort, out index, out word))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The outbound bucket of a reply key in the calling thread's partition (which bits 24 and up hold).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int OutboundBucket(byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort) =>
        OutboundBucket(protocol, source, sourcePort, destination, destinationPort, CallerPartition);

    /// <summary>The outbound bucket of a reply key in index partition <paramref name="partition"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int OutboundBucket(byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, int partition) =>
        BucketOf(FlowHashKey<TAddress>.Hash(FlowHashKey<TAddress>.OutboundKind, protocol, source, sourcePort, destination, destinationPort, _secret), _outBuckets)
        | (partition << OutboundPartitionShift);

    /// <summary>Asks the CPU to start loading an outbound bucket's chain head (a batched lookup's first stage).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchOutboundHead(int bucket) => MemoryPrefetch.Line(ref OutboundHeadOf(bucket));

    /// <summary>Reads an outbound bucket's chain head (for batched lookups).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int OutboundHead(int bucket) => Volatile.Read(ref OutboundHeadOf(bucket));

    /// <summary>Asks the CPU to start loading both parts of a slot (an outbound walk reads the route and the entry); ignores a link outside the slab.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchSlot(int index)
    {
        MemoryPrefetch.Line(ref _entries.AtOrSentinel(index));
        if ((uint)index < (uint)_routes.Length)
        {
            MemoryPrefetch.Line(ref _routes[index]);
        }
    }

    /// <summary>
    /// A batched outbound lookup's chain stage: the next outbound link after the slot at <paramref name="index"/>, or -1
    /// when that slot's client (NAT) or local (full NAT) endpoint is the reply's destination (it becomes the
    /// <paramref name="candidate"/>; the server endpoint would not tell, as it is shared by all the server's connections) or the link
    /// leaves the slab. Read racily, for prefetching only: a changed entry costs at most a useless or a missed prefetch, since a candidate is checked in full.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int NextOutboundCandidate(int index, TAddress peer, ushort peerPort, ref int candidate)
    {
        if ((uint)index >= (uint)_routes.Length)
        {
            return -1;
        }

        ref var r = ref _routes[index];
        ref var e = ref _entries[index];
        int next = Volatile.Read(ref r.NextOut);
        bool match = ((e.ClientPort == peerPort) & TAddress.AreEqual(e.Client, peer)) | ((r.LocalPort == peerPort) & TAddress.AreEqual(r.Local, peer));
        candidate = match ? index : candidate;
        return match ? -1 : next;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryFindOutbound(int bucket, byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out int index, out uint word)
    {
        ref int head = ref OutboundHeadOf(bucket);

        // First a walk without the stripe's version, whose line the partition's writer bumps on every removal: a hit
        // needs none (the slot's word confirms it), nor a miss in an empty chain (nothing was in it when the head was
        // read); nearly every reply is one or the other.
        int first = Volatile.Read(ref head);
        if ((uint)first >= (uint)_entries.Length)
        {
            return Missed(out index, out word);
        }

        if (TryWalkOutbound(first, protocol, source, sourcePort, destination, destinationPort, out index, out word, out _))
        {
            return true;
        }

        // Not found in a chain that may have changed under the walk: again, under the version.
        ref int version = ref _outVersions[OutboundStripe(bucket)];
        while (true)
        {
            int before = Volatile.Read(ref version);
            if (TryWalkOutbound(Volatile.Read(ref head), protocol, source, sourcePort, destination, destinationPort, out index, out word, out bool ended))
            {
                return true;
            }

            if (ended && Volatile.Read(ref version) == before)
            {
                return Missed(out index, out word);
            }
        }
    }

    /// <summary>
    /// Walks an outbound chain from <paramref name="i"/> for a live entry with the reply's key; <paramref name="ended"/>
    /// tells whether a miss reached the chain's end (rather than the step limit a changing chain can send a walk into).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryWalkOutbound(int i, byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out int index, out uint word, out bool ended)
    {
        int steps = 0;
        while ((uint)i < (uint)_entries.Length && ++steps < MaxSteps)
        {
            ref var r = ref _routes[i];
            if (OutboundMatches(ref _entries[i], ref r, protocol, source, sourcePort, destination, destinationPort, out word))
            {
                index = i;
                ended = false;
                return true;
            }

            i = Volatile.Read(ref r.NextOut);
        }

        ended = (uint)i >= (uint)_entries.Length;
        return Missed(out index, out word);
    }

    /// <summary>The outbound form of <see cref="TryMatchInbound"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryMatchOutbound(int index, byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out uint word)
    {
        if ((uint)index >= (uint)_routes.Length)
        {
            word = 0;
            return false;
        }

        return OutboundMatches(ref _entries[index], ref _routes[index], protocol, source, sourcePort, destination, destinationPort, out word);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool OutboundMatches(ref ConnectionEntry<TAddress> e, ref ConnectionRoute<TAddress> r, byte protocol, TAddress source, ushort sourcePort, TAddress destination, ushort destinationPort, out uint word)
    {
        uint w = Volatile.Read(ref e.Word);
        if ((w & LiveBit) != 0
            && r.DestinationPort == sourcePort
            && e.Protocol == protocol
            && TAddress.AreEqual(r.Destination, source)
            && OutboundPeerMatches(ref e, ref r, destination, destinationPort))
        {
            return IsStillSame(ref e, w, 0, out word);
        }

        word = 0;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool OutboundPeerMatches(ref ConnectionEntry<TAddress> e, ref ConnectionRoute<TAddress> r, TAddress peer, ushort peerPort) =>
        (ForwardingMethod)(e.Meta & MethodMask) == ForwardingMethod.FullNat
            ? r.LocalPort == peerPort && TAddress.AreEqual(r.Local, peer)
            : e.ClientPort == peerPort && TAddress.AreEqual(e.Client, peer);

    /// <summary>The outbound bucket of the connection at <paramref name="index"/>, in its slot's partition.</summary>
    private int OutboundBucket(int index)
    {
        ref var e = ref _entries[index];
        ref var r = ref _routes[index];
        bool fullNat = (ForwardingMethod)(e.Meta & MethodMask) == ForwardingMethod.FullNat;
        return OutboundBucket(e.Protocol, r.Destination, r.DestinationPort, fullNat ? r.Local : e.Client, fullNat ? r.LocalPort : e.ClientPort, PartitionOf(index));
    }
}
