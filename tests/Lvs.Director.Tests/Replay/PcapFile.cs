using Lvs.Director.Replay;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Lvs.Director.Tests.Replay;

/// <summary>Reads a capture file into frames with SharpPcap's capture-file device (libpcap).</summary>
internal static class PcapFile
{
    public static IReadOnlyList<CapturedFrame> Read(string path)
    {
        var frames = new List<CapturedFrame>();
        using var device = new CaptureFileReaderDevice(path);
        device.Open();
        while (device.GetNextPacket(out PacketCapture capture) == GetPacketStatus.PacketRead)
        {
            var timeval = capture.Header.Timeval;
            var time = DateTimeOffset.FromUnixTimeSeconds((long)timeval.Seconds).AddTicks((long)timeval.MicroSeconds * 10);
            frames.Add(new CapturedFrame(time, capture.Data.ToArray()));
        }

        return frames;
    }
}
