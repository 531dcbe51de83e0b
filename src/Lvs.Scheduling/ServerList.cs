using System.Collections;
using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>
/// A virtual service's real servers in the kernel's list order: <see cref="Add"/> puts a new server at the head, as
/// <c>list_add_rcu</c> in the kernel's <c>__ip_vs_update_dest</c> does for every added destination, so the order is the
/// reverse of the order of addition. rr, wrr, sh, dh and the least-connection tie-breaks follow this order, so feeding
/// it to <see cref="IScheduler.UpdateServers"/> reproduces the kernel's sequences and tables for rules replayed in the
/// order <c>ipvsadm -a</c> ran (ipvsadm's listing sorts by address unless <c>--nosort</c>, which shows the real order).
/// </summary>
/// <remarks>
/// A server's identity is its endpoint: adding an endpoint the list holds throws, <see cref="Update"/> replaces a server
/// in place (ipvsadm <c>-e</c> keeps the position), and <see cref="Remove"/> deletes by endpoint. A collection
/// initializer or expression (<c>[a, b, c]</c>) adds in order as well, so it lists c, b, a. Not thread-safe: the
/// control plane edits it, then passes it to <see cref="IScheduler.UpdateServers"/>, which copies it.
/// </remarks>
/// <example>
/// <code>
/// var list = new ServerList();
/// list.Add(a);               // ipvsadm -a ... -r A
/// list.Add(b);               // ipvsadm -a ... -r B
/// scheduler.UpdateServers(list);   // order B, A, as the kernel's list
/// </code>
/// </example>
public sealed class ServerList : IReadOnlyList<RealServer>
{
    private readonly List<RealServer> _servers = [];

    /// <summary>Creates an empty list.</summary>
    public ServerList()
    {
    }

    /// <summary>Creates the list the kernel builds when the servers are added one by one in this order.</summary>
    /// <param name="addedInOrder">The servers in the order they were added (the first added ends up last).</param>
    /// <exception cref="ArgumentException">An endpoint appears twice.</exception>
    public ServerList(IEnumerable<RealServer> addedInOrder)
    {
        ArgumentNullException.ThrowIfNull(addedInOrder);
        foreach (var server in addedInOrder)
        {
            Add(server);
        }
    }

    /// <inheritdoc/>
    public int Count => _servers.Count;

    /// <inheritdoc/>
    public RealServer this[int index] => _servers[index];

    /// <summary>The kernel's list order of servers added one by one in the given order: that order reversed.</summary>
    /// <param name="addedInOrder">The servers in the order they were added.</param>
    /// <returns>The servers in the kernel's list order, the last added first.</returns>
    /// <exception cref="ArgumentException">An endpoint appears twice.</exception>
    public static RealServer[] InKernelOrder(IEnumerable<RealServer> addedInOrder) => [.. new ServerList(addedInOrder)];

    /// <summary>Adds a server at the head of the list (ipvsadm <c>-a</c>).</summary>
    /// <param name="server">The server.</param>
    /// <exception cref="ArgumentException">The list already holds a server with this endpoint.</exception>
    public void Add(RealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (IndexOf(server.Endpoint) >= 0)
        {
            throw new ArgumentException($"The list already holds {server.Endpoint}.", nameof(server));
        }

        _servers.Insert(0, server);
    }

    /// <summary>Replaces the server with the same endpoint where it stands (ipvsadm <c>-e</c>).</summary>
    /// <param name="server">The new server object.</param>
    /// <returns>False when no server has its endpoint.</returns>
    public bool Update(RealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        int index = IndexOf(server.Endpoint);
        if (index < 0)
        {
            return false;
        }

        _servers[index] = server;
        return true;
    }

    /// <summary>Removes the server with this endpoint (ipvsadm <c>-d</c>).</summary>
    /// <param name="endpoint">The server's address and port.</param>
    /// <returns>False when no server has this endpoint.</returns>
    public bool Remove(InetEndpoint endpoint)
    {
        int index = IndexOf(endpoint);
        if (index < 0)
        {
            return false;
        }

        _servers.RemoveAt(index);
        return true;
    }

    /// <summary>The position of the server with this endpoint, 0 for the head.</summary>
    /// <param name="endpoint">The server's address and port.</param>
    /// <returns>The index, or -1.</returns>
    public int IndexOf(InetEndpoint endpoint) => _servers.FindIndex(s => s.Endpoint == endpoint);

    /// <inheritdoc/>
    public IEnumerator<RealServer> GetEnumerator() => _servers.GetEnumerator();

    /// <inheritdoc/>
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
