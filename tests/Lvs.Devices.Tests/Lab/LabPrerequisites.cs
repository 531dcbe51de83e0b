namespace Lvs.Devices.Tests.Lab;

/// <summary>
/// Whether the machine can run the lab tests (Linux, root, the <c>ip</c> command). Without them a test fails with the
/// reason: a skipped test proves nothing (run the suite as root; .ci/run installs what it needs).
/// </summary>
internal static class LabPrerequisites
{
    private static readonly Lazy<string?> Missing = new(Find);

    /// <summary>Fails the calling test when a prerequisite is missing.</summary>
    internal static void Require()
    {
        string? missing = Missing.Value;
        if (missing is null)
        {
            return;
        }

        Assert.Fail($"A lab prerequisite is missing: {missing}");
    }

    private static string? Find()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "The lab tests need Linux (network namespaces, veth, AF_PACKET, TAP).";
        }

        if (Environment.UserName != "root" && NativeLab.GetEffectiveUserId() != 0)
        {
            return "The lab tests need root (network namespaces and raw sockets).";
        }

        if (!File.Exists("/dev/net/tun"))
        {
            return "The lab tests need /dev/net/tun.";
        }

        try
        {
            NetworkLab.RunIp("-V");
        }
        catch (Exception exception) when (exception is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return $"The lab tests need the ip command (iproute2): {exception.Message}";
        }

        return null;
    }
}
