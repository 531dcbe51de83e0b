using Lvs.TestSupport;

namespace Lvs.Director.Tests;

/// <summary>
/// Every other test of this assembly, run again in a child process as on a machine with another processor count, so
/// with another number of counter planes and round-robin reservation planes (<c>PacketThread.Planes</c>) than this
/// machine's (see <see cref="PlaneCountRun"/>).
/// </summary>
public class PlaneCountTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void AssemblyTests_OnAMachineWithThisManyProcessors_AllPass(int processors) =>
        PlaneCountRun.RunAssemblyWith(typeof(PlaneCountTests), processors);
}
