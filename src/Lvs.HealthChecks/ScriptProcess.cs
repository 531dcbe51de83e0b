using System.Runtime.InteropServices;

namespace Lvs.HealthChecks;

/// <summary>
/// A MISC_CHECK script started as keepalived starts it: in a process group of its own (so that a signal reaches
/// its children too), with default signal dispositions and an empty signal mask, and waited for with
/// <c>waitpid</c> so that a normal exit and a death by signal are told apart (check_misc.c: <c>WIFEXITED</c>,
/// <c>WIFSIGNALED</c>).
/// </summary>
/// <remarks>
/// <see cref="System.Diagnostics.Process"/> cannot do this: it reports a signal as exit code 128 + signal (the
/// same number a script can exit with, which <c>misc_dynamic</c> reads as a weight), it cannot send SIGTERM, and
/// its process-tree kill is a synchronous walk of /proc. The wait runs on a small dedicated thread per running
/// script (their number is bounded by <see cref="HealthMonitorOptions.MaxConcurrentMiscChecks"/>), never on the
/// thread pool; signalling is one <c>kill</c> call.
/// </remarks>
internal sealed partial class ScriptProcess
{
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int EIntr = 4;
    private const int ESrch = 3;
    private const short PosixSpawnSetPGroup = 0x02;
    private const short PosixSpawnSetSigDef = 0x04;
    private const short PosixSpawnSetSigMask = 0x08;

    // Larger than glibc's and musl's posix_spawnattr_t (336 bytes) and sigset_t (128 bytes).
    private const int AttributesSize = 1024;
    private const int SignalSetSize = 256;

    private readonly TaskCompletionSource<ScriptExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _reaped;

    private ScriptProcess(int pid)
    {
        Pid = pid;
    }

    /// <summary>The process id, also its process group id.</summary>
    public int Pid { get; }

    /// <summary>Completes when the process has ended and been reaped.</summary>
    public Task<ScriptExit> Exited => _exited.Task;

    /// <summary>Starts a program with the current (managed) environment.</summary>
    /// <param name="path">The program's path (not searched on PATH).</param>
    /// <param name="arguments">Its argv, argv[0] first.</param>
    /// <returns>The running process.</returns>
    /// <exception cref="IOException">
    /// posix_spawn failed, including the program's exec (glibc reports it: ENOENT, EACCES, ENOEXEC); <see cref="Exception.HResult"/> is the errno.
    /// </exception>
    public static ScriptProcess Start(string path, IReadOnlyList<string> arguments)
    {
        var allocated = new List<IntPtr>();
        IntPtr attributes = Marshal.AllocHGlobal(AttributesSize);
        IntPtr signals = Marshal.AllocHGlobal(SignalSetSize);
        try
        {
            var argv = new IntPtr[arguments.Count + 1];
            for (int i = 0; i < arguments.Count; i++)
            {
                argv[i] = Utf8(allocated, arguments[i]);
            }

            var environment = new List<IntPtr>();
            foreach (System.Collections.DictionaryEntry variable in Environment.GetEnvironmentVariables())
            {
                environment.Add(Utf8(allocated, $"{variable.Key}={variable.Value}"));
            }

            environment.Add(IntPtr.Zero);
            Check(PosixSpawnAttrInit(attributes), "posix_spawnattr_init");
            try
            {
                Check(PosixSpawnAttrSetFlags(attributes, PosixSpawnSetPGroup | PosixSpawnSetSigDef | PosixSpawnSetSigMask), "posix_spawnattr_setflags");
                Check(PosixSpawnAttrSetPGroup(attributes, 0), "posix_spawnattr_setpgroup");
                // .NET ignores SIGPIPE and handles others: the script gets every signal at its default, none blocked.
                _ = SigFillSet(signals);
                Check(PosixSpawnAttrSetSigDefault(attributes, signals), "posix_spawnattr_setsigdefault");
                _ = SigEmptySet(signals);
                Check(PosixSpawnAttrSetSigMask(attributes, signals), "posix_spawnattr_setsigmask");
                Check(PosixSpawn(out int pid, path, IntPtr.Zero, attributes, argv, [.. environment]), $"posix_spawn {path}");
                var process = new ScriptProcess(pid);
                var waiter = new Thread(static state => ((ScriptProcess)state!).WaitForExit(), maxStackSize: 64 * 1024)
                {
                    IsBackground = true,
                    Name = "MISC_CHECK wait",
                };
                waiter.Start(process);
                return process;
            }
            finally
            {
                _ = PosixSpawnAttrDestroy(attributes);
            }
        }
        finally
        {
            foreach (IntPtr pointer in allocated)
            {
                Marshal.FreeCoTaskMem(pointer);
            }

            Marshal.FreeHGlobal(attributes);
            Marshal.FreeHGlobal(signals);
        }
    }

