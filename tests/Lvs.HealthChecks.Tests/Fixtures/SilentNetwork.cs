using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>
/// A network namespace of the test's own where <see cref="Silent"/> (192.0.2.201, TEST-NET-1) is reachable and never
/// answers: a veth pair, one end 192.0.2.1/24 with a static neighbour entry for the silent address, the other end with
/// no address, which drops the frames. What a test sends there stays in the namespace, which is deleted (by its exact
/// name) on dispose. Needs root and iproute2.
/// </summary>
internal sealed partial class SilentNetwork : IDisposable
{
    private const int CloneNewNet = 0x4000_0000;

    private readonly string _name = $"lvs-hc-silent-{Environment.ProcessId}-{Interlocked.Increment(ref s_count)}";

    private static int s_count;

    private SilentNetwork()
    {
    }

    /// <summary>The address nothing answers in the namespace.</summary>
    public static Lvs.Core.InetAddress Silent { get; } = Lvs.Core.InetAddress.Parse("192.0.2.201");

    /// <summary>Creates the namespace; null (with the reason) when this host cannot.</summary>
    public static SilentNetwork? TryCreate(out string? missing)
    {
        var network = new SilentNetwork();
        string[][] commands =
        [
            ["netns", "add", network._name],
            ["-n", network._name, "link", "add", "sv0", "type", "veth", "peer", "name", "sv1"],
            ["-n", network._name, "addr", "add", "192.0.2.1/24", "dev", "sv0"],
            ["-n", network._name, "link", "set", "sv0", "up"],
            ["-n", network._name, "link", "set", "sv1", "up"],
            ["-n", network._name, "neigh", "replace", "192.0.2.201", "lladdr", "02:00:00:00:00:99", "dev", "sv0", "nud", "permanent"],
        ];
        foreach (var arguments in commands)
        {
            if (Ip(arguments) is { } error)
            {
                network.Dispose();
                missing = $"cannot build a network namespace (ip {string.Join(' ', arguments)}: {error})";
                return null;
            }
        }

        missing = null;
        return network;
    }

    /// <summary>Runs <paramref name="start"/> on a thread inside the namespace: the sockets it opens belong to the namespace.</summary>
    public T RunInside<T>(Func<T> start)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var handle = File.OpenHandle($"/var/run/netns/{_name}");
                if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                }

                result = start();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException("could not run inside the namespace", failure);
    }

    public void Dispose() => _ = Ip(["netns", "del", _name]);

    /// <summary>Runs ip; null when it succeeded, else what it said.</summary>
    private static string? Ip(string[] arguments)
    {
        try
        {
            var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (string argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            using var process = Process.Start(info)!;
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? null : error.Trim();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
