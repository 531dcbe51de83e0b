using System.Runtime.InteropServices;

namespace Lvs.HealthChecks;

/// <summary>
/// Reads the start of a file as keepalived's track_file.c does: <c>open(path, O_RDONLY | O_NONBLOCK)</c>, then
/// <c>read</c>. Opened without O_NONBLOCK, a FIFO with no writer would block the open until one comes; non-blocking,
/// it opens at once and reads nothing (end of file with no writer, EAGAIN with one that has written nothing), so the
/// value is 0 and no checker or configuration load hangs on it.
/// </summary>
internal static partial class NonBlockingFileRead
{
    private const int ReadOnly = 0; // O_RDONLY
    private const int NonBlocking = 0x800; // O_NONBLOCK (04000), the same on x86-64 and arm64
    private const int CloseOnExec = 0x80000; // O_CLOEXEC (02000000)
    private const int Interrupted = 4; // EINTR

    /// <summary>
    /// Reads up to <paramref name="buffer"/>'s length from the start of the file at <paramref name="path"/>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="buffer">Where the bytes go.</param>
    /// <returns>The bytes read: 0 when the file is missing, unreadable, a directory, empty, or a FIFO with nothing in it.</returns>
    public static unsafe int Read(string path, Span<byte> buffer)
    {
        if (!OperatingSystem.IsLinux())
        {
            return ReadPortably(path, buffer);
        }

        int descriptor = Open(path, ReadOnly | NonBlocking | CloseOnExec);
        if (descriptor < 0)
        {
            return 0;
        }

        try
        {
            int total = 0;
            fixed (byte* start = buffer)
            {
                while (total < buffer.Length)
                {
                    nint read = ReadBytes(descriptor, start + total, (nuint)(buffer.Length - total));
                    if (read < 0 && Marshal.GetLastPInvokeError() == Interrupted)
                    {
                        continue;
                    }

                    if (read <= 0)
                    {
                        // End of file, EAGAIN (a FIFO with nothing to read yet), EISDIR (a directory) or another error.
                        break;
                    }

                    total += (int)read;
                }
            }

            return total;
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    /// <summary>Elsewhere than Linux (tests on other systems): an ordinary read.</summary>
    private static int ReadPortably(string path, Span<byte> buffer)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            int total = 0;
            while (total < buffer.Length)
            {
                int read = RandomAccess.Read(handle, buffer[total..], total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return 0;
        }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint ReadBytes(int descriptor, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
