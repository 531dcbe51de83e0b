using Lvs.Director.Replay;
using PacketDotNet;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Lvs.Samples.Director.Commands;

/// <summary>Capture files in and out, through SharpPcap's capture-file devices (libpcap): the replay core itself takes and gives frames.</summary>
internal static class PcapFiles
{
    /// <summary>Reads every frame of an Ethernet capture file (pcap or pcapng, whatever libpcap reads).</summary>
    public static IReadOnlyList<CapturedFrame> Read(string path)
    {
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        if (device.LinkType != LinkLayers.Ethernet)
        {
            throw new InvalidDataException($"{path}: link type {device.LinkType}, not Ethernet.");
        }

        var frames = new List<CapturedFrame>();
        while (device.GetNextPacket(out PacketCapture capture) == GetPacketStatus.PacketRead)
        {
            var timeval = capture.Header.Timeval;
            var time = DateTimeOffset.FromUnixTimeSeconds((long)timeval.Seconds).AddTicks((long)timeval.MicroSeconds * 10);
            frames.Add(new CapturedFrame(time, capture.Data.ToArray()));
        }

        return frames;
    }

    /// <summary>Writes frames to an Ethernet capture file (pcap, microsecond timestamps), replacing it.</summary>
    public static void Write(string path, IEnumerable<ReplayedFrame> frames)
    {
        using var device = new CaptureFileWriterDevice(path, FileMode.Create);
        device.Open(new DeviceConfiguration { LinkLayerType = LinkLayers.Ethernet });
        foreach (var frame in frames)
        {
            long ticks = frame.Timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
            var timeval = new PosixTimeval((ulong)(ticks / TimeSpan.TicksPerSecond), (ulong)(ticks % TimeSpan.TicksPerSecond / 10));
            device.Write(new RawCapture(LinkLayers.Ethernet, timeval, frame.Data));
        }
    }
}
