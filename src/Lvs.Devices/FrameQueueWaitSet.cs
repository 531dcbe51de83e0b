using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// Waits on several queues at once: one <c>poll</c> over their descriptors, so a thread that serves the queues of
/// several links sleeps until a frame arrives on any of them (instead of waiting on one and reading the others only
/// when that wait ends). Works when every queue is an AF_PACKET or TAP queue (<see cref="CanWait"/>).
/// </summary>
/// <remarks>Made once per thread; <see cref="Wait"/> allocates nothing.</remarks>
public sealed unsafe class FrameQueueWaitSet
{
    private readonly IPollableFrameQueue[] _queues;
    private readonly PollDescriptor[] _descriptors;

    /// <summary>Creates the set.</summary>
    /// <param name="queues">The queues; <see cref="CanWait"/> is false unless every one is an AF_PACKET or TAP queue.</param>
    public FrameQueueWaitSet(IReadOnlyList<IFrameQueue> queues)
    {
        ArgumentNullException.ThrowIfNull(queues);
        var pollable = new List<IPollableFrameQueue>(queues.Count);
        foreach (var queue in queues)
        {
            if (queue is IPollableFrameQueue p)
            {
                pollable.Add(p);
            }
        }

        CanWait = queues.Count > 0 && pollable.Count == queues.Count;
        _queues = CanWait ? [.. pollable] : [];
        _descriptors = new PollDescriptor[_queues.Length];
    }

    /// <summary>Whether <see cref="Wait"/> can wait on every queue of the set.</summary>
    public bool CanWait { get; }

    /// <summary>
    /// Returns when a frame can be received on any queue of the set, or when the timeout passes (at once when one
    /// already holds frames, or when <see cref="CanWait"/> is false).
    /// </summary>
    /// <param name="timeoutMilliseconds">The longest wait.</param>
    /// <returns>Whether a queue may have frames now.</returns>
    public bool Wait(int timeoutMilliseconds)
    {
        if (!CanWait)
        {
            return false;
        }

        for (int i = 0; i < _queues.Length; i++)
        {
            if (_queues[i].HasPending)
            {
                return true;
            }

            _descriptors[i] = new PollDescriptor { Fd = _queues[i].Descriptor, Events = Constants.PollIn | Constants.PollError };
        }

        int ready;
        fixed (PollDescriptor* descriptors = _descriptors)
        {
            ready = LibC.Poll(descriptors, (nuint)_descriptors.Length, Math.Max(0, timeoutMilliseconds));
        }

        if (ready <= 0)
        {
            return false;
        }

        for (int i = 0; i < _descriptors.Length; i++)
        {
            if ((_descriptors[i].ReturnedEvents & Constants.PollError) != 0)
            {
                _queues[i].AcknowledgeError();
            }
        }

        return true;
    }
}
