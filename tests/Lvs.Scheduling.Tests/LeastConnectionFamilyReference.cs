using Lvs.Core;

namespace Lvs.Scheduling.Tests;

/// <summary>
/// Brute-force statements of the kernel's lc, wlc, sed, nq and ovf rules, written from their definitions with exact
/// rational arithmetic (not the cross-multiplied scans the schedulers use): the candidates are the servers that may
/// take a connection, and among equal loads the first in list order wins.
/// </summary>
internal static class LeastConnectionFamilyReference
{
    private static IEnumerable<RealServer> Candidates(RealServer[] servers) =>
        servers.Where(s => s.Weight > 0 && !s.IsOverloaded && s.IsAvailable);

    private static decimal Overhead(RealServer s) => (s.ActiveConnections * 256m) + s.InactiveConnections;

    public static RealServer? LeastConnection(RealServer[] servers) =>
        Candidates(servers).MinBy(Overhead);

    public static RealServer? WeightedLeastConnection(RealServer[] servers) =>
        Candidates(servers).MinBy(s => Overhead(s) / s.Weight);

    public static RealServer? ShortestExpectedDelay(RealServer[] servers) =>
        Candidates(servers).MinBy(s => (s.ActiveConnections + 1m) / s.Weight);

    public static RealServer? NeverQueue(RealServer[] servers) =>
        Candidates(servers).FirstOrDefault(s => s.ActiveConnections == 0) ?? ShortestExpectedDelay(servers);

    public static RealServer? WeightedOverflow(RealServer[] servers) =>
        Candidates(servers).Where(s => s.ActiveConnections <= s.Weight).MaxBy(s => s.Weight);
}
