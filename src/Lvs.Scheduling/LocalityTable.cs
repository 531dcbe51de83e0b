using System.Collections.Concurrent;
using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// The per-destination-address table of lblc and lblcr with the kernel's garbage collection
/// (<c>ip_vs_lblc_check_expire</c>): a timer every 60 s; every 30th run drops the entries unused for the expiration
/// (24 h by default); otherwise, when the table holds more than 16384 entries, drops entries unused for 6 minutes
/// until 4/3 of the excess (at most half the maximum) is gone.
/// </summary>
/// <remarks>
/// Lookups are lock-free (<see cref="ConcurrentDictionary{TKey, TValue}"/>). Creating an entry for a destination seen for
/// the first time allocates it, as the kernel's <c>kmalloc(GFP_ATOMIC)</c> does; a hit allocates nothing. The kernel
/// scans its 1024 buckets from a rover; the dictionary is scanned in its own order.
/// </remarks>
/// <typeparam name="TEntry">The entry type.</typeparam>
internal sealed class LocalityTable<TEntry> : IDisposable
    where TEntry : LocalityEntry
{
    /// <summary>The kernel's <c>CHECK_EXPIRE_INTERVAL</c>.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(60);

    /// <summary>The kernel's <c>ENTRY_TIMEOUT</c>.</summary>
    public static readonly TimeSpan EntryTimeout = TimeSpan.FromMinutes(6);

    /// <summary>The kernel's maximum size: 16 entries per bucket of a 1024-bucket table.</summary>
    public const int MaxSize = BucketCount * 16;

    /// <summary>The kernel's table size in bits (<c>CONFIG_IP_VS_LBLC_TAB_BITS</c>, <c>CONFIG_IP_VS_LBLCR_TAB_BITS</c>: 10).</summary>
    internal const int BucketBits = 10;

    /// <summary>The kernel's bucket count (<c>IP_VS_LBLC_TAB_SIZE</c>), over which garbage collection walks.</summary>
    internal const int BucketCount = 1 << BucketBits;

    private const int CountForFullExpiration = 30;

    private readonly ConcurrentDictionary<InetAddress, TEntry> _entries = new();
    private readonly TimeProvider _time;
    private readonly long _expiration;
    private readonly long _entryTimeout;
    private readonly ITimer _timer;
    private int _counter = 1;
    private int _rover;

    /// <summary>Creates the table and starts its collection timer.</summary>
    /// <param name="time">The clock.</param>
    /// <param name="expiration">The full-check expiration (the <c>lblc_expiration</c> sysctl).</param>
    public LocalityTable(TimeProvider time, TimeSpan expiration)
    {
        _time = time;
        _expiration = ToTimestamp(expiration);
        _entryTimeout = ToTimestamp(EntryTimeout);
        _timer = time.CreateTimer(static state => ((LocalityTable<TEntry>)state!).CheckExpire(), this, CheckInterval, CheckInterval);
    }

    /// <summary>The number of entries.</summary>
    public int Count => _entries.Count;

    /// <summary>The current timestamp of the table's clock.</summary>
    public long Now => _time.GetTimestamp();

    /// <summary>The expiration in timestamp units.</summary>
    public long Expiration => _expiration;

    /// <summary>Finds the entry of a destination address.</summary>
    /// <param name="address">The destination address.</param>
    /// <param name="entry">The entry, when found.</param>
    /// <returns>True when found.</returns>
    public bool TryGet(InetAddress address, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TEntry? entry) =>
        _entries.TryGetValue(address, out entry);

    /// <summary>Stores an entry, replacing any other for the address.</summary>
    /// <param name="address">The destination address.</param>
    /// <param name="entry">The entry.</param>
    public void Set(InetAddress address, TEntry entry) => _entries[address] = entry;

    /// <summary>Stores an entry unless one exists.</summary>
    /// <param name="address">The destination address.</param>
    /// <param name="entry">The entry.</param>
    public void TryAdd(InetAddress address, TEntry entry) => _entries.TryAdd(address, entry);

    /// <summary>Visits every entry; the visitor returns false to drop it (used when servers are removed).</summary>
    /// <param name="keep">The visitor.</param>
    public void Retain(Func<TEntry, bool> keep)
    {
        foreach (var pair in _entries)
        {
            if (!keep(pair.Value))
            {
                _entries.TryRemove(pair);
            }
        }
    }

    /// <summary>One run of the kernel's periodic collection; the timer calls it every <see cref="CheckInterval"/>.</summary>
    internal void CheckExpire()
    {
        long now = Now;
        if (_counter % CountForFullExpiration == 0)
        {
            foreach (var pair in _entries)
            {
                if (now - pair.Value.LastUse >= _expiration)
                {
                    _entries.TryRemove(pair);
                }
            }

            _counter = 1;
            return;
        }

        int count = _entries.Count;
        if (count <= MaxSize)
        {
            _counter++;
            return;
        }

        // The kernel walks its buckets from the one after the rover and empties each of its idle entries, checking the
        // goal only between buckets, then leaves the rover at the last bucket it emptied. The entries are grouped by
        // the kernel's bucket here (once a minute, only over the maximum size, so the lists may be allocated).
        int goal = Math.Min((count - MaxSize) * 4 / 3, MaxSize / 2);
        var idle = new List<KeyValuePair<InetAddress, TEntry>>?[BucketCount];
        foreach (var pair in _entries)
        {
            if (now - pair.Value.LastUse >= _entryTimeout)
            {
                (idle[BucketOf(pair.Key)] ??= []).Add(pair);
            }
        }

        int j = _rover;
        for (int i = 0; i < BucketCount; i++)
        {
            j = (j + 1) & (BucketCount - 1);
            foreach (var pair in idle[j] ?? [])
            {
                if (_entries.TryRemove(pair))
                {
                    goal--;
                }
            }

            if (goal <= 0)
            {
                break;
            }
        }

        _rover = j;
    }

    /// <summary>
    /// The kernel's bucket of an entry (<c>ip_vs_lblc_hashkey</c>, <c>ip_vs_lblcr_hashkey</c>): <c>hash_32</c> of the
    /// folded address in host order over <see cref="BucketBits"/> bits.
    /// </summary>
    internal static int BucketOf(InetAddress address) => (int)KernelBucketHash.Hash32(KernelBucketHash.Fold(address), BucketBits);

    /// <summary>Stops the collection timer.</summary>
    public void Dispose() => _timer.Dispose();

    private long ToTimestamp(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);
}
