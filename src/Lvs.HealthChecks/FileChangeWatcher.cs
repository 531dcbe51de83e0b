using System.Runtime.InteropServices;

namespace Lvs.HealthChecks;

/// <summary>
/// Tells subscribers when a file is written and closed, deleted, or renamed in or out of its directory: keepalived's
/// track file watch (track_file.c <c>init_track_files</c>, <c>process_inotify</c>) with the same inotify mask,
/// <c>IN_CLOSE_WRITE | IN_DELETE | IN_MOVE</c>, one watch per directory and one inotify instance for the process.
/// </summary>
/// <remarks>
/// <para>
/// <c>IN_CLOSE_WRITE</c> rather than <c>IN_MODIFY</c> (what <see cref="FileSystemWatcher"/> reports): a file
/// rewritten in place (<c>echo 1 &gt; file</c>) is read once its writer closed it, never between its truncation and
/// its write, where it would read as 0 for an instant and flap the server.
/// </para>
/// <para>
/// The directory is watched rather than the file, so that a file that does not exist yet, or is replaced by a
/// rename, is still seen. When the kernel's queue overflows every subscriber is told, since any file may have
/// changed. One background thread reads the instance for the life of the process, as keepalived keeps its inotify
/// descriptor.
/// </para>
/// </remarks>
internal static partial class FileChangeWatcher
{
    private const int InCloexec = 0x80000;
    private const uint InCloseWrite = 0x8;
    private const uint InMovedFrom = 0x40;
    private const uint InMovedTo = 0x80;
    private const uint InDelete = 0x200;
    private const uint InQueueOverflow = 0x4000;
    private const uint InIsDirectory = 0x40000000;
    private const int EventHeaderSize = 16;
    private const int EINTR = 4;

    private static readonly Lock Gate = new();
    private static readonly Dictionary<int, DirectoryWatch> Watches = [];
    private static int _descriptor = -1;

    /// <summary>Calls <paramref name="changed"/> (on the watch thread) after each change of the file, until the result is disposed.</summary>
    /// <param name="fullPath">The file's absolute path.</param>
    /// <param name="changed">What to do; it must not block.</param>
    /// <returns>The subscription.</returns>
    /// <exception cref="IOException">The directory cannot be watched (it does not exist; the inotify limits).</exception>
    public static IDisposable Subscribe(string fullPath, Action changed)
    {
        string directory = Path.GetDirectoryName(fullPath) ?? throw new IOException($"'{fullPath}' has no directory.");
        string name = Path.GetFileName(fullPath);
        lock (Gate)
        {
            if (_descriptor < 0)
            {
                Open();
            }

            // The same directory (by any path to it) gives the same watch descriptor.
            int wd = AddWatch(_descriptor, directory, InCloseWrite | InDelete | InMovedFrom | InMovedTo);
            if (wd < 0)
            {
                int error = Marshal.GetLastPInvokeError();
                throw new IOException($"Cannot watch the directory {directory}: {Marshal.GetPInvokeErrorMessage(error)}", error);
            }

            if (!Watches.TryGetValue(wd, out DirectoryWatch? watch))
            {
                watch = new DirectoryWatch(wd);
                Watches.Add(wd, watch);
            }

            var subscription = new Subscription(watch, name, changed);
            watch.Subscriptions.Add(subscription);
            return subscription;
        }
    }

    private static void Open()
    {
        int descriptor = InotifyInit(InCloexec);
        if (descriptor < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot create an inotify instance: {Marshal.GetPInvokeErrorMessage(error)}", error);
        }

        _descriptor = descriptor;
        var thread = new Thread(() => ReadEvents(descriptor)) { IsBackground = true, Name = "Lvs FILE_CHECK inotify" };
        thread.Start();
    }

    private static void Unsubscribe(DirectoryWatch watch, Subscription subscription)
    {
        lock (Gate)
        {
            if (!watch.Subscriptions.Remove(subscription) || watch.Subscriptions.Count > 0)
            {
                return;
            }

            _ = Watches.Remove(watch.Descriptor);
            _ = RemoveWatch(_descriptor, watch.Descriptor);
        }
    }

    private static void ReadEvents(int descriptor)
    {
        // Room for many events: each is 16 bytes and a name of at most NAME_MAX + 1 bytes.
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            nint length = Read(descriptor, buffer, buffer.Length);
            if (length < 0)
            {
                if (Marshal.GetLastPInvokeError() == EINTR)
                {
                    continue;
                }

                // The descriptor is broken: no more notifications; the checks still read their files every delay_loop.
                return;
            }

            var raised = new List<Subscription>();
            lock (Gate)
            {
                for (int offset = 0; offset + EventHeaderSize <= length;)
                {
                    // struct inotify_event: wd, mask, cookie, len, then a NUL-padded name, in the machine's byte order.
                    ReadOnlySpan<byte> header = buffer.AsSpan(offset, EventHeaderSize);
                    int wd = MemoryMarshal.Read<int>(header);
                    uint mask = MemoryMarshal.Read<uint>(header[4..]);
                    int nameLength = (int)MemoryMarshal.Read<uint>(header[12..]);
                    ReadOnlySpan<byte> name = buffer.AsSpan(offset + EventHeaderSize, Math.Min(nameLength, (int)length - offset - EventHeaderSize));
                    offset += EventHeaderSize + nameLength;
                    int end = name.IndexOf((byte)0);
                    name = end >= 0 ? name[..end] : name;

                    if ((mask & InQueueOverflow) != 0)
                    {
                        raised.AddRange(Watches.Values.SelectMany(watch => watch.Subscriptions));
                    }
                    else if ((mask & InIsDirectory) == 0 && Watches.TryGetValue(wd, out DirectoryWatch? watch))
                    {
                        string file = System.Text.Encoding.UTF8.GetString(name);
                        raised.AddRange(watch.Subscriptions.Where(s => string.Equals(s.Name, file, StringComparison.Ordinal)));
                    }
                }
            }

            foreach (Subscription subscription in raised.Distinct())
            {
                subscription.Raise();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInit(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int AddWatch(int descriptor, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    private static partial int RemoveWatch(int descriptor, int watch);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int descriptor, [Out] byte[] buffer, nint count);

    private sealed class DirectoryWatch(int descriptor)
    {
        public int Descriptor { get; } = descriptor;

        public List<Subscription> Subscriptions { get; } = [];
    }

    private sealed class Subscription(DirectoryWatch watch, string name, Action changed) : IDisposable
    {
        private int _disposed;

        public string Name { get; } = name;

        public void Raise()
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                changed();
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Unsubscribe(watch, this);
            }
        }
    }
}
