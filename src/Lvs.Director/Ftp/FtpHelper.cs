using System.Collections.Concurrent;
using Lvs.ConnectionTracking;

namespace Lvs.Director.Ftp;

/// <summary>
/// The kernel's <c>ip_vs_ftp</c> application helper, for NAT connections to the configured control ports
/// (<see cref="DirectorOptions.FtpPorts"/>): the state of each control connection, dropped when it ends.
/// </summary>
internal sealed class FtpHelper(IReadOnlyList<ushort> ports)
{
    private readonly ushort[] _ports = [.. ports];
    private readonly ConcurrentDictionary<ConnectionHandle, FtpControl> _controls = new();

    /// <summary>Whether a NAT connection to this virtual port is an FTP control connection.</summary>
    public bool IsControlPort(ushort port) => Array.IndexOf(_ports, port) >= 0;

    /// <summary>The state of a control connection, created with its first packet (the kernel binds it when the connection is created).</summary>
    public FtpControl Control(ConnectionHandle connection) => _controls.GetOrAdd(connection, static _ => new FtpControl());

    /// <summary>Forgets a connection that ended.</summary>
    public void Forget(ConnectionHandle connection) => _controls.TryRemove(connection, out _);

    /// <summary>How many control connections have state (for tests).</summary>
    public int Count => _controls.Count;
}
