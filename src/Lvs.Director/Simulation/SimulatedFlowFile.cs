using Lvs.Core;
using Lvs.Director.Configuration;

namespace Lvs.Director.Simulation;

/// <summary>
/// Reads a flows file: one flow per line, <c>tcp|udp|sctp CLIENT_IP:PORT VIP:PORT</c>, IPv6 addresses in brackets
/// (<c>tcp [2001:db8::7]:40000 [2001:db8::100]:80</c>). Blank lines and <c>#</c> comments are ignored. Errors are
/// reported as <c>file:line: message</c>, every bad line at once.
/// </summary>
public static class SimulatedFlowFile
{
    /// <summary>Reads and parses a flows file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The flows, in file order.</returns>
    /// <exception cref="ConfigurationException">A line is not a flow (every error, each with its file and line).</exception>
    public static IReadOnlyList<SimulatedFlow> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses a flows file's text.</summary>
    /// <param name="text">The text.</param>
    /// <param name="fileName">The name errors give.</param>
    /// <returns>The flows, in order.</returns>
    /// <exception cref="ConfigurationException">A line is not a flow (every error, each with its file and line).</exception>
    public static IReadOnlyList<SimulatedFlow> Parse(string text, string fileName = "<flows>") =>
        TryParse(text, fileName, out var flows, out var errors) ? flows : throw new ConfigurationException(errors);

    /// <summary>Parses a flows file's text without throwing.</summary>
    /// <param name="text">The text.</param>
    /// <param name="fileName">The name errors give.</param>
    /// <param name="flows">The flows (those of the good lines when there are errors).</param>
    /// <param name="errors">The errors; empty when every line is good.</param>
    /// <returns>True when there is no error.</returns>
    public static bool TryParse(string text, string fileName, out IReadOnlyList<SimulatedFlow> flows, out IReadOnlyList<ConfigurationError> errors)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(fileName);
        var parsed = new List<SimulatedFlow>();
        var problems = new List<ConfigurationError>();
        int number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.AsSpan();
            int comment = line.IndexOf('#');
            if (comment >= 0)
            {
                line = line[..comment];
            }

            line = line.Trim();
            if (line.IsEmpty)
            {
                continue;
            }

            if (TryParseLine(line, out var flow, out string? message))
            {
                parsed.Add(flow);
            }
            else
            {
                problems.Add(new ConfigurationError(fileName, number, message));
            }
        }

        flows = parsed;
        errors = problems;
        return problems.Count == 0;
    }

    private static bool TryParseLine(ReadOnlySpan<char> line, out SimulatedFlow flow, out string message)
    {
        flow = null!;
        Span<Range> fields = stackalloc Range[4];
        int count = line.SplitAny(fields, " \t", StringSplitOptions.RemoveEmptyEntries);
        if (count != 3)
        {
            message = $"expected 'tcp|udp|sctp CLIENT_IP:PORT VIP:PORT', got {(count > 3 ? "more than 3" : count.ToString(System.Globalization.CultureInfo.InvariantCulture))} field{(count == 1 ? string.Empty : "s")}";
            return false;
        }

        var protocolText = line[fields[0]];
        L4Protocol protocol;
        if (protocolText.Equals("tcp", StringComparison.OrdinalIgnoreCase))
        {
            protocol = L4Protocol.Tcp;
        }
        else if (protocolText.Equals("udp", StringComparison.OrdinalIgnoreCase))
        {
            protocol = L4Protocol.Udp;
        }
        else if (protocolText.Equals("sctp", StringComparison.OrdinalIgnoreCase))
        {
            protocol = L4Protocol.Sctp;
        }
        else
        {
            message = $"unknown protocol '{protocolText}' (tcp, udp or sctp)";
            return false;
        }

        if (!TryParseEndpoint(line[fields[1]], "client", out var client, out message)
            || !TryParseEndpoint(line[fields[2]], "virtual", out var destination, out message))
        {
            return false;
        }

        if (client.Address.IsIPv4 != destination.Address.IsIPv4)
        {
            message = $"client {client} and virtual address {destination} are not of the same family";
            return false;
        }

        flow = new SimulatedFlow(protocol, client, destination);
        message = string.Empty;
        return true;
    }

    private static bool TryParseEndpoint(ReadOnlySpan<char> text, string what, out InetEndpoint endpoint, out string message)
    {
        if (!InetEndpoint.TryParse(text, out endpoint))
        {
            message = $"bad {what} endpoint '{text}' (ADDRESS:PORT, IPv6 as [ADDRESS]:PORT)";
            return false;
        }

        if (endpoint.Port == 0)
        {
            message = $"{what} endpoint '{text}' has port 0";
            return false;
        }

        message = string.Empty;
        return true;
    }
}
