namespace Lvs.Director.Replay;

/// <summary>A frame from a capture: its bytes (from the Ethernet header on) and when it was captured.</summary>
/// <param name="Timestamp">When it was captured.</param>
/// <param name="Data">The frame.</param>
public readonly record struct CapturedFrame(DateTimeOffset Timestamp, ReadOnlyMemory<byte> Data);
