using System.Text;
using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>Opens /dev/net/tun and attaches the descriptor to a TUN or TAP interface (TUNSETIFF), creating it when it does not exist.</summary>
internal static unsafe class TunTapDescriptor
{
    /// <summary>Opens one queue of the interface; non-blocking, close-on-exec.</summary>
    /// <param name="name">The interface's name.</param>
    /// <param name="flags">IFF_TUN or IFF_TAP, with IFF_NO_PI and IFF_MULTI_QUEUE as wanted.</param>
    internal static int Open(string name, short flags)
    {
        ReadOnlySpan<byte> path = "/dev/net/tun\0"u8;
        int fd;
        fixed (byte* pointer = path)
        {
            fd = LibC.Open(pointer, Constants.OReadWrite | Constants.ONonBlock | Constants.OCloexec);
        }

        if (fd < 0)
        {
            throw LibC.Failure("open /dev/net/tun");
        }

        InterfaceRequest request = InterfaceRequest.For(name);
        request.Flags = flags;
        if (LibC.IoControl(fd, Constants.TunSetIff, &request) < 0)
        {
            IOException failure = LibC.Failure($"TUNSETIFF {name}");
            LibC.Close(fd);
            throw failure;
        }

        string actual = Encoding.ASCII.GetString(new ReadOnlySpan<byte>(request.Name, InterfaceRequest.NameSize)).TrimEnd('\0');
        if (actual != name)
        {
            LibC.Close(fd);
            throw new IOException($"TUNSETIFF gave interface '{actual}' instead of '{name}'.");
        }

        return fd;
    }

    /// <summary>Waits until the descriptor is readable or the timeout passes.</summary>
    internal static void WaitReadable(int fd, int timeoutMilliseconds)
    {
        var poll = new PollDescriptor { Fd = fd, Events = Constants.PollIn | Constants.PollError };
        LibC.Poll(&poll, 1, timeoutMilliseconds);
    }
}
