using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Lvs.IntegrationTests.Lab;

/// <summary>
/// Raw IP sockets of any protocol number, opened with <c>socket(2)</c>: .NET's <see cref="Socket"/> constructor refuses
/// raw sockets for most protocol numbers ("Protocol not supported"), ESP's included.
/// </summary>
internal static partial class RawSocket
{
    /// <summary>Opens a raw IPv4 socket of <paramref name="protocol"/> in the calling thread's network namespace.</summary>
    /// <param name="protocol">The IP protocol number.</param>
    /// <returns>The socket.</returns>
    public static Socket OpenIPv4(int protocol)
    {
        const int AfInet = 2;
        const int SockRaw = 3;
        int fd = NativeSocket(AfInet, SockRaw, protocol);
        return fd < 0 ? throw new SocketException(Marshal.GetLastPInvokeError()) : new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int NativeSocket(int domain, int type, int protocol);
}
