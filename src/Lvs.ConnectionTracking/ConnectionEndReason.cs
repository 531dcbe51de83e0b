namespace Lvs.ConnectionTracking;

/// <summary>Why a connection or template left a <see cref="ConnectionTable"/> (see <see cref="IConnectionEndObserver"/>).</summary>
public enum ConnectionEndReason : byte
{
    /// <summary>Its timer ran out (the kernel's <c>ip_vs_conn_expire</c>).</summary>
    Expired = 0,

    /// <summary><see cref="ConnectionTable.Remove"/> ended it (e.g. the director rescheduling a reused connection).</summary>
    Removed = 1,

    /// <summary><see cref="ConnectionTable.RemoveAllOf"/> ended it with all of its real server's entries (the kernel's <c>ip_vs_expire_nodest_conn_flush</c>).</summary>
    ServerRemoved = 2,

    /// <summary>A lookup found its real server unavailable with <see cref="ConnectionTableOptions.ExpireNoDestinationConnections"/> set.</summary>
    ServerUnavailable = 3,

    /// <summary>Flood defence dropped it to make room for a new entry (the kernel's <c>ip_vs_random_dropentry</c>).</summary>
    Dropped = 4,
}
