using System.Globalization;
using Lvs.Director;

namespace Lvs.Hosting;

/// <summary>
/// The kernel's IPVS sysctls (<c>/proc/sys/net/ipv4/vs/*</c>, <c>sysctl net.ipv4.vs.NAME=VALUE</c>) that change what
/// the director does, applied to its <see cref="DirectorOptions"/>: <c>conn_reuse_mode</c>, <c>expire_nodest_conn</c>,
/// <c>expire_quiescent_template</c>, <c>nat_icmp_send</c>, <c>pmtu_disc</c>, <c>run_estimation</c>, <c>schedule_icmp</c>, <c>secure_tcp</c>, <c>sloppy_tcp</c> and <c>sloppy_sctp</c>, with the kernel's value ranges. A
/// setting is <c>NAME=VALUE</c>; NAME may carry the <c>net.ipv4.vs.</c> prefix and spaces around <c>=</c> are allowed,
/// so lines of a sysctl.d file can be given as they are. Other IPVS sysctls are refused by name, never ignored.
/// </summary>
public static class IpvsSysctls
{
    private const string Prefix = "net.ipv4.vs.";

    /// <summary>The names this director applies.</summary>
    public static IReadOnlyList<string> Supported { get; } = ["conn_reuse_mode", "expire_nodest_conn", "expire_quiescent_template", "nat_icmp_send", "pmtu_disc", "run_estimation", "schedule_icmp", "secure_tcp", "sloppy_tcp", "sloppy_sctp"];

    /// <summary>Applies settings to engine options, in order (a later setting of the same name wins, as with sysctl).</summary>
    /// <param name="options">The options to start from.</param>
    /// <param name="settings">The settings, each <c>NAME=VALUE</c>.</param>
    /// <returns>The options with the settings applied.</returns>
    /// <exception cref="FormatException">A setting is malformed, names a sysctl this director does not apply, or its value is out of the kernel's range.</exception>
    public static DirectorOptions Apply(DirectorOptions options, IEnumerable<string> settings)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(settings);
        foreach (var setting in settings)
        {
            options = Apply(options, setting);
        }

        return options;
    }

    private static DirectorOptions Apply(DirectorOptions options, string setting)
    {
        int equals = setting.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new FormatException($"sysctl '{setting}': expected NAME=VALUE (conn_reuse_mode=3).");
        }

        var name = setting[..equals].Trim();
        var text = setting[(equals + 1)..].Trim();
        if (name.StartsWith(Prefix, StringComparison.Ordinal))
        {
            name = name[Prefix.Length..];
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
        {
            throw new FormatException($"sysctl {name}: '{text}' is not an integer.");
        }

        var connections = options.Connections;
        return name switch
        {
            "conn_reuse_mode" => options with { Connections = connections with { ConnectionReuseMode = InRange(name, value, 0, 3) } },
            "expire_nodest_conn" => options with { Connections = connections with { ExpireNoDestinationConnections = value != 0 } },
            "expire_quiescent_template" => options with { Connections = connections with { ExpireQuiescentTemplate = value != 0 } },
            "secure_tcp" => options with { Connections = connections with { SecureTcp = InRange(name, value, 0, 3) } },
            "nat_icmp_send" => options with { NatIcmpSend = value != 0 },
            "pmtu_disc" => options with { Forwarding = options.Forwarding with { TunnelPathMtuDiscovery = value != 0 } },
            "run_estimation" => options with { RunEstimation = value != 0 },
            "schedule_icmp" => options with { ScheduleIcmpErrors = value != 0 },
            "sloppy_tcp" => options with { SloppyTcp = value != 0 },
            "sloppy_sctp" => options with { SloppySctp = value != 0 },
            _ => throw new FormatException($"sysctl {name}: not an IPVS sysctl this director applies (it applies {string.Join(", ", Supported)})."),
        };
    }

    private static int InRange(string name, int value, int low, int high) =>
        value >= low && value <= high ? value : throw new FormatException($"sysctl {name}: {value} is out of range ({low} to {high}).");
}
