using System.Diagnostics;
using Lvs.IntegrationTests.Lab;

namespace Lvs.IntegrationTests;

/// <summary>
/// FTP through the real <c>lvs-director</c> with its FTP helper (<c>--ftp-port 21</c>, the kernel's <c>ip_vs_ftp</c>):
/// the client kernel's curl downloads from a real FTP server (pyftpdlib) behind NAT in passive mode, EPSV (curl's
/// default) and, over IPv4, PASV, whose 227 reply announces the server's own address until the director rewrites it
/// to the VIP.
/// </summary>
public class FtpTests
{
    private const string Python = "/usr/bin/python3";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Director_WithTheFtpHelper_CarriesPassiveFtpThroughNat(bool ipv6)
    {
        Prerequisites.Require();
        RequireFtpTools();
        var cancellation = TestContext.Current.CancellationToken;
        await using var lab = LoadBalancerLab.Create(LabMethod.Nat);
        if (ipv6)
        {
            lab.AddIPv6();
        }

        string vip = ipv6 ? $"[{LoadBalancerLab.Vip6}]" : LoadBalancerLab.Vip;
        string root = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-ftp");
        string conf = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-ftp-keepalived.conf");
        Directory.CreateDirectory(root);
        byte[] content = new byte[300_000];
        new Random(21).NextBytes(content);
        await File.WriteAllBytesAsync(Path.Combine(root, "file.bin"), content, cancellation);
        File.WriteAllText(conf, $$"""
            virtual_server {{(ipv6 ? LoadBalancerLab.Vip6 : LoadBalancerLab.Vip)}} 21 {
                lvs_sched rr
                lvs_method NAT
                protocol TCP
                real_server {{(ipv6 ? lab.ServerAddress6(0) : lab.ServerAddress(0))}} 21 {
                    weight 1
                }
            }
            """);
        using var server = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", lab.Servers[0].Name, Python, "-m", "pyftpdlib", "-i", ipv6 ? "::" : "0.0.0.0", "-p", "21", "-d", root])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        string output = Path.Combine(root, "downloaded.bin");
        try
        {
            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", ["run", "--keepalived", conf, "--ftp-port", "21", .. lab.LinkArguments()]);

            // EPSV (curl's default: the 229 reply carries the port alone) until the director and the server are up.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            (int Status, string Output, string Error) epsv;
            do
            {
                File.Delete(output);
                epsv = Curl(lab, vip, output);
                if (epsv.Status == 0)
                {
                    break;
                }

                await Task.Delay(500, cancellation);
            }
            while (DateTime.UtcNow < deadline);

            Assert.True(epsv.Status == 0, $"curl (EPSV) exited with {epsv.Status}: {epsv.Error}\nDirector output:\n{director.Output}");
            Assert.Equal(content, await File.ReadAllBytesAsync(output, cancellation));

            if (!ipv6)
            {
                // PASV: the server's 227 names 10.1.0.11, which the client cannot reach; the helper rewrites it to the
                // VIP (curl is told to use the reply's address: by default it connects to the control connection's).
                File.Delete(output);
                var pasv = Curl(lab, vip, output, "--disable-epsv", "--no-ftp-skip-pasv-ip");
                Assert.True(pasv.Status == 0, $"curl (PASV) exited with {pasv.Status}: {pasv.Error}\nDirector output:\n{director.Output}");
                Assert.Equal(content, await File.ReadAllBytesAsync(output, cancellation));
            }

            // A listing is one more data connection.
            var list = Shell.TryRun("ip", "netns", "exec", lab.Client.Name, "curl", "-s", "-g", "--max-time", "10", $"ftp://{vip}/");
            Assert.True(list.Status == 0 && list.Output.Contains("file.bin", StringComparison.Ordinal), $"listing: {list.Status} {list.Error}");

            Assert.Equal(0, director.Stop(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
            }

            await server.WaitForExitAsync(CancellationToken.None);
            File.Delete(conf);
            Directory.Delete(root, recursive: true);
        }
    }

    private static (int Status, string Output, string Error) Curl(LoadBalancerLab lab, string vip, string output, params string[] options) =>
        Shell.TryRun("ip", ["netns", "exec", lab.Client.Name, "curl", "-s", "-S", "-g", "--max-time", "10", .. options, "-o", output, $"ftp://{vip}/file.bin"]);

    /// <summary>Debian's python3 with pyftpdlib (package python3-pyftpdlib) and curl, which .ci/run installs.</summary>
    private static void RequireFtpTools()
    {
        var (status, _, error) = File.Exists(Python) ? Shell.TryRun(Python, "-c", "import pyftpdlib") : (1, string.Empty, $"no {Python}");
        Assert.True(status == 0, $"the FTP test needs Debian's python3 with pyftpdlib (apt-get install python3-pyftpdlib): {error.Trim()}");
        Assert.True(Shell.TryRun("sh", "-c", "command -v curl").Status == 0, "the FTP test needs curl (apt-get install curl)");
    }
}
