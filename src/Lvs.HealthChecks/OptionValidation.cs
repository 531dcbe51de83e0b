namespace Lvs.HealthChecks;

/// <summary>
/// Checks an option when it is set, so that a bad configuration fails where it is built, with a message naming
/// the option and its keepalived keyword, instead of later inside a timer (where an exception kills a check loop).
/// </summary>
internal static class OptionValidation
{
    /// <summary>The longest delay a timer takes (<see cref="ITimer.Change"/> rejects more than 2^32 - 2 ms).</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    public static TimeSpan Positive(TimeSpan value, string option, string keyword)
    {
        if (value <= TimeSpan.Zero || value > MaxDelay)
        {
            throw new ArgumentOutOfRangeException(option, value, $"{option} (keepalived {keyword}) must be greater than zero and at most {MaxDelay.TotalDays:0} days.");
        }

        return value;
    }

    public static TimeSpan NotNegative(TimeSpan value, string option, string keyword)
    {
        if (value < TimeSpan.Zero || value > MaxDelay)
        {
            throw new ArgumentOutOfRangeException(option, value, $"{option} (keepalived {keyword}) must not be negative and at most {MaxDelay.TotalDays:0} days.");
        }

        return value;
    }

    public static T InRange<T>(T value, T minimum, T maximum, string option, string keyword)
        where T : IComparable<T>
    {
        if (value.CompareTo(minimum) < 0 || value.CompareTo(maximum) > 0)
        {
            throw new ArgumentOutOfRangeException(option, value, $"{option} (keepalived {keyword}) must be between {minimum} and {maximum}.");
        }

        return value;
    }
}
