using System.Runtime.InteropServices;
using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// A TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI): IP packets written to it are received by the local kernel stack
/// as if they had arrived on the interface. Created up with the given MTU; deleted when disposed.
/// </summary>
public sealed unsafe class TunDevice : IDisposable
{
    private readonly int _fd;
    private int _disposed;

    /// <summary>Creates the device.</summary>
    /// <param name="name">The interface's name (at most 15 characters).</param>
    /// <param name="mtu">Its MTU; null keeps the kernel's default (1500).</param>
    /// <exception cref="PlatformNotSupportedException">Not Linux.</exception>
    /// <exception cref="IOException">/dev/net/tun missing, not permitted, or the name is taken by another kind of interface.</exception>
    public TunDevice(string name, int? mtu = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("TUN devices need Linux.");
        }

        Name = name;
        _fd = TunTapDescriptor.Open(name, Constants.IffTun | Constants.IffNoPi);
        try
        {
            if (mtu is { } value)
            {
                InterfaceControl.SetMtu(name, value);
            }

            InterfaceControl.SetUp(name);
            Mtu = InterfaceControl.GetMtu(name);
        }
        catch
        {
            LibC.Close(_fd);
            throw;
        }
    }

    /// <summary>The interface's name.</summary>
    public string Name { get; }

    /// <summary>The interface's MTU.</summary>
    public int Mtu { get; }

    /// <summary>
    /// Lets the kernel accept packets from sources it routes through other interfaces (a decapsulated client packet
    /// arrives here, its answer leaves by the default route): sets net.ipv4.conf.&lt;device&gt;.rp_filter to 0. The
    /// kernel uses the larger of that and net.ipv4.conf.all.rp_filter, so a strict (1) "all" value is reported.
    /// </summary>
    /// <returns>Warnings with the command that fixes each; empty when nothing is left in the way.</returns>
    public IReadOnlyList<string> AcceptForeignSources()
    {
        var warnings = new List<string>();
        try
        {
            File.WriteAllText($"/proc/sys/net/ipv4/conf/{Name}/rp_filter", "0");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            warnings.Add($"could not turn reverse-path filtering off on {Name} ({exception.Message}): sysctl -w net.ipv4.conf.{Name}.rp_filter=0");
        }

        if (InterfaceControl.ReadSysctl("/proc/sys/net/ipv4/conf/all/rp_filter") == "1")
        {
            warnings.Add($"net.ipv4.conf.all.rp_filter is 1 (strict): the kernel drops decapsulated packets whose source it routes elsewhere. Fix: sysctl -w net.ipv4.conf.all.rp_filter=2");
        }

        return warnings;
    }

    /// <summary>Hands an IP packet to the kernel.</summary>
    /// <param name="packet">The packet, from its IP header.</param>
    /// <returns>False when the kernel did not take it (the device's queue is full, or it is malformed).</returns>
    public bool TryWrite(ReadOnlySpan<byte> packet)
    {
        if (packet.IsEmpty || Volatile.Read(ref _disposed) != 0)
        {
            return false;
        }

        fixed (byte* pointer = packet)
        {
            return LibC.Write(_fd, pointer, (nuint)packet.Length) == packet.Length;
        }
    }

    /// <summary>Reads one IP packet the kernel routed out through the device.</summary>
    /// <param name="destination">Where to put it.</param>
    /// <param name="timeoutMilliseconds">The longest wait; 0 does not wait.</param>
    /// <returns>Its length, or 0 when none came.</returns>
    public int Read(Span<byte> destination, int timeoutMilliseconds)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return 0;
        }

        for (int attempt = 0; attempt < 2; attempt++)
        {
            nint read;
            fixed (byte* pointer = destination)
            {
                read = LibC.Read(_fd, pointer, (nuint)destination.Length);
            }

            if (read >= 0)
            {
                return (int)read;
            }

            if (attempt == 0 && timeoutMilliseconds != 0 && Marshal.GetLastPInvokeError() == Constants.EAgain)
            {
                TunTapDescriptor.WaitReadable(_fd, timeoutMilliseconds);
            }
            else
            {
                break;
            }
        }

        return 0;
    }

    /// <summary>Closes the descriptor, which deletes the device.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            LibC.Close(_fd);
        }
    }
}
