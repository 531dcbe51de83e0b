using System.Globalization;
using Lvs.Core;

namespace Lvs.Director.Simulation;

/// <summary>Whether a <see cref="PoolChange"/> adds or removes a real server.</summary>
public enum PoolChangeKind
{
    /// <summary>Add the server (<c>--add RIP:PORT[,weight]</c>).</summary>
    Add,

    /// <summary>Remove the server (<c>--remove RIP:PORT</c>).</summary>
    Remove,
}

/// <summary>
/// A change to the pools between two runs of the same flows (<see cref="FlowSimulator.Apply"/>): removing a real server
/// from every service that has it, or adding one.
/// </summary>
/// <param name="Kind">Add or remove.</param>
/// <param name="Endpoint">The real server's address and port.</param>
/// <param name="Weight">The weight of an added server (1 unless given).</param>
public sealed record PoolChange(PoolChangeKind Kind, InetEndpoint Endpoint, int Weight = 1)
{
    /// <summary>Parses <c>RIP:PORT</c> (IPv6 as <c>[RIP]:PORT</c>) into a removal.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The change.</returns>
    /// <exception cref="FormatException">The text is not an endpoint.</exception>
    public static PoolChange ParseRemove(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return InetEndpoint.TryParse(text.Trim(), out var endpoint)
            ? new PoolChange(PoolChangeKind.Remove, endpoint)
            : throw new FormatException($"'{text}' is not RIP:PORT (IPv6 as [RIP]:PORT).");
    }

    /// <summary>Parses <c>RIP:PORT[,weight]</c> (IPv6 as <c>[RIP]:PORT</c>) into an addition.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The change.</returns>
    /// <exception cref="FormatException">The text is not an endpoint with an optional weight from 0 to 65535.</exception>
    public static PoolChange ParseAdd(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = text.AsSpan().Trim();
        int weight = 1;
        int comma = span.LastIndexOf(',');
        if (comma >= 0)
        {
            if (!int.TryParse(span[(comma + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out weight) || weight > RealServer.MaxWeight)
            {
                throw new FormatException($"'{text}': the weight after ',' must be a number from 0 to {RealServer.MaxWeight}.");
            }

            span = span[..comma];
        }

        return InetEndpoint.TryParse(span, out var endpoint)
            ? new PoolChange(PoolChangeKind.Add, endpoint, weight)
            : throw new FormatException($"'{text}' is not RIP:PORT[,weight] (IPv6 as [RIP]:PORT).");
    }

    /// <inheritdoc />
    public override string ToString() => Kind == PoolChangeKind.Remove
        ? $"remove {Endpoint}"
        : $"add {Endpoint} weight {Weight.ToString(CultureInfo.InvariantCulture)}";
}
