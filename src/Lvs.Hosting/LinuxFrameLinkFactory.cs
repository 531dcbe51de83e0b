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

    /// <inheritdoc />
    public bool SharesHostKernel(LinkSpecification specification) => specification?.Kind == LinkKind.Interface;

    private static AfPacketLink CreateAfPacketLink(LinkSpecification specification, int queueCount) =>
        new(specification.Name, new AfPacketLinkOptions { QueueCount = queueCount });

    private static TapLink CreateTapLink(LinkSpecification specification, int queueCount) =>
        new(new TapLinkOptions { Name = specification.Name, Addresses = specification.Addresses, QueueCount = queueCount });
}
