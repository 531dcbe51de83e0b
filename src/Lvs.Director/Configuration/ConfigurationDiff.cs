using System.Text;
using Lvs.Core;

namespace Lvs.Director.Configuration;

/// <summary>What a reload does to an entry of the table.</summary>
public enum ConfigurationChangeKind
{
    /// <summary>Added (ipvsadm <c>-A</c>, <c>-a</c>).</summary>
    Added,

    /// <summary>Changed in place, its connections kept (ipvsadm <c>-E</c>, <c>-e</c>).</summary>
    Changed,

    /// <summary>Removed (ipvsadm <c>-D</c>, <c>-d</c>); its connections go on to their end unless expire_nodest_conn.</summary>
    Removed,
}

/// <summary>A virtual service a reload adds, changes or removes.</summary>
/// <param name="Kind">What happens to it.</param>
/// <param name="Key">The service.</param>
/// <param name="Old">Its running options; null when added.</param>
/// <param name="New">Its new options; null when removed.</param>
public sealed record ServiceChange(ConfigurationChangeKind Kind, VirtualServiceKey Key, VirtualServiceOptions? Old, VirtualServiceOptions? New)
{
    /// <summary>The change as an ipvsadm command (<c>-A</c>, <c>-E</c>, <c>-D</c>), with the old options of an edit.</summary>
    /// <returns>One line.</returns>
    public override string ToString() => Kind switch
    {
        ConfigurationChangeKind.Added => $"+ -A {IpvsadmListing.ServiceRule(New!)}",
        ConfigurationChangeKind.Changed => $"~ -E {IpvsadmListing.ServiceRule(New!)} (was -E {IpvsadmListing.ServiceRule(Old!)})",
        _ => $"- -D {IpvsadmListing.ServiceName(Key)}",
    };
}

/// <summary>A real server a reload adds, changes or removes.</summary>
/// <param name="Kind">What happens to it.</param>
/// <param name="Service">Its service.</param>
/// <param name="Endpoint">The server.</param>
/// <param name="Old">Its running options; null when added.</param>
/// <param name="New">Its new options; null when removed.</param>
public sealed record RealServerChange(ConfigurationChangeKind Kind, VirtualServiceKey Service, InetEndpoint Endpoint, RealServerOptions? Old, RealServerOptions? New)
{
    /// <summary>The change as an ipvsadm command (<c>-a</c>, <c>-e</c>, <c>-d</c>), with the old options of an edit.</summary>
    /// <returns>One line.</returns>
    public override string ToString() => Kind switch
    {
        ConfigurationChangeKind.Added => $"+ -a {Rule(New!)}",
        ConfigurationChangeKind.Changed => $"~ -e {Rule(New!)} (was -e {Rule(Old!)})",
        _ => $"- -d {IpvsadmListing.ServiceName(Service)} -r {new InetEndpoint(Endpoint.Address, Endpoint.Port)}",
    };

    private string Rule(RealServerOptions options)
    {
        string text = IpvsadmListing.ServerRule(Service, options.Endpoint, options.Method, options.Weight, options.TunnelType, options.TunnelPort, options.TunnelFlags);
        if (options.UpperThreshold > 0)
        {
            text += $" -x {options.UpperThreshold}";
        }

        if (options.LowerThreshold > 0)
        {
            text += $" -y {options.LowerThreshold}";
        }

        return text;
    }
}

/// <summary>
/// The difference between the running table and a configuration: the services and real servers a reload adds,
/// changes and removes (<see cref="ConfigurationReload"/>). Printed, one change a line, as the ipvsadm commands that
/// do it.
/// </summary>
public sealed class ConfigurationDiff
{
    internal ConfigurationDiff(IReadOnlyList<ServiceChange> services, IReadOnlyList<RealServerChange> realServers)
    {
        Services = services;
        RealServers = realServers;
    }

    /// <summary>The services added, changed and removed, in the configuration's order (removed ones last).</summary>
    public IReadOnlyList<ServiceChange> Services { get; }

    /// <summary>The real servers added, changed and removed, by service in the configuration's order.</summary>
    public IReadOnlyList<RealServerChange> RealServers { get; }

    /// <summary>Whether the configuration is what runs.</summary>
    public bool IsEmpty => Services.Count == 0 && RealServers.Count == 0;

    /// <summary>The changes, one a line: <c>+</c> added, <c>~</c> changed (with what it was), <c>-</c> removed.</summary>
    /// <returns>The lines, each ending in a line feed; empty when nothing changes.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var change in Services)
        {
            text.Append(change).Append('\n');
        }

        foreach (var change in RealServers)
        {
            text.Append(change).Append('\n');
        }

        return text.ToString();
    }
}
