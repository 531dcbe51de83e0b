using System.Runtime.InteropServices;

namespace Lvs.Devices.Tests.Lab;

/// <summary>The libc calls the lab needs: entering a network namespace from one thread.</summary>
internal static partial class NativeLab
{
    internal const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNamespace(int fd, int type);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();
}
