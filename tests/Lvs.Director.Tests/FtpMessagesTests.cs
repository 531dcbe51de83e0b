using System.Text;
using Lvs.Core;
using Lvs.Director.Ftp;

namespace Lvs.Director.Tests;

/// <summary>The FTP helper's reading of commands and replies, as ip_vs_ftp.c's <c>ip_vs_ftp_in</c>, <c>ip_vs_ftp_out</c> and <c>ip_vs_ftp_get_addrport</c>.</summary>
public class FtpMessagesTests
{
    private const int Pasv = (int)FtpPassiveMode.Pasv;
    private const int Epsv = (int)FtpPassiveMode.Epsv;

    private static readonly InetAddress Server = InetAddress.Parse("10.1.0.11");

    private static byte[] A(string text) => Encoding.ASCII.GetBytes(text);

    [Theory]
    [InlineData("PASV\r\n", true, Pasv)]
    [InlineData("pasv\r\n", true, Pasv)]
    [InlineData("NOOP\r\nPASV\r\n", true, Pasv)] // anywhere in the segment
    [InlineData("EPSV\r\n", true, Epsv)]
    [InlineData("EPSV\r\n", false, Epsv)]
    [InlineData("EPSV 1\r\n", true, Epsv)]
    [InlineData("EPSV 2\r\n", false, Epsv)]
    public void PassiveCommand_Found(string command, bool ipv4, int expected)
    {
        Assert.True(FtpMessages.TryPassiveCommand(A(command), ipv4, out var mode));
        Assert.Equal((FtpPassiveMode)expected, mode);
    }

    [Theory]
    [InlineData("PASV\r\n", false, false)] // PASV is IPv4's
    [InlineData("EPSV 2\r\n", true, true)] // another family: the segment is done, nothing pending
    [InlineData("EPSV ALL\r\n", true, true)]
    [InlineData("PASV", true, false)] // not a whole command
    [InlineData("RETR file\r\n", true, false)]
    public void PassiveCommand_NotForThisConnection(string command, bool ipv4, bool ended)
    {
        Assert.Equal(ended, FtpMessages.TryPassiveCommand(A(command), ipv4, out var mode));
        Assert.Equal(FtpPassiveMode.None, mode);
    }

    [Theory]
    [InlineData("PORT 10,0,0,2,156,74\r\n", true, "10.0.0.2:40010")]
    [InlineData("port 10,0,0,2,156,74\r\n", true, "10.0.0.2:40010")]
    [InlineData("PORT 10,0,0,300,0,21\r\n", true, "10.0.0.44:21")] // byte arithmetic, as the kernel's unsigned char
    [InlineData("EPRT |1|10.0.0.2|40010|\r\n", true, "10.0.0.2:40010")]
    [InlineData("EPRT !2!2001:db8::2!40010!\r\n", false, "[2001:db8::2]:40010")]
    public void ActiveCommand_Endpoint(string command, bool ipv4, string expected)
    {
        Assert.True(FtpMessages.TryActiveCommand(A(command), ipv4, out var endpoint));
        Assert.Equal(InetEndpoint.Parse(expected), endpoint);
    }

    [Theory]
    [InlineData("PORT 10,0,0,2,156\r\n", true)] // five numbers
    [InlineData("NOOP\r\nPORT 10,0,0,2,156,74\r\n", true)] // not at the start
    [InlineData("PORT 10,0,0,2,156,74\r\n", false)] // PORT is IPv4's
    [InlineData("EPRT |2|2001:db8::2|40010|\r\n", true)] // another family
    [InlineData("EPRT |1|10.0.0.2|0|\r\n", true)] // port 0
    [InlineData("EPRT |1|10.0.2|40010|\r\n", true)] // not a dotted quad
    [InlineData("EPRT |1|10.0.0.2|40010", true)] // unterminated
    public void ActiveCommand_Refused(string command, bool ipv4) =>
        Assert.False(FtpMessages.TryActiveCommand(A(command), ipv4, out _));

