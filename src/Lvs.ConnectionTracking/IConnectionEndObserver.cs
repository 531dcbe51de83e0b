namespace Lvs.ConnectionTracking;

/// <summary>
/// Told of every connection and template that leaves a <see cref="ConnectionTable"/>, exactly once (set with
/// <see cref="ConnectionTableOptions.EndObserver"/>): a director releases what it holds per connection here, such as
/// a full-NAT local port.
/// </summary>
/// <remarks>
/// <para>
/// The call comes after the entry is unlinked and its real server's counters are released (a lookup no longer finds
/// it, and its full-NAT local port may be reused at once), on the thread that removed it: a packet thread for
/// <see cref="ConnectionTable.Remove"/>, a lookup with expire_nodest_conn and an add that drops an entry to make room;
/// the housekeeping thread for expiry. It is never made while the table holds a lock that packet threads wait on:
/// ends found under the writer lock are reported once it is released.
/// </para>
/// <para>
/// The observer must be quick and must not throw (an exception reaches the thread that removed the entry, and the
/// other ends of the same batch are then not reported). It may call the table, except <see cref="ConnectionTable.RunHousekeeping"/>.
/// Disposing the table reports nothing.
/// </para>
/// </remarks>
public interface IConnectionEndObserver
{
    /// <summary>A connection or template has left the table.</summary>
    /// <param name="ended">What it was and why it ended.</param>
    void OnConnectionEnded(in ConnectionEnd ended);
}
