using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Lvs.Samples.Director.Lab;

/// <summary>
/// A network namespace the lab created (<c>ip netns add</c>). Commands run in it with <c>ip netns exec</c>; sockets are
/// created in it from a thread that joined it (setns), so the test's own HTTP servers and clients use the namespace's
/// kernel TCP stack.
/// </summary>
public sealed class NetNamespace
{
    private const int CloneNewNet = 0x40000000;
    private const int FirstClientPort = 10000;
    private const int ClientPorts = 20000; // 10000-29999, below the ephemeral range (32768-60999)
    private int _clientPorts = -1;

    internal NetNamespace(string name) => Name = name;

    /// <summary>The namespace's name (under /run/netns).</summary>
    public string Name { get; }

    /// <summary>Runs <c>ip ARGS</c> in the namespace.</summary>
    /// <param name="arguments">The arguments of ip.</param>
    /// <returns>Its output.</returns>
    public string Ip(params string[] arguments) => Shell.Run("ip", ["-n", Name, .. arguments]);

    /// <summary>Runs a program in the namespace.</summary>
    /// <param name="file">The program.</param>
    /// <param name="arguments">Its arguments.</param>
    /// <returns>Its output.</returns>
    public string Exec(string file, params string[] arguments) => Shell.Run("ip", ["netns", "exec", Name, file, .. arguments]);

    /// <summary>Sets a sysctl in the namespace (<c>net.ipv4.ip_forward=1</c>).</summary>
    /// <param name="setting">NAME=VALUE.</param>
    public void Sysctl(string setting) => Exec("sysctl", "-q", "-w", setting);

    /// <summary>
    /// The next client port of the namespace's lab connections: each is used once (for 20,000 connections), so a new
    /// connection is never taken for an old one. A kernel picking ephemeral ports may reuse one within seconds (its
    /// port offsets are shared by namespaces whose connections have the same addresses), and IPVS, like this
    /// director, forwards a SYN that reuses the ports of a direct-routing connection still in FIN_WAIT to that
    /// connection's server (conn_reuse_mode 1), even one just removed: a lab that counts new connections per server
    /// must not depend on that.
    /// </summary>
    /// <returns>The port.</returns>
    public int NextClientPort() => FirstClientPort + (int)((uint)Interlocked.Increment(ref _clientPorts) % ClientPorts);

    /// <summary>Creates a socket in the namespace.</summary>
    /// <param name="family">The address family.</param>
    /// <param name="type">The socket type.</param>
    /// <param name="protocol">The protocol.</param>
    /// <returns>The socket, bound to the namespace's stack for its whole life.</returns>
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => Run(() => new Socket(family, type, protocol));

    /// <summary>
    /// Runs <paramref name="action"/> on a thread that joined the namespace (setns), and waits for it: what it opens
    /// (sockets, AF_PACKET and TAP links) belongs to the namespace's network stack for its whole life.
    /// </summary>
    /// <typeparam name="T">The result's type.</typeparam>
    /// <param name="action">The work.</param>
    /// <returns>Its result.</returns>
    /// <exception cref="InvalidOperationException">The namespace could not be joined, or the work failed (the inner exception).</exception>
    public T Run<T>(Func<T> action) => Run(Name, action);

    /// <summary>Runs <paramref name="action"/> on a thread that joined the namespace named <paramref name="name"/>.</summary>
    /// <typeparam name="T">The result's type.</typeparam>
    /// <param name="name">The namespace's name (under /run/netns).</param>
    /// <param name="action">The work.</param>
    /// <returns>Its result.</returns>
    /// <exception cref="InvalidOperationException">The namespace could not be joined, or the work failed (the inner exception).</exception>
    public static T Run<T>(string name, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle($"/run/netns/{name}", FileMode.Open, FileAccess.Read))
                {
                    if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    {
                        throw new InvalidOperationException($"setns into {name} failed: errno {Marshal.GetLastPInvokeError()}");
                    }
                }

                result = action();
            }
            catch (Exception e)
            {
                // Any failure of the work is handed to the calling thread.
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException($"In namespace {name}: {failure.Message}", failure);
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
}
