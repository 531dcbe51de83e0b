using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// The timeout flood defence subtracts from an entry's expiry to tell when its last packet came (the kernel's
/// <c>todrop_entry</c> keeps each connection's timeout; a slot here has no room for it). The present value is right
/// for entries refreshed since it was set, but an entry refreshed under an earlier, shorter value would look idle
/// for longer than it has been, and a connection in use could be shed. So after a change, until every entry
/// refreshed under an earlier value has expired (the change plus that value), the smallest value of the window is used:
/// an entry then looks idle for at most as long as it has been, and shedding stays on the safe side.
/// </summary>
/// <remarks>Used under the store's writer lock; reads <see cref="ConnectionTimeouts"/>' change log, which setters append to.</remarks>
internal sealed class IdleTimeoutFloor
{
    private readonly ConnectionTimeouts _timeouts;
    private readonly int[] _floor = new int[ConnectionTimeouts.Count];
    private TimeoutChange _seen;
    private uint _until;
    private bool _active;

    public IdleTimeoutFloor(ConnectionTimeouts timeouts)
    {
        _timeouts = timeouts;
        _seen = timeouts.LastChange;
    }

    /// <summary>The timeout to subtract from the expiry of an entry of <paramref name="protocol"/> in <paramref name="state"/> at tick <paramref name="now"/>.</summary>
    public int For(L4Protocol protocol, int state, uint now)
    {
        // The value first, then the log: a value read here was logged before it was written, so the log read after it has the change.
        int current = _timeouts.For(protocol, state);
        CatchUp(now);
        return _active ? Math.Min(current, _floor[ConnectionTimeouts.IndexOf(protocol, state)]) : current;
    }

    /// <summary>Takes in the changes logged since the last call and ends the window once it has passed.</summary>
    public void CatchUp(uint now)
    {
        if (_active && (int)(now - _until) >= 0)
        {
            _active = false;
        }

        for (var change = Volatile.Read(ref _seen.Next); change is not null; change = Volatile.Read(ref change.Next))
        {
            if (!_active)
            {
                Array.Fill(_floor, int.MaxValue);
                _until = now;
                _active = true;
            }

            // Entries refreshed under the previous value expire by now + that value at the latest (the change may have
            // been made before now, never after).
            _floor[change.Index] = Math.Min(_floor[change.Index], change.Previous);
            uint end = now + (uint)change.Previous;
            if ((int)(end - _until) > 0)
            {
                _until = end;
            }

            _seen = change;
        }
    }
}
