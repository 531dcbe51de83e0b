using System.Globalization;

namespace Lvs.Benchmarks;

/// <summary>The positional arguments of the timing-loop modes (<c>engine-loop Nat 10</c>): each at its place, or its default when absent.</summary>
internal static class LoopArguments
{
    /// <summary>Argument <paramref name="index"/> as an integer, or <paramref name="absent"/>.</summary>
    public static int Int(string[] args, int index, int absent) =>
        args.Length > index ? int.Parse(args[index], CultureInfo.InvariantCulture) : absent;

    /// <summary>Argument <paramref name="index"/> as a number, or <paramref name="absent"/>.</summary>
    public static double Double(string[] args, int index, double absent) =>
        args.Length > index ? double.Parse(args[index], CultureInfo.InvariantCulture) : absent;

    /// <summary>Argument <paramref name="index"/> as a value of <typeparamref name="T"/> by name, or <paramref name="absent"/>.</summary>
    public static T Enum<T>(string[] args, int index, T absent)
        where T : struct, System.Enum =>
        args.Length > index ? System.Enum.Parse<T>(args[index]) : absent;
}