    /// <summary>Sends SIGTERM to the process group (keepalived's first step at <c>misc_timeout</c>).</summary>
    public void Terminate() => Signal(SigTerm);

    /// <summary>Sends SIGKILL to the process group.</summary>
    public void Kill() => Signal(SigKill);

    /// <summary>True when the path is a file this process may execute (access(2) with X_OK, as the kernel will judge it).</summary>
    /// <param name="path">The path.</param>
    /// <returns>True when executable.</returns>
    public static bool IsExecutableFile(string path) => File.Exists(path) && Access(path, 1) == 0;

    private void Signal(int signal)
    {
        // Once reaped, the pid may belong to someone else: never signal it then.
        if (Volatile.Read(ref _reaped) == 0 && SendSignal(-Pid, signal) != 0 && Marshal.GetLastPInvokeError() != ESrch)
        {
            // EPERM and the like: nothing more can be done; the wait goes on.
        }
    }

    private void WaitForExit()
    {
        while (true)
        {
            int result = WaitPid(Pid, out int status, 0);
            if (result == Pid)
            {
                // Children left behind after a signal (the group still exists) are killed, as check_misc.c does.
                bool signalled = (status & 0x7f) is not 0 and not 0x7f;
                if (signalled)
                {
                    _ = SendSignal(-Pid, SigKill);
                }

                Volatile.Write(ref _reaped, 1);
                _exited.TrySetResult(signalled ? new ScriptExit(null, status & 0x7f) : new ScriptExit((status >> 8) & 0xff, null));
                return;
            }

            int error = Marshal.GetLastPInvokeError();
            if (result == -1 && error == EIntr)
            {
                continue;
            }

            Volatile.Write(ref _reaped, 1);
            _exited.TrySetException(new IOException($"waitpid({Pid}) failed with errno {error}."));
            return;
        }
    }

    private static IntPtr Utf8(List<IntPtr> allocated, string text)
    {
        IntPtr pointer = Marshal.StringToCoTaskMemUTF8(text);
        allocated.Add(pointer);
        return pointer;
    }

    private static void Check(int error, string call)
    {
        if (error != 0)
        {
            throw new IOException($"{call}: {Marshal.GetPInvokeErrorMessage(error)}", error);
        }
    }

    [LibraryImport("libc", EntryPoint = "posix_spawn", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int PosixSpawn(out int pid, string path, IntPtr fileActions, IntPtr attributes, IntPtr[] argv, IntPtr[] envp);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
    private static partial int PosixSpawnAttrInit(IntPtr attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
    private static partial int PosixSpawnAttrDestroy(IntPtr attributes);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
    private static partial int PosixSpawnAttrSetFlags(IntPtr attributes, short flags);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setpgroup")]
    private static partial int PosixSpawnAttrSetPGroup(IntPtr attributes, int processGroup);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
    private static partial int PosixSpawnAttrSetSigDefault(IntPtr attributes, IntPtr signals);

    [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
    private static partial int PosixSpawnAttrSetSigMask(IntPtr attributes, IntPtr signals);

    [LibraryImport("libc", EntryPoint = "sigfillset")]
    private static partial int SigFillSet(IntPtr signals);

    [LibraryImport("libc", EntryPoint = "sigemptyset")]
    private static partial int SigEmptySet(IntPtr signals);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Access(string path, int mode);
}
