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
