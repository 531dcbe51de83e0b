using System.Runtime.InteropServices;
using System.Text;

namespace Lvs.Director.Configuration;

/// <summary>
/// The file system side of keepalived's <c>init_file</c> (track_file.c track_file_end_handler): whether an existing
/// track file is a regular file (<c>stat</c>, which follows symbolic links), and the write itself as keepalived's
/// <c>fopen_safe</c> makes it: <c>O_NOFOLLOW</c>, so that a symbolic link put at the path cannot make the director,
/// running as root, overwrite the file it points to (keepalived's CVE-2018-19044), and here also <c>O_NONBLOCK</c>, so
/// that a FIFO put there after the check cannot block the configuration load.
/// </summary>
internal static partial class TrackFileInitialiser
{
    private const int FileTypeMask = 0xF000; // S_IFMT
    private const int RegularFile = 0x8000; // S_IFREG
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const uint TypeField = 0x1; // STATX_TYPE
    private const int ModeOffset = 28; // struct statx's stx_mode, the same on every architecture
    private const int WriteOnly = 0x1; // O_WRONLY
    private const int Create = 0x40; // O_CREAT
    private const int Truncate = 0x200; // O_TRUNC
    private const int NonBlocking = 0x800; // O_NONBLOCK
    private const int CloseOnExec = 0x80000; // O_CLOEXEC
    private const int Interrupted = 4; // EINTR

    /// <summary>O_NOFOLLOW: 0400000 on x86-64, 0100000 on arm64 (the generic value).</summary>
    private static int NoFollow => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 0x20000 : 0x8000;

    /// <summary>
    /// What is at <paramref name="path"/>, following symbolic links as <c>stat</c> does: null when nothing is (or a
    /// link points nowhere), else whether it is a regular file.
    /// </summary>
    /// <param name="path">The track file's path.</param>
    /// <returns>Null, true for a regular file, false for a directory, FIFO, device or socket.</returns>
    public static unsafe bool? IsRegularFile(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return Directory.Exists(path) ? false : File.Exists(path) ? true : null;
        }

        byte* buffer = stackalloc byte[256];
        new Span<byte>(buffer, 256).Clear();
        try
        {
            if (StatX(CurrentDirectory, path, 0, TypeField, buffer) != 0)
            {
                return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // A C library without statx (glibc before 2.28, musl before 1.2.5): directories are told apart, other
            // special files pass as regular, and the non-blocking write still keeps a FIFO from blocking the load.
            return Directory.Exists(path) ? false : Path.Exists(path) ? true : null;
        }

        return (*(ushort*)(buffer + ModeOffset) & FileTypeMask) == RegularFile;
    }

    /// <summary>Writes <paramref name="text"/> as the whole file, creating it (mode 0644 before the umask) when missing.</summary>
    /// <param name="path">The track file's path.</param>
    /// <param name="text">What it is to hold.</param>
    /// <param name="error">Why it could not be written (a symbolic link, a FIFO with no reader, no permission...), or null.</param>
    /// <returns>False when the file could not be written.</returns>
    public static unsafe bool TryWrite(string path, string text, out string? error)
    {
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                File.WriteAllText(path, text);
                error = null;
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = e.Message;
                return false;
            }
        }

        int descriptor = Open(path, WriteOnly | Create | Truncate | NoFollow | NonBlocking | CloseOnExec, 0x1A4 /* 0644 */);
        if (descriptor < 0)
        {
            error = Marshal.GetLastPInvokeErrorMessage();
            return false;
        }

        try
        {
            byte[] bytes = Encoding.ASCII.GetBytes(text);
            int written = 0;
            fixed (byte* start = bytes)
            {
                while (written < bytes.Length)
                {
                    nint count = WriteBytes(descriptor, start + written, (nuint)(bytes.Length - written));
                    if (count < 0 && Marshal.GetLastPInvokeError() == Interrupted)
                    {
                        continue;
                    }

                    if (count <= 0)
                    {
                        error = Marshal.GetLastPInvokeErrorMessage();
                        return false;
                    }

                    written += (int)count;
                }
            }

            error = null;
            return true;
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatX(int directory, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteBytes(int descriptor, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
