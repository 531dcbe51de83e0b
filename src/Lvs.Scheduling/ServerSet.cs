using Lvs.Core;

namespace Lvs.Scheduling;

/// <summary>Validates and copies the server list that <see cref="IScheduler.UpdateServers"/> receives.</summary>
internal static class ServerSet
{
    /// <summary>Copies the list into an array that a snapshot owns, rejecting nulls and duplicates.</summary>
    /// <param name="servers">The servers in list order.</param>
    /// <param name="sortByEndpoint">True to sort by (address, port): the hashing schedulers' tables then depend only on
    /// the set, not on the order in which servers were added.</param>
    /// <returns>The copy.</returns>
    public static RealServer[] Copy(IReadOnlyList<RealServer> servers, bool sortByEndpoint)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var copy = new RealServer[servers.Count];
        var endpoints = new HashSet<InetEndpoint>();
        for (int i = 0; i < copy.Length; i++)
        {
            var server = servers[i] ?? throw new ArgumentNullException(nameof(servers), "A server is null.");
            if (!endpoints.Add(server.Endpoint))
            {
                throw new ArgumentException($"The server {server.Endpoint} appears twice.", nameof(servers));
            }

            copy[i] = server;
        }

        if (sortByEndpoint)
        {
            Array.Sort(copy, CompareEndpoints);
        }

        return copy;
    }

    /// <summary>Orders servers by address, then port.</summary>
    /// <param name="x">A server.</param>
    /// <param name="y">Another server.</param>
    /// <returns>The order.</returns>
    public static int CompareEndpoints(RealServer x, RealServer y)
    {
        int byAddress = x.Address.CompareTo(y.Address);
        return byAddress != 0 ? byAddress : x.Port.CompareTo(y.Port);
    }
}
