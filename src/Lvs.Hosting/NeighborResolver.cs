using System.Collections.Concurrent;
using Lvs.Core;
using Lvs.Devices.Neighbors;
using Lvs.Director;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lvs.Hosting;

/// <summary>
/// The director's side of ARP and IPv6 neighbour discovery (the kernel's <c>neigh_timer_handler</c> over
/// <see cref="DirectorEngine.Neighbors"/>): resolves the neighbours packet threads ask for (a broadcast ARP request or
/// a solicitation to the solicited-node address, repeated <c>mcast_solicit</c> times every <c>retrans_time</c>, then
/// failed), keeps the neighbours in use confirmed (a unicast probe when the randomised reachable time has passed; no
/// answer after <c>ucast_solicit</c> probes forgets the MAC address), forgets entries nobody asked for after
/// <c>gc_stale_time</c>, and announces every address the director owns (gratuitous ARP, unsolicited neighbour
/// advertisements) when it starts and when the table adds one.
/// </summary>
/// <remarks>
/// Packet threads send the first request themselves (<see cref="Request"/>), as the kernel does on the first packet;
/// retries, probes and announcements go through <see cref="Outbox"/>, which the thread owning queue 0 of every link
/// sends between batches.
/// </remarks>
public sealed class NeighborResolver : IDisposable
{
    private readonly DirectorEngine _engine;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<NeighborEntry, NeighborResolution> _states = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<(int Link, InetAddress Address)> _announced = [];
    private readonly Lock _gate = new();
    private readonly byte[] _scratch = new byte[ControlFrameOutbox.SlotSize];
    private ITimer? _timer;
    private long _lastCollectionTicks;

    /// <summary>Creates the resolver (not started).</summary>
    /// <param name="engine">The engine whose neighbour table it keeps.</param>
    /// <param name="parameters">The cache parameters; null: the kernel's defaults.</param>
    /// <param name="timeProvider">The clock (the engine's); null: the system clock.</param>
    /// <param name="random">The source of the randomised reachable time; null: a shared one.</param>
    /// <param name="loggerFactory">Logging; null: none.</param>
    public NeighborResolver(DirectorEngine engine, NeighborParameters? parameters = null, TimeProvider? timeProvider = null, Random? random = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engine = engine;
        Parameters = parameters ?? NeighborParameters.Default;
        Parameters.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _random = random ?? Random.Shared;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Lvs.Hosting.Neighbors");
    }

    /// <summary>The cache parameters.</summary>
    public NeighborParameters Parameters { get; }

    /// <summary>How often the timer runs: a quarter of <c>retrans_time</c>, at most 250 ms.</summary>
    public TimeSpan TickInterval => TimeSpan.FromTicks(Math.Min(Parameters.RetransmitTime.Ticks / 4, TimeSpan.FromMilliseconds(250).Ticks));

    /// <summary>The frames the resolver sends off the packet path, sent by the packet thread of queue 0.</summary>
    internal ControlFrameOutbox Outbox { get; } = new();

    /// <summary>The longest a packet thread holds frames for one resolution: every request and one more interval.</summary>
    internal long MaxHoldTicks => Parameters.RetransmitTime.Ticks * (Parameters.MulticastProbes + 1);

    /// <summary>Announces every owned address, follows the table for new ones, and starts the timer.</summary>
    public void Start()
    {
        lock (_gate)
        {
            if (_timer is not null)
            {
                return;
            }

            _lastCollectionTicks = Now();
            _engine.Table.Changed += OnTableChanged;
            AnnounceNew();
            _timer = _time.CreateTimer(static state => ((NeighborResolver)state!).Tick(), this, TickInterval, TickInterval);
        }
    }

