using Lvs.Director;

namespace Lvs.Hosting;

/// <summary>
/// The answers the director gives as the host of its own addresses (VIPs and FULLNAT local addresses), which a kernel
/// director's host stack gives and so are on by default: <c>tcp-reset</c> (<see cref="DirectorOptions.ResetUnmatchedTcp"/>),
/// <c>sctp-abort</c> (<see cref="DirectorOptions.AbortUnmatchedSctp"/>), <c>udp-unreachable</c>
/// (<see cref="DirectorOptions.UnreachableUnservedUdp"/>), <c>protocol-unreachable</c>
/// (<see cref="DirectorOptions.UnreachableUnknownProtocols"/>) and <c>echo</c> (<see cref="DirectorOptions.AnswerEcho"/>).
/// Each named one is turned off, as a firewall in front of a kernel director would drop what its host answers
/// (<c>nft add rule inet filter input ip daddr VIP tcp dport != 80 drop</c>). An unknown name is refused, never ignored.
/// </summary>
public static class HostAnswers
{
    /// <summary>The names of the answers that can be turned off.</summary>
    public static IReadOnlyList<string> Names { get; } = ["echo", "protocol-unreachable", "sctp-abort", "tcp-reset", "udp-unreachable"];

    /// <summary>Turns off each named answer.</summary>
    /// <param name="options">The options to start from.</param>
    /// <param name="names">The answers to turn off (case-insensitive, spaces around a name allowed).</param>
    /// <returns>The options with those answers off.</returns>
    /// <exception cref="FormatException">A name is not one of <see cref="Names"/>.</exception>
    public static DirectorOptions TurnOff(DirectorOptions options, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(names);
        foreach (var text in names)
        {
            options = text.Trim().ToUpperInvariant() switch
            {
                "ECHO" => options with { AnswerEcho = false },
                "PROTOCOL-UNREACHABLE" => options with { UnreachableUnknownProtocols = false },
                "SCTP-ABORT" => options with { AbortUnmatchedSctp = false },
                "TCP-RESET" => options with { ResetUnmatchedTcp = false },
                "UDP-UNREACHABLE" => options with { UnreachableUnservedUdp = false },
                _ => throw new FormatException($"host answer '{text}': not one the director gives (it gives {string.Join(", ", Names)})."),
            };
        }

        return options;
    }
}
