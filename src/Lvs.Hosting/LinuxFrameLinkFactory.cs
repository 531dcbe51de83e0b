using Lvs.Devices;

namespace Lvs.Hosting;

/// <summary>The Linux links: an AF_PACKET socket (PACKET_FANOUT, one member per queue) on an interface, a multi-queue TAP device.</summary>
public sealed class LinuxFrameLinkFactory : IFrameLinkFactory
{
    /// <inheritdoc />
    public IFrameLink Create(LinkSpecification specification, int queueCount)
    {
        ArgumentNullException.ThrowIfNull(specification);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException($"Link '{specification.Name}': AF_PACKET and TAP links need Linux.");
        }

        return specification.Kind == LinkKind.Tap
            ? CreateTapLink(specification, queueCount)
            : CreateAfPacketLink(specification, queueCount);
    }

    // TODO(issue 20, merge with the devices branch): return Lvs.Devices' AF_PACKET link on the existing interface
    // (specification.Name) with queueCount PACKET_FANOUT members.
    private static IFrameLink CreateAfPacketLink(LinkSpecification specification, int queueCount) =>
        throw new NotSupportedException($"Interface '{specification.Name}' ({queueCount} queues): AF_PACKET links are not built into this version yet.");

    // TODO(issue 20, merge with the devices branch): return Lvs.Devices' TAP link: create the device
    // specification.Name with specification.Addresses and queueCount queues (IFF_MULTI_QUEUE).
    private static IFrameLink CreateTapLink(LinkSpecification specification, int queueCount) =>
        throw new NotSupportedException($"TAP device '{specification.Name}' ({queueCount} queues): TAP links are not built into this version yet.");
}
