using System.Runtime.InteropServices;

namespace Lvs.Devices.Native;

/// <summary>The libc calls the links use (Linux only). Every call sets errno, read with <see cref="Marshal.GetLastPInvokeError"/>.</summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    [LibraryImport(Library, EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Library, EntryPoint = "bind", SetLastError = true)]
    internal static partial int Bind(int fd, void* address, int addressLength);

    [LibraryImport(Library, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSocketOption(int fd, int level, int name, void* value, int length);

    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSocketOption(int fd, int level, int name, void* value, int* length);

    [LibraryImport(Library, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint MemoryMap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport(Library, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MemoryUnmap(nint address, nuint length);

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int IoControl(int fd, nuint request, void* argument);

    [LibraryImport(Library, EntryPoint = "sendto", SetLastError = true)]
    internal static partial nint SendTo(int fd, void* buffer, nuint length, int flags, void* address, int addressLength);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true)]
    internal static partial int Open(byte* path, int flags);

    [LibraryImport(Library, EntryPoint = "if_nametoindex", SetLastError = true)]
    internal static partial uint InterfaceNameToIndex(byte* name);

    [LibraryImport(Library, EntryPoint = "getifaddrs", SetLastError = true)]
    internal static partial int GetInterfaceAddresses(InterfaceAddress** list);

    [LibraryImport(Library, EntryPoint = "freeifaddrs")]
    internal static partial void FreeInterfaceAddresses(InterfaceAddress* list);

    [LibraryImport(Library, EntryPoint = "getpid")]
    internal static partial int GetProcessId();

    /// <summary>The message for an errno value.</summary>
    internal static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>Throws for the last failed call.</summary>
    internal static IOException Failure(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {Describe(errno)} (errno {errno}).", errno);
    }
}
