using FsCheck.Xunit;

namespace Lvs.Core.Tests;

public class FlowKeyTests
{
    private static FlowKey Key(string src, string dst, L4Protocol protocol = L4Protocol.Tcp) =>
        new(protocol, InetEndpoint.Parse(src), InetEndpoint.Parse(dst));

    [Fact]
    public void Size_IsFortyBytesWithoutPadding()
    {
        Assert.Equal(40, System.Runtime.CompilerServices.Unsafe.SizeOf<FlowKey>());
    }

    [Fact]
    public void Hash_SameSeed_IsDeterministic_DifferentSeed_Differs()
    {
        var key = Key("10.0.0.1:1234", "10.0.0.2:80");
        Assert.Equal(key.Hash(42), Key("10.0.0.1:1234", "10.0.0.2:80").Hash(42));
        Assert.NotEqual(key.Hash(42), key.Hash(43));
    }

    [Fact]
    public void Hash_DependsOnEveryField()
    {
        var key = Key("10.0.0.1:1234", "10.0.0.2:80");
        Assert.NotEqual(key.Hash(1), Key("10.0.0.1:1234", "10.0.0.2:80", L4Protocol.Udp).Hash(1));
        Assert.NotEqual(key.Hash(1), Key("10.0.0.1:1235", "10.0.0.2:80").Hash(1));
        Assert.NotEqual(key.Hash(1), Key("10.0.0.1:1234", "10.0.0.2:81").Hash(1));
        Assert.NotEqual(key.Hash(1), Key("10.0.0.3:1234", "10.0.0.2:80").Hash(1));
        Assert.NotEqual(key.Hash(1), Key("10.0.0.1:1234", "10.0.0.3:80").Hash(1));
        Assert.NotEqual(key.Hash(1), Key("[2001:db8::1]:1234", "10.0.0.2:80").Hash(1));
    }

    [Fact]
    public void Seed_DefaultIsRandomPerProcess()
    {
        // Two fresh seeds collide with probability 2^-64.
        Assert.NotEqual(FlowHash.RandomSeed(), FlowHash.RandomSeed());
    }

    [Property]
    public bool Reverse_Twice_IsIdentity(uint a, uint b, ushort p, ushort q)
    {
        var key = new FlowKey(L4Protocol.Udp, InetAddress.FromIPv4(a), p, InetAddress.FromIPv4(b), q);
        var reversed = key.Reverse();
        return reversed.Reverse() == key && reversed.Source == key.Destination && reversed.Destination == key.Source;
    }

    [Property]
    public bool Equality_MatchesFieldEquality(uint a, uint b, ushort p, ushort q, uint c)
    {
        var x = new FlowKey(L4Protocol.Tcp, InetAddress.FromIPv4(a), p, InetAddress.FromIPv4(b), q);
        var y = new FlowKey(L4Protocol.Tcp, InetAddress.FromIPv4(c), p, InetAddress.FromIPv4(b), q);
        return (x == y) == (a == c) && (x == y) == (x.GetHashCode() == y.GetHashCode() && a == c);
    }
}
