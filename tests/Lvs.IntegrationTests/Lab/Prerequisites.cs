using System.Runtime.InteropServices;

namespace Lvs.IntegrationTests.Lab;

/// <summary>
/// What the integration tests need: Linux, root (network namespaces, veth, TAP, AF_PACKET) and iproute2's <c>ip</c>.
/// Without them a test fails with the reason: a skipped test proves nothing (run the suite as root; .ci/run installs
/// what it needs).
/// </summary>
public static class Prerequisites
{
    /// <summary>What is missing, or null when everything is there.</summary>
    public static string? Missing()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "the integration tests need Linux (network namespaces)";
        }

        if (geteuid() != 0)
        {
            return "the integration tests need root (network namespaces, veth pairs, AF_PACKET); run them with sudo";
        }

        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip") && !File.Exists("/bin/ip"))
        {
            return "the integration tests need iproute2's ip command (apt-get install iproute2)";
        }

        if (!File.Exists("/usr/sbin/ethtool") && !File.Exists("/sbin/ethtool"))
        {
            return "the integration tests need ethtool (apt-get install ethtool)";
        }

        return null;
    }

    /// <summary>Fails the test when a prerequisite is missing (a skipped test proves nothing).</summary>
    public static void Require()
    {
        var missing = Missing();
        if (missing is null)
        {
            return;
        }

        Assert.Fail($"{missing}.");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern uint geteuid();
}
