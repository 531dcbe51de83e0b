using Lvs.Core;
using Lvs.Samples.Director.Lab;
using SampleLab = Lvs.Samples.Director.Lab.NetworkLab;

namespace Lvs.Devices.Tests.Lab;

/// <summary>
/// The device tests' view of the sample's lab (samples/lvs-director/Lab, compiled in): network namespaces named
/// <c>lvsit&lt;random&gt;-&lt;role&gt;</c> and veth pairs between them, made with the <c>ip</c> command and deleted by
/// exact name on <see cref="Dispose"/>. Code that must run inside a namespace (opening a link, a kernel socket) runs on
/// a thread that joined it (<see cref="NetNamespace.Run{T}(string, Func{T})"/>); what it opens stays in that namespace.
/// Namespaces are passed around by name, and commands as one string of space-separated arguments.
/// </summary>
internal sealed class NetworkLab : IDisposable
{
    private readonly SampleLab _lab = new();

    /// <summary>The random part of every name (4 hex digits).</summary>
    internal string Suffix => _lab.Prefix["lvsit".Length..];

    /// <summary>Creates a namespace named lvsit&lt;suffix&gt;-<paramref name="role"/> with its loopback up.</summary>
    internal string AddNamespace(string role) => _lab.AddNamespace(role).Name;

    /// <summary>Creates a veth pair with one end in each namespace, both up, with the given addresses (null for none).</summary>
    internal (string A, string B) AddVeth(string namespaceA, string? addressA, string namespaceB, string? addressB, string tag = "")
    {
        string a = $"lvd{Suffix}{tag}a";
        string b = $"lvd{Suffix}{tag}b";
        RunIn(namespaceA, $"link add {a} type veth peer name {b} netns {namespaceB}");
        Configure(namespaceA, a, addressA);
        Configure(namespaceB, b, addressB);
        return (a, b);
    }

    /// <summary>Runs <c>ip</c> in a namespace.</summary>
    internal static string RunIn(string ns, string arguments) => Shell.Run("ip", ["-n", ns, .. Split(arguments)]);

    /// <summary>Reads an interface's MAC inside a namespace.</summary>
    internal static MacAddress MacOf(string ns, string interfaceName) =>
        InNamespace(ns, () => InterfaceFacts.Read(interfaceName).Mac);

    /// <summary>Runs <paramref name="action"/> on a thread inside the namespace.</summary>
    internal static T InNamespace<T>(string ns, Func<T> action) => NetNamespace.Run(ns, action);

    /// <summary>Runs <paramref name="action"/> on a thread inside the namespace.</summary>
    internal static void InNamespace(string ns, Action action) => InNamespace(ns, () =>
    {
        action();
        return 0;
    });

    /// <summary>Runs the ip command; throws with its output when it fails.</summary>
    internal static string RunIp(string arguments) => Shell.Run("ip", Split(arguments));

    /// <summary>Runs a command; throws with its output when it fails.</summary>
    internal static string Run(string file, string arguments) => Shell.Run(file, Split(arguments));

    /// <summary>Deletes the namespaces this lab created (their interfaces go with them).</summary>
    public void Dispose() => _lab.Dispose();

    private static string[] Split(string arguments) => arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static void Configure(string ns, string name, string? address)
    {
        if (address is not null)
        {
            RunIn(ns, $"addr add {address} dev {name}");
        }

        RunIn(ns, $"link set {name} up");
    }
}
