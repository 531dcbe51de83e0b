using Lvs.Core;

namespace Lvs.Director.Simulation;

/// <summary>How one service's flows were spread over its real servers.</summary>
/// <param name="Service">The service.</param>
/// <param name="Scheduler">Its scheduler's name.</param>
/// <param name="Flows">The flows that reached it.</param>
/// <param name="Unscheduled">Those no real server took.</param>
/// <param name="Servers">Its real servers in the table's order, then any server that got flows and has since left the service.</param>
public sealed record ServiceDistribution(VirtualServiceKey Service, string Scheduler, int Flows, int Unscheduled, IReadOnlyList<ServerShare> Servers);

/// <summary>What one real server got, beside what its weight says it should get.</summary>
/// <param name="Server">The real server's address and port.</param>
/// <param name="Weight">Its weight.</param>
/// <param name="Flows">The flows it got.</param>
/// <param name="Share">Its share of the service's scheduled flows (0 to 1).</param>
/// <param name="ExpectedShare">
/// The share its weight gives it: weight over the sum of the weights above 0; equal shares among the servers of weight
/// above 0 for the schedulers that do not weigh (rr, lc); all to the first server of the highest weight for fo.
/// </param>
public sealed record ServerShare(InetEndpoint Server, int Weight, int Flows, double Share, double ExpectedShare);
