using System.Runtime.InteropServices;

namespace Lvs.Devices.Tests.Lab;

/// <summary>The libc calls the device tests need beside the lab's (which joins namespaces): signals and the user id.</summary>
internal static partial class NativeLab
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();
}
