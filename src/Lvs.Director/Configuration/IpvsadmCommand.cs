using Lvs.Core;

namespace Lvs.Director.Configuration;

/// <summary>The ipvsadm commands a rules file may hold.</summary>
public enum IpvsadmCommandKind
{
    /// <summary><c>-A</c>, <c>--add-service</c>.</summary>
    AddService,

    /// <summary><c>-E</c>, <c>--edit-service</c>.</summary>
    EditService,

    /// <summary><c>-D</c>, <c>--delete-service</c>.</summary>
    DeleteService,

    /// <summary><c>-C</c>, <c>--clear</c>.</summary>
    Clear,

    /// <summary><c>-a</c>, <c>--add-server</c>.</summary>
    AddServer,

    /// <summary><c>-e</c>, <c>--edit-server</c>.</summary>
    EditServer,

    /// <summary><c>-d</c>, <c>--delete-server</c>.</summary>
    DeleteServer,

    /// <summary><c>--set tcp tcpfin udp</c>.</summary>
    SetTimeouts,

    /// <summary><c>-P</c>, <c>--add-laddr</c> of the FULLNAT forks: a local address (<c>-z</c>) for a service.</summary>
    AddLocalAddress,

    /// <summary><c>-Q</c>, <c>--del-laddr</c> of the FULLNAT forks.</summary>
    DeleteLocalAddress,
}

/// <summary>
/// One parsed ipvsadm command (one line of a rules file), with everything ipvsadm would send to the kernel: defaults
/// filled in (scheduler wlc, weight 1, direct routing, persistence 300 s when <c>-p</c> has no value) and the
/// destination port of direct-routing and tunnel servers set to the service's, as ipvsadm does.
/// </summary>
/// <param name="Kind">The command.</param>
/// <param name="File">The file it came from.</param>
/// <param name="Line">Its 1-based line.</param>
public sealed record IpvsadmCommand(IpvsadmCommandKind Kind, string File, int Line)
{
    /// <summary>The service (<c>-t</c>, <c>-u</c>, <c>-f</c>); default for <c>-C</c> and <c>--set</c>.</summary>
    public VirtualServiceKey Service { get; init; }

    /// <summary>The service's options for <c>-A</c> and <c>-E</c>; null otherwise.</summary>
    public VirtualServiceOptions? ServiceOptions { get; init; }

    /// <summary>The real server for <c>-a</c> and <c>-e</c> (all options), and <c>-d</c> (the endpoint); null otherwise.</summary>
    public RealServerOptions? Server { get; init; }

    /// <summary>The local address of <c>-P</c>/<c>-Q</c> (<c>-z</c>).</summary>
    public InetAddress LocalAddress { get; init; }

    /// <summary>The ESTABLISHED timeout of <c>--set</c> in seconds (0: unchanged).</summary>
    public int TcpTimeout { get; init; }

    /// <summary>The FIN_WAIT timeout of <c>--set</c> in seconds (0: unchanged).</summary>
    public int TcpFinTimeout { get; init; }

    /// <summary>The UDP timeout of <c>--set</c> in seconds (0: unchanged).</summary>
    public int UdpTimeout { get; init; }

    /// <summary>Where the command came from, as <c>file:line</c>.</summary>
    public string Location => $"{File}:{Line}";
}
