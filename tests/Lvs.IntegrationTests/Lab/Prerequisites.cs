using System.Runtime.InteropServices;

namespace Lvs.IntegrationTests.Lab;

/// <summary>
/// What the integration tests need: Linux, root (network namespaces, veth, TAP, AF_PACKET) and iproute2's <c>ip</c>.
/// Without them a test is skipped with the reason, except under <c>CI=true</c>, where a missing prerequisite fails it.
/// </summary>
public static class Prerequisites
{
    /// <summary>Whether this run is CI's (missing prerequisites fail instead of skipping).</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

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

    /// <summary>Skips the test (or fails it under CI) when a prerequisite is missing.</summary>
    public static void Require()
    {
        var missing = Missing();
        if (missing is null)
        {
            return;
        }

        if (IsCi)
        {
            Assert.Fail($"CI=true and {missing}.");
        }

        Assert.Skip(missing);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern uint geteuid();
}
