using System.Runtime.InteropServices;

namespace Lvs.Core;

/// <summary>
/// One real server's live load inside a <see cref="RealServerLoadBlock"/>: 16 bytes, four to a cache line, in the order
/// that <see cref="RealServerLoadBlock.ActiveOffset"/> and its siblings document.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = RealServerLoadBlock.SlotLength * sizeof(int))]
internal struct RealServerLoadSlot
{
    /// <summary>Connections in an active state.</summary>
    public int Active;

    /// <summary>Connections in any other state.</summary>
    public int Inactive;

    /// <summary>Persistence templates.</summary>
    public int Persistent;

    /// <summary>The weight with <see cref="RealServerLoadBlock.OverloadedFlag"/> and <see cref="RealServerLoadBlock.UnavailableFlag"/>.</summary>
    public int State;
}
