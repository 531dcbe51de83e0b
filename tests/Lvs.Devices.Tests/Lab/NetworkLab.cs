using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Lvs.Core;

namespace Lvs.Devices.Tests.Lab;

/// <summary>
/// Network namespaces named <c>lvsdev-&lt;random&gt;-&lt;role&gt;</c> and the veth pairs between them, made with the
/// <c>ip</c> command and deleted by exact name on <see cref="Dispose"/>. Code that must run inside a namespace (opening
/// a link, a kernel socket) runs on a thread that entered it; the sockets it opens stay in that namespace.
/// </summary>
internal sealed class NetworkLab : IDisposable
{
    private readonly List<string> _namespaces = [];

    internal NetworkLab()
    {
        Suffix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
    }

    /// <summary>The random part of every name.</summary>
    internal string Suffix { get; }

    /// <summary>Creates a namespace named lvsdev-&lt;suffix&gt;-<paramref name="role"/> with its loopback up.</summary>
    internal string AddNamespace(string role)
    {
        string name = $"lvsdev-{Suffix}-{role}";
        RunIp($"netns add {name}");
        _namespaces.Add(name);
        RunIp($"-n {name} link set lo up");
        return name;
    }

    /// <summary>Creates a veth pair with one end in each namespace, both up, with the given addresses (null for none).</summary>
    internal (string A, string B) AddVeth(string namespaceA, string? addressA, string namespaceB, string? addressB, string tag = "")
    {
        string a = $"lvd{Suffix}{tag}a";
        string b = $"lvd{Suffix}{tag}b";
        RunIp($"-n {namespaceA} link add {a} type veth peer name {b} netns {namespaceB}");
        Configure(namespaceA, a, addressA);
        Configure(namespaceB, b, addressB);
        return (a, b);
    }

    /// <summary>Runs <c>ip</c> in a namespace.</summary>
    internal static string RunIn(string ns, string arguments) => RunIp($"-n {ns} {arguments}");

    /// <summary>Reads an interface's MAC inside a namespace.</summary>
    internal static MacAddress MacOf(string ns, string interfaceName) =>
        InNamespace(ns, () => InterfaceFacts.Read(interfaceName).Mac);

    /// <summary>Runs <paramref name="action"/> on a thread inside the namespace.</summary>
    internal static T InNamespace<T>(string ns, Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (Microsoft.Win32.SafeHandles.SafeFileHandle handle = File.OpenHandle($"/var/run/netns/{ns}"))
                {
                    if (NativeLab.SetNamespace((int)handle.DangerousGetHandle(), NativeLab.CloneNewNet) != 0)
                    {
                        throw new InvalidOperationException($"setns into {ns} failed: errno {Marshal.GetLastPInvokeError()}");
                    }
                }

                result = action();
            }
            catch (Exception exception)
            {
                failure = exception;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException($"In namespace {ns}: {failure.Message}", failure);
        }

        return result;
    }

    /// <summary>Runs <paramref name="action"/> on a thread inside the namespace.</summary>
    internal static void InNamespace(string ns, Action action) => InNamespace(ns, () =>
    {
        action();
        return 0;
    });

    /// <summary>Runs the ip command; throws with its output when it fails.</summary>
    internal static string RunIp(string arguments) => Run("ip", arguments);

    /// <summary>Runs a command; throws with its output when it fails.</summary>
    internal static string Run(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start.");
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {error}{output}");
        }

        return output;
    }

    /// <summary>Deletes the namespaces this lab created (their interfaces go with them).</summary>
    public void Dispose()
    {
        foreach (string name in _namespaces)
        {
            try
            {
                RunIp($"netns del {name}");
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        _namespaces.Clear();
    }

    private static void Configure(string ns, string name, string? address)
    {
        if (address is not null)
        {
            RunIn(ns, $"addr add {address} dev {name}");
        }

        RunIn(ns, $"link set {name} up");
    }
}
