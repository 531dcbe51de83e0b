using System.Runtime.InteropServices;
using Lvs.Core;

namespace Lvs.ConnectionTracking;

/// <summary>
/// One connection or template to add to a <see cref="ConnectionStore{TAddress}"/>, with its chain buckets already
/// computed: prepared outside the writer locks (where its memory reads can be started), then added under them.
/// </summary>
/// <typeparam name="TAddress">The stored address form.</typeparam>
[StructLayout(LayoutKind.Auto)]
internal struct ConnectionInsert<TAddress>
    where TAddress : unmanaged, IStoredAddress<TAddress>
{
    public TAddress Client;
    public TAddress Virtual;
    public TAddress Destination;
    public TAddress Local;
    public ushort ClientPort;
    public ushort VirtualPort;
    public ushort DestinationPort;
    public ushort LocalPort;
    public byte Protocol;
    public bool Template;
    public ForwardingMethod Method;
    public int RealServer;
    public int Control;

    /// <summary>Whether <see cref="Control"/> must be a template (<see cref="NewConnection.Template"/>) or a connection (<see cref="NewConnection.Control"/>).</summary>
    public bool ControlIsTemplate;
    public uint ControlGeneration;
    public uint TimeoutTicks;

    /// <summary>True when the first packet is processed by the add (<see cref="NewConnection.FirstPacket"/>): the entry starts in <see cref="State"/>.</summary>
    public bool Seen;

    /// <summary>The state the first packet leads to (when <see cref="Seen"/>).</summary>
    public byte State;

    /// <summary>The first packet's TCP flags (when <see cref="Seen"/>), processed on the existing connection if there is one.</summary>
    public Lvs.Core.Headers.TcpFlags Flags;

    /// <summary>The inbound bucket and tag, packed (see <see cref="ConnectionStore{TAddress}.InboundProbe(byte, TAddress, ushort, TAddress, ushort, bool, int)"/>; set by <see cref="ConnectionStore{TAddress}.Prepare"/>).</summary>
    public int InProbe;

    /// <summary>The outbound chain's bucket, or -1 for a connection without an outbound key (set by <see cref="ConnectionStore{TAddress}.Prepare"/>).</summary>
    public int OutBucket;

    /// <summary>True for a NAT or full-NAT connection: its replies come back through the director and are looked up by the outbound key.</summary>
    public readonly bool HasOutboundKey => !Template && Method is ForwardingMethod.Nat or ForwardingMethod.FullNat;
}