    [Theory]
    [InlineData("227 Entering Passive Mode (10,1,0,11,195,80).\r\n", "10.1.0.11:50000", 27, 43)]
    [InlineData("227 =10,1,0,11,195,80\r\n", "10.1.0.11:50000", 5, 21)] // "(" is optional
    public void PasvReply_EndpointAndWhereItsTextLies(string reply, string expected, int start, int end)
    {
        Assert.True(FtpMessages.TryPassiveReply(A(reply), FtpPassiveMode.Pasv, true, Server, out var endpoint, out int s, out int e));
        Assert.Equal((InetEndpoint.Parse(expected), start, end), (endpoint, s, e));
        Assert.Equal("10,1,0,11,195,80", reply[s..e]);
    }

    [Fact]
    public void EpsvReply_PortAlone_TheServersAddress()
    {
        const string Reply = "229 Entering Extended Passive Mode (|||50000|)\r\n";
        Assert.True(FtpMessages.TryPassiveReply(A(Reply), FtpPassiveMode.Epsv, true, Server, out var endpoint, out int start, out int end));
        Assert.Equal(new InetEndpoint(Server, 50000), endpoint);
        Assert.Equal("|||50000|", Reply[start..end]);
    }

    [Theory]
    [InlineData("227 Entering Passive Mode (10,1,0,11,195,80).\r\n", Epsv)] // not the reply pending
    [InlineData("229 Entering Extended Passive Mode (|||50000|)\r\n", Pasv)]
    [InlineData("200 OK\r\n", Pasv)]
    [InlineData("227 Entering Passive Mode (10,1,0,11,195", Pasv)] // cut
    public void PassiveReply_NotTheOneExpected(string reply, int mode) =>
        Assert.False(FtpMessages.TryPassiveReply(A(reply), (FtpPassiveMode)mode, true, Server, out _, out _, out _));

    /// <summary>No input makes the reading throw (the packet path throws nothing on packet data).</summary>
    [Fact]
    public void AnyBytes_NeverThrow()
    {
        var random = new Random(2121);
        string[] seeds = ["PASV\r\n", "EPSV 1\r\n", "PORT 1,2,3,4,5,6\r\n", "EPRT |1|1.2.3.4|5|\r\n", "EPRT |2|::1|5|\r\n", "227 (1,2,3,4,5,6)", "229 (|||5|)"];
        for (int i = 0; i < 20000; i++)
        {
            byte[] bytes = i % 2 == 0
                ? [.. Enumerable.Range(0, random.Next(0, 40)).Select(_ => (byte)random.Next(256))]
                : Mutate(A(seeds[random.Next(seeds.Length)]), random);
            foreach (bool ipv4 in new[] { true, false })
            {
                _ = FtpMessages.TryPassiveCommand(bytes, ipv4, out _);
                _ = FtpMessages.TryActiveCommand(bytes, ipv4, out _);
                foreach (var mode in new[] { FtpPassiveMode.Pasv, FtpPassiveMode.Epsv })
                {
                    if (FtpMessages.TryPassiveReply(bytes, mode, ipv4, Server, out _, out int start, out int end))
                    {
                        // Where the text lies must be inside the reply: the helper replaces that range.
                        Assert.True(start >= 0 && start <= end && end <= bytes.Length, $"{start}..{end} of {bytes.Length}");
                    }
                }
            }
        }
    }

    private static byte[] Mutate(byte[] bytes, Random random)
    {
        int cut = random.Next(bytes.Length + 1);
        byte[] mutated = bytes[..cut];
        if (mutated.Length > 0 && random.Next(2) == 0)
        {
            mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
        }

        return mutated;
    }

    [Fact]
    public void PassiveText_TheVirtualEndpoint()
    {
        var vip = new InetEndpoint(InetAddress.Parse("10.0.0.100"), 50000);
        Span<byte> text = stackalloc byte[FtpMessages.MaxPassiveTextLength];
        Assert.Equal("10,0,0,100,195,80", Encoding.ASCII.GetString(text[..FtpMessages.WritePassiveText(text, FtpPassiveMode.Pasv, vip)]));
        Assert.Equal("|||50000|", Encoding.ASCII.GetString(text[..FtpMessages.WritePassiveText(text, FtpPassiveMode.Epsv, vip)]));
        var widest = new InetEndpoint(InetAddress.Parse("255.255.255.255"), 65535);
        Assert.Equal(FtpMessages.MaxPassiveTextLength, FtpMessages.WritePassiveText(text, FtpPassiveMode.Pasv, widest));
    }
}
