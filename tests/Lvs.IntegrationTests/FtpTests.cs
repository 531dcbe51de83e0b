using System.Diagnostics;
using Lvs.IntegrationTests.Lab;

namespace Lvs.IntegrationTests;

/// <summary>
/// FTP through the real <c>lvs-director</c> with its FTP helper (<c>--ftp-port 21</c>, the kernel's <c>ip_vs_ftp</c>):
/// the client kernel's curl downloads from a real FTP server (pyftpdlib) behind NAT in passive mode, EPSV (curl's
/// default) and, over IPv4, PASV, whose 227 reply announces the server's own address until the director rewrites it
/// to the VIP; and in active mode, PORT and EPRT, with the server's data connection from its port 20.
/// </summary>
public class FtpTests
{
    private const string Python = "/usr/bin/python3";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Director_WithTheFtpHelper_CarriesPassiveFtpThroughNat(bool ipv6) =>
        await WithFtpLab(ipv6, activeFromPort20: false, async (lab, vip, output, content, director) =>
        {
            var cancellation = TestContext.Current.CancellationToken;

            // EPSV (curl's default: the 229 reply carries the port alone) until the director and the server are up.
            var epsv = await CurlUntilUp(lab, vip, output);
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
        });

    /// <summary>
    /// Active FTP (PORT over IPv4, EPRT over IPv6): the client tells the server where to connect, and the server opens
    /// the data connection from its port 20, as <c>ip_vs_ftp</c> expects (<c>ip_vs_ftp_in</c> creates the connection
    /// from the real server's port 20 to the client's endpoint, which its reply then matches); the director gives it
    /// the VIP and port 20 as its source. The server is pyftpdlib with its active data connections bound to port 20.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Director_WithTheFtpHelper_CarriesActiveFtpThroughNat(bool ipv6) =>
        await WithFtpLab(ipv6, activeFromPort20: true, async (lab, vip, output, content, director) =>
        {
            // Python's ftplib in active mode (PORT over IPv4, EPRT over IPv6), which reports who connected to it.
            string client = output + ".py";
            File.WriteAllText(client, ActiveClientScript);
            string host = ipv6 ? LoadBalancerLab.Vip6 : LoadBalancerLab.Vip;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            (int Status, string Output, string Error) active;
            while (true)
            {
                active = Shell.TryRun("ip", "netns", "exec", lab.Client.Name, Python, client, host, output);
                if (active.Status == 0 || DateTime.UtcNow >= deadline)
                {
                    break;
                }

                await Task.Delay(500, TestContext.Current.CancellationToken);
            }

            File.Delete(client);
            Assert.True(active.Status == 0, $"the active-mode client exited with {active.Status}: {active.Error}\nDirector output:\n{director.Output}");
            Assert.Equal(content, await File.ReadAllBytesAsync(output, TestContext.Current.CancellationToken));

            // The data connection reached the client from the VIP's port 20: the director rewrote the server's source.
            Assert.Equal($"{host} 20", active.Output.Trim());
        });

    /// <summary>
    /// A NAT lab with one real server running pyftpdlib on port 21 over a 300,000-byte file, the real
    /// <c>lvs-director</c> with <c>--ftp-port 21</c> in front of it; runs <paramref name="body"/> with the lab, the VIP
    /// as a URL host, the client's download path, the file's content and the director, then stops the director
    /// (which must exit 0) and removes what it made.
    /// </summary>
    private static async Task WithFtpLab(bool ipv6, bool activeFromPort20, Func<LoadBalancerLab, string, string, byte[], SampleProgram, Task> body)
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
        string script = Path.Combine(Path.GetTempPath(), $"{lab.Network.Prefix}-ftp-server.py");
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
        File.WriteAllText(script, ServerScript);
        string[] command = activeFromPort20
            ? [Python, script, ipv6 ? "::" : "0.0.0.0", root]
            : [Python, "-m", "pyftpdlib", "-i", ipv6 ? "::" : "0.0.0.0", "-p", "21", "-d", root];
        using var server = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", lab.Servers[0].Name, .. command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            using var director = SampleProgram.Start(lab.Network, lab.Director, "lvs-director", ["run", "--keepalived", conf, "--ftp-port", "21", .. lab.LinkArguments()]);
            await body(lab, vip, Path.Combine(root, "downloaded.bin"), content, director);
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
            File.Delete(script);
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>pyftpdlib serving a folder read-only to anonymous users, its active data connections made from port 20 (as most FTP servers and the kernel's ip_vs_ftp expect): <c>python3 SCRIPT ADDRESS FOLDER</c>.</summary>
    private const string ServerScript = """
        import sys
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler, ActiveDTP
        from pyftpdlib.servers import FTPServer

        class FromPort20(ActiveDTP):
            def bind(self, address):
                self.set_reuse_addr()
                return super().bind((address[0], 20) + tuple(address[2:]))

        class Handler(FTPHandler):
            active_dtp = FromPort20

        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(sys.argv[2])
        Handler.authorizer = authorizer
        FTPServer((sys.argv[1], 21), Handler).serve_forever()
        """;

    /// <summary>
    /// An active-mode download with Python's ftplib (PORT for IPv4, EPRT for IPv6): <c>python3 SCRIPT HOST OUTPUT</c>
    /// saves file.bin to OUTPUT and prints the address and port the data connection came from.
    /// </summary>
    private const string ActiveClientScript = """
        import ftplib, sys
        ftp = ftplib.FTP(timeout=10)
        ftp.connect(sys.argv[1], 21)
        ftp.login()
        ftp.set_pasv(False)
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR file.bin")
        peer = conn.getpeername()
        with open(sys.argv[2], "wb") as out:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                out.write(chunk)
        conn.close()
        ftp.voidresp()
        ftp.quit()
        print(peer[0], peer[1])
        """;

    /// <summary>curl until the download succeeds or 30 s have passed (the director and the server start meanwhile).</summary>
    private static async Task<(int Status, string Output, string Error)> CurlUntilUp(LoadBalancerLab lab, string vip, string output, params string[] options)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            File.Delete(output);
            var result = Curl(lab, vip, output, options);
            if (result.Status == 0 || DateTime.UtcNow >= deadline)
            {
                return result;
            }

            await Task.Delay(500, TestContext.Current.CancellationToken);
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
