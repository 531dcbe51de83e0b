namespace Lvs.Scheduling;

/// <summary>
/// The scheduler flags of a virtual service (ipvsadm <c>-b</c>/<c>--sched-flags</c>, the kernel's
/// <c>IP_VS_SVC_F_SCHED1..3</c>). Their meaning depends on the scheduler; sh and mh read the first two.
/// </summary>
[Flags]
public enum SchedulerFlags
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>
    /// <c>flag-1</c>, spelled <c>sh-fallback</c> or <c>mh-fallback</c>: when the hashed server cannot take the
    /// connection, look further around the table instead of refusing it.
    /// </summary>
    Fallback = 1,

    /// <summary><c>flag-2</c>, spelled <c>sh-port</c> or <c>mh-port</c>: hash the source port together with the source address.</summary>
    Port = 2,

    /// <summary><c>flag-3</c>: unused by the built-in schedulers, available to user-defined ones.</summary>
    Flag3 = 4,
}
