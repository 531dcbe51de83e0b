namespace Lvs.Devices;

/// <summary>A host setting that would make the kernel interfere with the director, and the command that fixes it.</summary>
/// <param name="Setting">What is wrong, in a word or two (an address, a sysctl name).</param>
/// <param name="Message">What the kernel would do, and why that breaks the director.</param>
/// <param name="Fix">The exact command that fixes it.</param>
public sealed record HostProblem(string Setting, string Message, string Fix)
{
    /// <summary>The message and its fix, for a start-up error.</summary>
    /// <returns>"message Fix: command".</returns>
    public override string ToString() => $"{Message} Fix: {Fix}";
}
