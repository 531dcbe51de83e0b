namespace Lvs.HealthChecks;

/// <summary>
/// What the director does to a virtual service's pool of real servers after a health event, as keepalived's
/// ipwrapper.c does to the kernel's table.
/// </summary>
public enum PoolAction
{
    /// <summary>Nothing: the pool is unchanged (for example while the sorry server stands in for the pool).</summary>
    None,

    /// <summary>Add the server with the event's weight (ipvsadm <c>-a</c>).</summary>
    Add,

    /// <summary>Remove the server (ipvsadm <c>-d</c>); its existing connections may finish.</summary>
    Remove,

    /// <summary>
    /// Set the server's weight to the event's weight (ipvsadm <c>-e -w</c>): 0 takes an inhibited server out
    /// without removing it (keepalived <c>inhibit_on_failure</c>, ldirectord <c>quiescent</c>).
    /// </summary>
    SetWeight,
}
