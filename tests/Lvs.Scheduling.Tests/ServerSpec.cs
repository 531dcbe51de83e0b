using FsCheck;
using FsCheck.Fluent;
using Lvs.Core;

namespace Lvs.Scheduling.Tests;

/// <summary>A generated real server: weight, connection counts and flags.</summary>
public sealed record ServerSpec(int Weight, int Active, int Inactive, bool Overloaded, bool Available)
{
    /// <summary>Mostly small weights, some 0, some near the maximum; ties in load are common.</summary>
    public static Gen<ServerSpec> Generator { get; } =
        from weight in Gen.Frequency((2, Gen.Constant(0)), (10, Gen.Choose(1, 8)), (2, Gen.Choose(1, RealServer.MaxWeight)))
        from active in Gen.Frequency((3, Gen.Constant(0)), (6, Gen.Choose(0, 12)), (1, Gen.Choose(0, 3000)))
        from inactive in Gen.Frequency((3, Gen.Constant(0)), (6, Gen.Choose(0, 300)))
        from overloaded in Gen.Frequency((1, Gen.Constant(true)), (7, Gen.Constant(false)))
        from available in Gen.Frequency((1, Gen.Constant(false)), (9, Gen.Constant(true)))
        select new ServerSpec(weight, active, inactive, overloaded, available);

    /// <summary>Lists of one to twenty servers.</summary>
    public static Arbitrary<ServerSpec[]> Lists { get; } =
        Gen.ArrayOf(Generator).Where(a => a.Length is > 0 and <= 20).ToArbitrary();

    /// <summary>Builds the servers, numbered in order.</summary>
    public static RealServer[] Build(ServerSpec[] specs) =>
        [.. specs.Select((spec, i) => spec.Build(i))];

    /// <summary>Builds this server as number <paramref name="index"/>.</summary>
    public RealServer Build(int index)
    {
        var server = TestServers.Create(index, Weight).WithConnections(Active, Inactive);
        if (Overloaded)
        {
            server.Overloaded();
        }

        server.IsAvailable = Available;
        return server;
    }
}
