using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// Numbers the real servers that connections point to, so that each connection stores a 2-byte index instead of an
/// object reference (ten million references would cost 80 MB and GC card-marking on every write).
/// </summary>
/// <remarks>
/// Registration is rare and takes a lock; reading a server by its index is lock-free (the array is replaced, never
/// changed in place). Indexes are never reused, so a connection of a removed server still finds its server object.
/// </remarks>
public sealed class RealServerRegistry
{
    /// <summary>The most real servers a registry numbers (index 65535 means "no server").</summary>
    public const int MaxServers = ushort.MaxValue;

    private readonly Lock _lock = new();
    private readonly Dictionary<RealServer, int> _indexes = new(ReferenceEqualityComparer.Instance);
    private RealServer[] _servers = [];

    /// <summary>The number of registered servers.</summary>
    public int Count => Volatile.Read(ref _servers).Length;

    /// <summary>The server with an index.</summary>
    /// <param name="index">An index returned by <see cref="Register"/>.</param>
    /// <exception cref="IndexOutOfRangeException">The index was never returned.</exception>
    public RealServer this[int index] => Volatile.Read(ref _servers)[index];

    /// <summary>Returns the server's index, numbering it on first use.</summary>
    /// <param name="server">The server.</param>
    /// <returns>Its index, stable for the registry's lifetime.</returns>
    /// <exception cref="InvalidOperationException">More than <see cref="MaxServers"/> servers were registered.</exception>
    public int Register(RealServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        lock (_lock)
        {
            if (_indexes.TryGetValue(server, out int index))
            {
                return index;
            }

            var current = _servers;
            if (current.Length >= MaxServers)
            {
                throw new InvalidOperationException($"A registry numbers at most {MaxServers} real servers.");
            }

            var next = new RealServer[current.Length + 1];
            current.CopyTo(next, 0);
            next[^1] = server;
            _indexes.Add(server, current.Length);
            Volatile.Write(ref _servers, next);
            return current.Length;
        }
    }

    /// <summary>Finds the index of a registered server.</summary>
    /// <param name="server">The server.</param>
    /// <param name="index">Its index when registered.</param>
    /// <returns>True when registered.</returns>
    public bool TryGetIndex(RealServer server, out int index)
    {
        lock (_lock)
        {
            return _indexes.TryGetValue(server, out index);
        }
    }
}
