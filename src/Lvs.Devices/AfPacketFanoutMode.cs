namespace Lvs.Devices;

/// <summary>How the kernel spreads an interface's frames over the queues (PACKET_FANOUT) of an <see cref="AfPacketLink"/>.</summary>
public enum AfPacketFanoutMode
{
    /// <summary>PACKET_FANOUT_HASH: by the flow's symmetric hash, so every frame of a flow (both directions of one address pair) reaches the same queue.</summary>
    Hash = 0,

    /// <summary>PACKET_FANOUT_CPU: by the CPU that received the frame (follows the NIC's RSS).</summary>
    Cpu = 2,

    /// <summary>PACKET_FANOUT_QM: by the NIC's receive queue.</summary>
    QueueMapping = 5,
}
