using System.Diagnostics;
using System.Security.Cryptography;

namespace Lvs.Samples.Director.Lab;

/// <summary>
/// A throwaway lab of network namespaces. Every namespace gets a name unique to this lab (<c>lvsit1a2b-client</c>);
/// veth pairs and bridges are created inside them, so deleting the namespaces (by exact name, at dispose) removes
/// everything the lab made. Processes the lab started are killed first. Traffic only flows between its namespaces.
/// </summary>
public sealed class NetworkLab : IDisposable
{
    private readonly List<NetNamespace> _namespaces = [];
    private readonly List<Process> _processes = [];

    /// <summary>Creates an empty lab.</summary>
    public NetworkLab() => Prefix = "lvsit" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2));

    /// <summary>The prefix of every name the lab creates.</summary>
    public string Prefix { get; }

    /// <summary>Creates a namespace with its loopback up.</summary>
    /// <param name="role">A short role name (client, director, rs1).</param>
    /// <returns>The namespace.</returns>
    public NetNamespace AddNamespace(string role)
    {
        var ns = new NetNamespace($"{Prefix}-{role}");
        Shell.Run("ip", "netns", "add", ns.Name);
        _namespaces.Add(ns);
        ns.Ip("link", "set", "lo", "up");
        return ns;
    }

    /// <summary>Connects two namespaces with a veth pair and brings both ends up.</summary>
    /// <param name="a">One namespace.</param>
    /// <param name="aName">The interface's name there.</param>
    /// <param name="b">The other namespace.</param>
    /// <param name="bName">The interface's name there.</param>
    public static void Connect(NetNamespace a, string aName, NetNamespace b, string bName)
    {
        a.Ip("link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.Name);
        a.Ip("link", "set", aName, "up");
        b.Ip("link", "set", bName, "up");
    }

    /// <summary>Creates a bridge in a namespace and brings it up.</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="name">The bridge's name.</param>
    public static void AddBridge(NetNamespace ns, string name)
    {
        ns.Ip("link", "add", name, "type", "bridge");
        ns.Ip("link", "set", name, "up");
    }

    /// <summary>Connects a namespace to a bridge in another one.</summary>
    /// <param name="host">The namespace to connect.</param>
    /// <param name="hostName">Its interface's name.</param>
    /// <param name="switchNs">The namespace holding the bridge.</param>
    /// <param name="bridge">The bridge.</param>
    /// <param name="portName">The bridge port's name.</param>
    public static void Plug(NetNamespace host, string hostName, NetNamespace switchNs, string bridge, string portName)
    {
        Connect(host, hostName, switchNs, portName);
        switchNs.Ip("link", "set", portName, "master", bridge);
    }

    /// <summary>Starts a process in a namespace; the lab kills it at dispose if it still runs.</summary>
    /// <param name="ns">The namespace.</param>
    /// <param name="file">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>The process, with standard output and error redirected.</returns>
    public Process Start(NetNamespace ns, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["netns", "exec", ns.Name, file, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file} in {ns}");
        _processes.Add(process);
        return process;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }

        foreach (var ns in _namespaces)
        {
            _ = Shell.TryRun("ip", "netns", "del", ns.Name);
        }
    }
}
