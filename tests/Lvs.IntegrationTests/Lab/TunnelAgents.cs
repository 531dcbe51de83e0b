namespace Lvs.IntegrationTests.Lab;

/// <summary>The tunnelling lab's real servers' <c>lvs-tunnel-agent</c>s, which decapsulate what the director tunnels to them.</summary>
public static class TunnelAgents
{
    /// <summary>
    /// Starts an agent on each real server of a tunnelling lab (none for another method) and waits until each has
    /// claimed the tunnel protocols (its first line): before that the server's kernel answers tunnel packets with
    /// "protocol unreachable", which the director relays to the client as the kernel's does, and the client's connects
    /// fail.
    /// </summary>
    /// <param name="lab">The lab.</param>
    /// <param name="options">More options for the agents (e.g. <c>--gue-port 6080</c>).</param>
    /// <returns>The agents, to dispose of when the test ends.</returns>
    public static async Task<List<SampleProgram>> StartAsync(LoadBalancerLab lab, params string[] options)
    {
        List<SampleProgram> agents = [];
        if (lab.Method != LabMethod.Tunnel)
        {
            return agents;
        }

        foreach (var server in lab.Servers)
        {
            agents.Add(SampleProgram.Start(lab.Network, server, "lvs-tunnel-agent", ["--interface", "eth0", "--tun", "lvstun0", .. options]));
        }

        foreach (var agent in agents)
        {
            await agent.WaitForOutputAsync("lvs-tunnel-agent: eth0", TimeSpan.FromSeconds(30));
        }

        return agents;
    }
}