    /// <summary>Stops the timer and stops following the table.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            _engine.Table.Changed -= OnTableChanged;
            _timer?.Dispose();
            _timer = null;
        }
    }

    /// <inheritdoc />
    public void Dispose() => Stop();

    /// <summary>Announces every address the director owns on every link again (gratuitous ARP, unsolicited NA).</summary>
    public void AnnounceAll()
    {
        lock (_gate)
        {
            _announced.Clear();
            AnnounceNew();
        }
    }

    /// <summary>
    /// A packet thread needs <paramref name="entry"/>: starts its resolution unless one is under way, writing the first
    /// request into <paramref name="probe"/> for the caller to send at once. Allocates only the first time a
    /// neighbour is asked for.
    /// </summary>
    internal NeighborResolution Request(NeighborEntry entry, Span<byte> probe, out int probeLength)
    {
        var state = _states.GetOrAdd(entry, static e => new NeighborResolution(e));
        probeLength = 0;
        int phase = Volatile.Read(ref state.Phase);
        if (phase is NeighborResolution.Starting or NeighborResolution.Incomplete || entry.IsResolved)
        {
            return state;
        }

        if (Interlocked.CompareExchange(ref state.Phase, NeighborResolution.Starting, phase) != phase)
        {
            return state;
        }

        long now = Now();
        state.StartedTicks = now;
        state.ProbesSent = 1;
        state.NextProbeTicks = now + Parameters.RetransmitTime.Ticks;
        probeLength = WriteProbe(probe, entry, unicastTo: null);
        Volatile.Write(ref state.Phase, NeighborResolution.Incomplete);
        return state;
    }

    /// <summary>One timer step: retries, confirmations, probes, failures and the collection of stale entries.</summary>
    internal void Tick()
    {
        lock (_gate)
        {
            long now = Now();
            foreach (var state in _states.Values)
            {
                Step(state, now);
            }

            if (now - _lastCollectionTicks >= Parameters.GcStaleTime.Ticks / 2)
            {
                _lastCollectionTicks = now;
                Collect(now);
            }
        }
    }

    private void Step(NeighborResolution state, long now)
    {
        var entry = state.Entry;
        switch (Volatile.Read(ref state.Phase))
        {
            case NeighborResolution.Incomplete:
                if (entry.IsResolved && entry.Updated.UtcTicks >= state.StartedTicks)
                {
                    Confirm(state, NeighborResolution.Incomplete);
                }
                else if (now >= state.NextProbeTicks)
                {
                    if (state.ProbesSent < Parameters.MulticastProbes)
                    {
                        Send(entry, unicastTo: null);
                        state.ProbesSent++;
                        state.NextProbeTicks = now + Parameters.RetransmitTime.Ticks;
                    }
                    else
                    {
                        Fail(state, NeighborResolution.Incomplete);
                    }
                }

                break;
            case NeighborResolution.Reachable:
                if (!entry.TryGetMac(out var mac))
                {
                    _ = Interlocked.CompareExchange(ref state.Phase, NeighborResolution.Idle, NeighborResolution.Reachable);
                }
                else if (entry.Updated.UtcTicks > state.ConfirmedTicks)
                {
                    Confirm(state, NeighborResolution.Reachable);
                }
                else if (now >= state.ReachableUntilTicks && Parameters.UnicastProbes > 0)
                {
                    // In use and no longer known to be reachable: ask the neighbour itself (the kernel's PROBE); its
                    // MAC address stays in use meanwhile.
                    state.StartedTicks = now;
                    state.ProbesSent = 1;
                    state.NextProbeTicks = now + Parameters.RetransmitTime.Ticks;
                    Send(entry, mac);
                    _ = Interlocked.CompareExchange(ref state.Phase, NeighborResolution.Probe, NeighborResolution.Reachable);
                }

                break;
            case NeighborResolution.Probe:
                if (!entry.TryGetMac(out var known))
                {
                    _ = Interlocked.CompareExchange(ref state.Phase, NeighborResolution.Idle, NeighborResolution.Probe);
                }
                else if (entry.Updated.UtcTicks >= state.StartedTicks)
                {
                    Confirm(state, NeighborResolution.Probe);
                }
                else if (now >= state.NextProbeTicks)
                {
                    if (state.ProbesSent < Parameters.UnicastProbes)
                    {
                        Send(entry, known);
                        state.ProbesSent++;
                        state.NextProbeTicks = now + Parameters.RetransmitTime.Ticks;
                    }
                    else
                    {
                        _engine.Neighbors.Invalidate(entry.Link, entry.Address);
                        Fail(state, NeighborResolution.Probe);
                    }
                }

                break;
            default:
                break;
        }
    }

    private void Confirm(NeighborResolution state, int from)
    {
        state.ConfirmedTicks = state.Entry.Updated.UtcTicks;
        state.ReachableUntilTicks = state.ConfirmedTicks + Parameters.RandomReachableTime(_random).Ticks;
        if (Interlocked.CompareExchange(ref state.Phase, NeighborResolution.Reachable, from) == from && from != NeighborResolution.Reachable)
        {
            HostingLog.NeighborResolved(_logger, state.Entry.Address, state.Entry.Link);
        }
    }

    private void Fail(NeighborResolution state, int from)
    {
        if (Interlocked.CompareExchange(ref state.Phase, NeighborResolution.Failed, from) == from)
        {
            _ = Interlocked.Increment(ref state.Failures);
            HostingLog.NeighborFailed(_logger, state.Entry.Address, state.Entry.Link, state.ProbesSent);
        }
    }

    /// <summary>Forgets the MAC address of entries nobody asked the resolver for and nobody confirmed for gc_stale_time (learned from ARP or NDP in passing).</summary>
    private void Collect(long now)
    {
        foreach (var entry in _engine.Neighbors.Entries)
        {
            if (!entry.IsResolved || now - entry.Updated.UtcTicks <= Parameters.GcStaleTime.Ticks)
            {
                continue;
            }

            if (_states.TryGetValue(entry, out var state) && Volatile.Read(ref state.Phase) is not (NeighborResolution.Idle or NeighborResolution.Failed))
            {
                continue;
            }

            _engine.Neighbors.Invalidate(entry.Link, entry.Address);
        }
    }

    private void Send(NeighborEntry entry, MacAddress? unicastTo)
    {
        int length = WriteProbe(_scratch, entry, unicastTo);
        if (length > 0)
        {
            _ = Outbox.TryEnqueue(entry.Link, _scratch.AsSpan(0, length));
        }
    }

    private int WriteProbe(Span<byte> destination, NeighborEntry entry, MacAddress? unicastTo)
    {
        var links = _engine.Links;
        if ((uint)entry.Link >= (uint)links.Count)
        {
            return 0;
        }

        var link = links[entry.Link];
        var source = SourceAddress(link, entry.Address);
        return entry.Address.IsIPv4
            ? ArpFrameWriter.WriteRequest(destination, link.Mac, source, entry.Address, unicastTo)
            : NeighborDiscoveryFrameWriter.WriteSolicitation(destination, link.Mac, source, entry.Address, unicastTo);
    }

    /// <summary>The link's own address in the target's subnet, else its first of the family, else an address the director owns there, else the unspecified address.</summary>
    private InetAddress SourceAddress(DirectorLink link, InetAddress target)
    {
        var addresses = link.Addresses;
        for (int i = 0; i < addresses.Count; i++)
        {
            if (addresses[i].Contains(target))
            {
                return addresses[i].Address;
            }
        }

        if (link.TryGetSourceAddress(target.IsIPv6, out var first))
        {
            return first;
        }

        var owned = _engine.GetOwnedAddresses(link.Index);
        for (int i = 0; i < owned.Count; i++)
        {
            if (owned[i].IsIPv6 == target.IsIPv6)
            {
                return owned[i];
            }
        }

        return target.IsIPv4 ? InetAddress.IPv4Any : InetAddress.IPv6Any;
    }

    private void OnTableChanged(ServiceTableSnapshot snapshot)
    {
        lock (_gate)
        {
            AnnounceNew();
        }
    }

    /// <summary>Announces each owned address not announced yet (under the gate).</summary>
    private void AnnounceNew()
    {
        var now = new HashSet<(int, InetAddress)>();
        foreach (var link in _engine.Links)
        {
            foreach (var address in _engine.GetOwnedAddresses(link.Index))
            {
                _ = now.Add((link.Index, address));
                if (_announced.Contains((link.Index, address)))
                {
                    continue;
                }

                int length = address.IsIPv4
                    ? ArpFrameWriter.WriteGratuitous(_scratch, link.Mac, address)
                    : NeighborDiscoveryFrameWriter.WriteUnsolicitedAdvertisement(_scratch, link.Mac, address);
                if (Outbox.TryEnqueue(link.Index, _scratch.AsSpan(0, length)))
                {
                    HostingLog.Announced(_logger, address, link.Name);
                }
            }
        }

        // An address that went away and comes back is announced again.
        _announced.Clear();
        _announced.UnionWith(now);
    }

    private long Now() => _time.GetUtcNow().UtcTicks;
}
