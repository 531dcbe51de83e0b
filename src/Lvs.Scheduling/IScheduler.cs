using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// A connection scheduler of one virtual service (the kernel's <c>ip_vs_scheduler</c>): it picks the real server
/// that a new connection goes to.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Pick"/> is called per new connection from several packet threads at once; it never blocks, never
/// allocates on its steady path and never throws on packet data. <see cref="UpdateServers"/> is the kernel's
/// <c>add_dest</c>/<c>del_dest</c>/<c>upd_dest</c>: the control plane calls it whenever the server set or a weight
/// changes, and the scheduler rebuilds its tables then into an immutable snapshot that it publishes with a single
/// reference write, so that a pick never sees a half-built table.
/// </para>
/// <para>
/// A returned server is always schedulable at the time of the pick: available, weight above 0 and not overloaded
/// (<see cref="RealServer.IsSchedulable"/>), except that lblc's cache hit, like the kernel's, ignores the connection
/// threshold flag (<see cref="RealServer.IsOverloaded"/>). Once <see cref="UpdateServers"/> has returned, no pick
/// returns a server outside the list it was given (or a later one), whatever picks run concurrently. A server's
/// identity is its endpoint: a list of new objects with the same endpoints keeps positions and tables.
/// </para>
/// </remarks>
public interface IScheduler
{
    /// <summary>The ipvsadm name of the scheduler (<c>rr</c>, <c>wlc</c>, <c>mh</c>, ...).</summary>
    string Name { get; }

    /// <summary>
    /// Replaces the server set, or tells the scheduler that a weight changed: rebuilds the scheduler's tables off
    /// the hot path and publishes them atomically. Safe from any thread while picks run; concurrent calls are each applied
    /// whole, the last one published wins.
    /// </summary>
    /// <param name="servers">The service's real servers in the service's list order (which round-robin and the
    /// least-connection tie-breaks follow); servers with weight 0 stay in the list, quiesced.</param>
    /// <exception cref="ArgumentNullException"><paramref name="servers"/> or one of its items is null.</exception>
    /// <exception cref="ArgumentException">The same server, or the same endpoint, appears twice.</exception>
    void UpdateServers(IReadOnlyList<RealServer> servers);

    /// <summary>
    /// Tells the scheduler that a server of its list was edited (ipvsadm <c>-e</c>), whether or not anything about it
    /// changed: the kernel calls the scheduler's <c>upd_dest</c> on every edit, and wrr's (<c>ip_vs_wrr_dest_changed</c>)
    /// restarts its scan at the list head even when the weights are the same. Call it after <see cref="UpdateServers"/>
    /// has been given the list that holds the server. Schedulers whose state an unchanged server cannot move do nothing
    /// (the default).
    /// </summary>
    /// <param name="server">The edited server.</param>
    void ServerEdited(RealServer server)
    {
    }

    /// <summary>Picks the real server for a new connection.</summary>
    /// <param name="flow">The connection's first packet: the hashing schedulers read its source or destination.</param>
    /// <returns>The server, or null when no server can take the connection (the kernel's "no destination available").</returns>
    RealServer? Pick(in FlowKey flow);
}
