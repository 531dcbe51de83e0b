using System.Runtime.InteropServices;
using System.Text;

namespace Lvs.Director.Configuration;

/// <summary>
/// The file system side of keepalived's <c>init_file</c> (track_file.c track_file_end_handler): whether an existing
/// track file is a regular file (<c>stat</c>, which follows symbolic links), and the write itself as current
/// keepalived's <c>fopen_safe</c> makes it for mode "w": a new file from <c>mkostemp</c> (the path followed by six random
/// characters, created exclusively, mode 0600), given mode 0600 (<c>fchmod</c>, keepalived's default umask 0177), then
/// renamed over the path. So a symbolic link put at the path is replaced, never written through (the director runs as
/// root: keepalived's CVE-2018-19044), a FIFO put there after the check cannot block the configuration load, and a
/// process that has the old file open never reads the new value through it.
/// </summary>
/// <remarks>
/// One difference, in order only: keepalived renames the empty file over the path and then writes the value; here the
/// value is written first, so that nobody reading the path (another process's file check) ever finds it empty. The
/// file left behind is the same. A temporary file whose write or rename fails is removed (keepalived leaves it).
/// </remarks>
internal static partial class TrackFileInitialiser
{
    private const int FileTypeMask = 0xF000; // S_IFMT
    private const int RegularFile = 0x8000; // S_IFREG
    private const int CurrentDirectory = -100; // AT_FDCWD
    private const uint TypeField = 0x1; // STATX_TYPE
    private const int ModeOffset = 28; // struct statx's stx_mode, the same on every architecture
    private const int CloseOnExec = 0x80000; // O_CLOEXEC
    private const int Interrupted = 4; // EINTR
    private const int OwnerReadWrite = 0x180; // 0600: 0666 & ~keepalived's default umask (S_IXUSR | S_IRWXG | S_IRWXO)
    private const string TemplateSuffix = "XXXXXX";

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

    /// <summary>Writes <paramref name="text"/> as the whole file, in a new file (mode 0600) renamed over the path.</summary>
    /// <param name="path">The track file's path.</param>
    /// <param name="text">What it is to hold.</param>
    /// <param name="error">Why it could not be written (no permission on the directory, a full disk...), or null.</param>
    /// <returns>False when the file could not be written.</returns>
    public static unsafe bool TryWrite(string path, string text, out string? error)
    {
        if (!OperatingSystem.IsLinux())
        {
            return TryWritePortably(path, text, out error);
        }

        // mkostemp fills in the template's last six characters, in place: a NUL-terminated copy it may write to.
        byte[] name = Encoding.UTF8.GetBytes(path + TemplateSuffix + "\0");
        int descriptor;
        fixed (byte* template = name)
        {
            descriptor = MakeTemporary(template, CloseOnExec);
        }

        if (descriptor < 0)
        {
            error = Marshal.GetLastPInvokeErrorMessage();
            return false;
        }

        string temporary = Encoding.UTF8.GetString(name, 0, name.Length - 1);
        bool renamed = false;
        try
        {
            if (ChangeMode(descriptor, OwnerReadWrite) != 0 || !TryWriteAll(descriptor, Encoding.ASCII.GetBytes(text)))
            {
                error = Marshal.GetLastPInvokeErrorMessage();
                return false;
            }

            if (Rename(temporary, path) != 0)
            {
                error = Marshal.GetLastPInvokeErrorMessage();
                return false;
            }

            renamed = true;
            error = null;
            return true;
        }
        finally
        {
            _ = Close(descriptor);
            if (!renamed)
            {
                _ = Unlink(temporary);
            }
        }
    }

    /// <summary>The same off Linux (tests on other systems): a temporary file beside the path, moved over it.</summary>
    private static bool TryWritePortably(string path, string text, out string? error)
    {
        string temporary = path + Path.GetRandomFileName().Replace(".", string.Empty, StringComparison.Ordinal)[..TemplateSuffix.Length];
        try
        {
            File.WriteAllText(temporary, text);
            File.Move(temporary, path, overwrite: true);
            error = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            error = e.Message;
            return false;
        }
    }

    private static unsafe bool TryWriteAll(int descriptor, byte[] bytes)
    {
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
                    return false;
                }

                written += (int)count;
            }
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatX(int directory, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "mkostemp", SetLastError = true)]
    private static unsafe partial int MakeTemporary(byte* template, int flags);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    private static partial int ChangeMode(int descriptor, uint mode);

    [LibraryImport("libc", EntryPoint = "rename", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Rename(string from, string to);

    [LibraryImport("libc", EntryPoint = "unlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Unlink(string path);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint WriteBytes(int descriptor, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
