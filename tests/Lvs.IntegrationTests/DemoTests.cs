using System.Text.RegularExpressions;
using Lvs.IntegrationTests.Lab;

namespace Lvs.IntegrationTests;

/// <summary>
/// <c>lvs-director demo</c>, the README's main command, as a newcomer runs it (as root): real HTTP from the client's
/// kernel through NAT, FULLNAT, DR and TUN in a namespace lab, each method's distribution and statistics printed, and
/// every namespace it created gone after, also when interrupted.
/// </summary>
public partial class DemoTests
{
    private static readonly string[] Methods = ["Nat", "FullNat", "DirectRouting", "Tunnel"];

    [Fact]
    public void Demo_AsRoot_CarriesHttpThroughEveryMethodInTheWeightsProportionsAndRemovesItsLabs()
    {
        Prerequisites.Require();
        using var demo = SampleProgram.StartHere("lvs-director", "demo", "--requests", "12");
        int code = demo.WaitForExit(TimeSpan.FromMinutes(5));
        var output = demo.Output;

        Assert.True(code == 0, output);
        foreach (var method in Methods)
        {
            int start = output.IndexOf($"== {method}: lab ", StringComparison.Ordinal);
            Assert.True(start >= 0, $"no {method} section:\n{output}");
            int end = output.IndexOf("\n== ", start + 3, StringComparison.Ordinal);
            var section = output[start..(end < 0 ? output.Length : end)];

            // wrr 1:2:3 over 12 new connections from the client's kernel: 2, 4 and 6, and the director's own table.
            Assert.Matches(@"rs1 \S+ +1 +2 ", section);
            Assert.Matches(@"rs2 \S+ +2 +4 ", section);
            Assert.Matches(@"rs3 \S+ +3 +6 ", section);
            Assert.Contains("IP Virtual Server version", section, StringComparison.Ordinal);
            Assert.Matches(@"TCP  10\.0\.0\.100:80 +\d+ ", section);
        }

        Assert.Contains("Every namespace the demo created is gone.", output, StringComparison.Ordinal);
        AssertLabsGone(output);
    }

    [Fact]
    public async Task Demo_InterruptedWhileTrafficRuns_RemovesItsLabAndSaysSo()
    {
        Prerequisites.Require();
        using var demo = SampleProgram.StartHere("lvs-director", "demo", "--requests", "100000");
        await demo.WaitForOutputAsync("requests from the client's kernel", TimeSpan.FromMinutes(2));
        demo.Interrupt();
        int code = demo.WaitForExit(TimeSpan.FromMinutes(1));

        Assert.True(code == 130, demo.Output);
        Assert.Contains("Interrupted: the lab was removed.", demo.Output, StringComparison.Ordinal);
        AssertLabsGone(demo.Output);
    }

    private static void AssertLabsGone(string output)
    {
        var prefixes = LabPrefix().Matches(output).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(prefixes);
        var left = Shell.Run("ip", "netns", "list");
        foreach (var prefix in prefixes)
        {
            Assert.DoesNotContain(prefix, left, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"== \w+: lab (lvsit[0-9a-f]{4}) ")]
    private static partial Regex LabPrefix();
}
