using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Lvs.Core;
using Lvs.Devices.Native;

namespace Lvs.Devices;

/// <summary>
/// An nftables table in the netdev family with an ingress chain on the director's interface that drops every IPv4
/// and IPv6 packet to the director's addresses, so the host kernel never sees them (never answers, resets or forwards
/// them), while the director's AF_PACKET sockets still receive them: AF_PACKET taps take their copy before the ingress
/// hook. Created through nf_tables netlink (no <c>nft</c> command), under an exact table name that must not exist yet,
/// and deleted by that exact name on <see cref="Dispose"/>.
/// </summary>
/// <remarks>The equivalent commands: <c>nft add table netdev NAME; nft add chain netdev NAME ingress '{ type filter hook
/// ingress device IF priority 0; }'; nft add rule netdev NAME ingress ip daddr ADDRESS drop</c> (and <c>ip6 daddr</c>).</remarks>
public sealed class IngressDropTable : IDisposable
{
    private const int AfNetlink = 16;
    private const int NetlinkNetfilter = 12;
    private const byte NfprotoNetdev = 5;
    private const ushort SubsystemNftables = 10;
    private const ushort BatchBegin = 0x10;
    private const ushort BatchEnd = 0x11;
    private const ushort NewTable = (SubsystemNftables << 8) | 0;
    private const ushort DeleteTable = (SubsystemNftables << 8) | 2;
    private const ushort NewChain = (SubsystemNftables << 8) | 3;
    private const ushort NewRule = (SubsystemNftables << 8) | 6;
    private const ushort Request = 0x1;
    private const ushort Ack = 0x4;
    private const ushort Exclusive = 0x200;
    private const ushort CreateFlag = 0x400;
    private const ushort Append = 0x800;
    private int _deleted;

    private IngressDropTable(string tableName, string interfaceName, IReadOnlyList<InetAddress> addresses)
    {
        TableName = tableName;
        InterfaceName = interfaceName;
        Addresses = addresses;
    }

    /// <summary>The table's exact name.</summary>
    public string TableName { get; }

    /// <summary>The interface whose ingress the chain hooks.</summary>
    public string InterfaceName { get; }

    /// <summary>The addresses whose packets are dropped.</summary>
    public IReadOnlyList<InetAddress> Addresses { get; }

    /// <summary>The default table name for an interface: <c>lvs_</c> and the interface's name.</summary>
    /// <param name="interfaceName">The interface.</param>
    /// <returns>The name.</returns>
    public static string DefaultTableName(string interfaceName) => "lvs_" + interfaceName;

    /// <summary>Creates the table, its ingress chain and one drop rule per address, in one nf_tables transaction.</summary>
    /// <param name="interfaceName">The director's interface.</param>
    /// <param name="addresses">The director's addresses (VIPs, FULLNAT local addresses).</param>
    /// <param name="tableName">The table's exact name; null for <see cref="DefaultTableName"/>.</param>
    /// <returns>The table; dispose it to delete it.</returns>
    /// <exception cref="IOException">A table of that name exists, the interface does not, or nf_tables refused (errno in the message).</exception>
    public static IngressDropTable Create(string interfaceName, IEnumerable<InetAddress> addresses, string? tableName = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        ArgumentNullException.ThrowIfNull(addresses);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("nftables needs Linux.");
        }

        tableName ??= DefaultTableName(interfaceName);
        InetAddress[] list = addresses.Distinct().ToArray();
        var writer = new NetlinkMessageWriter();
        uint sequence = (uint)Environment.TickCount;
        Begin(writer, sequence++);
        writer.BeginMessage(NewTable, Request | Ack | CreateFlag | Exclusive, sequence++, NfprotoNetdev, 0);
        writer.String(1, tableName); // NFTA_TABLE_NAME
        writer.EndMessage();

        writer.BeginMessage(NewChain, Request | Ack | CreateFlag, sequence++, NfprotoNetdev, 0);
        writer.String(1, tableName); // NFTA_CHAIN_TABLE
        writer.String(3, "ingress"); // NFTA_CHAIN_NAME
        writer.BeginNested(4); // NFTA_CHAIN_HOOK
        writer.BigEndian32(1, 0); // NFTA_HOOK_HOOKNUM: NF_NETDEV_INGRESS
        writer.BigEndian32(2, 0); // NFTA_HOOK_PRIORITY
        writer.String(3, interfaceName); // NFTA_HOOK_DEV
        writer.EndNested();
        writer.BigEndian32(5, 1); // NFTA_CHAIN_POLICY: NF_ACCEPT
        writer.String(7, "filter"); // NFTA_CHAIN_TYPE
        writer.EndMessage();

        foreach (InetAddress address in list)
        {
            writer.BeginMessage(NewRule, Request | Ack | CreateFlag | Append, sequence++, NfprotoNetdev, 0);
            writer.String(1, tableName); // NFTA_RULE_TABLE
            writer.String(2, "ingress"); // NFTA_RULE_CHAIN
            writer.BeginNested(4); // NFTA_RULE_EXPRESSIONS
            byte[] protocolBytes = address.IsIPv4 ? [0x08, 0x00] : [0x86, 0xDD];
            Expression(writer, "meta", w =>
            {
                w.BigEndian32(2, 1); // NFTA_META_KEY: NFT_META_PROTOCOL
                w.BigEndian32(1, 1); // NFTA_META_DREG: NFT_REG_1
            });
            Expression(writer, "cmp", w => Compare(w, protocolBytes));
            var bytes = new byte[address.ByteLength];
            address.WriteTo(bytes);
            Expression(writer, "payload", w =>
            {
                w.BigEndian32(1, 1); // NFTA_PAYLOAD_DREG: NFT_REG_1
                w.BigEndian32(2, 1); // NFTA_PAYLOAD_BASE: NFT_PAYLOAD_NETWORK_HEADER
                w.BigEndian32(3, address.IsIPv4 ? 16u : 24u); // NFTA_PAYLOAD_OFFSET: the destination address
                w.BigEndian32(4, (uint)bytes.Length); // NFTA_PAYLOAD_LEN
            });
            Expression(writer, "cmp", w => Compare(w, bytes));
            Expression(writer, "immediate", w =>
            {
                w.BigEndian32(1, 0); // NFTA_IMMEDIATE_DREG: NFT_REG_VERDICT
                w.BeginNested(2); // NFTA_IMMEDIATE_DATA
                w.BeginNested(2); // NFTA_DATA_VERDICT
                w.BigEndian32(1, 0); // NFTA_VERDICT_CODE: NF_DROP
                w.EndNested();
                w.EndNested();
            });
            writer.EndNested();
            writer.EndMessage();
        }

        End(writer, sequence);
        Send(writer, expectedAcks: 2 + list.Length, $"creating nftables table netdev {tableName} on {interfaceName}");
        return new IngressDropTable(tableName, interfaceName, list);
    }

    /// <summary>Deletes a netdev table by its exact name (and its chain and rules with it).</summary>
    /// <param name="tableName">The table's exact name.</param>
    /// <exception cref="IOException">nf_tables refused (no such table: ENOENT).</exception>
    public static void Delete(string tableName)
    {
        ArgumentException.ThrowIfNullOrEmpty(tableName);
        var writer = new NetlinkMessageWriter();
        uint sequence = (uint)Environment.TickCount;
        Begin(writer, sequence++);
        writer.BeginMessage(DeleteTable, Request | Ack, sequence++, NfprotoNetdev, 0);
        writer.String(1, tableName);
        writer.EndMessage();
        End(writer, sequence);
        Send(writer, expectedAcks: 1, $"deleting nftables table netdev {tableName}");
    }

    /// <summary>Deletes the table (best effort: it may have been deleted by hand).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _deleted, 1) == 0)
        {
            try
            {
                Delete(TableName);
            }
            catch (IOException)
            {
                // Already gone.
            }
        }
    }

    private static void Begin(NetlinkMessageWriter writer, uint sequence)
    {
        writer.BeginMessage(BatchBegin, Request, sequence, 0, SubsystemNftables);
        writer.EndMessage();
    }

    private static void End(NetlinkMessageWriter writer, uint sequence)
    {
        writer.BeginMessage(BatchEnd, Request, sequence, 0, SubsystemNftables);
        writer.EndMessage();
    }

    private static void Expression(NetlinkMessageWriter writer, string name, Action<NetlinkMessageWriter> data)
    {
        writer.BeginNested(1); // NFTA_LIST_ELEM
        writer.String(1, name); // NFTA_EXPR_NAME
        writer.BeginNested(2); // NFTA_EXPR_DATA
        data(writer);
        writer.EndNested();
        writer.EndNested();
    }

    private static void Compare(NetlinkMessageWriter writer, byte[] value)
    {
        writer.BigEndian32(1, 1); // NFTA_CMP_SREG: NFT_REG_1
        writer.BigEndian32(2, 0); // NFTA_CMP_OP: NFT_CMP_EQ
        writer.BeginNested(3); // NFTA_CMP_DATA
        writer.Attribute(1, value); // NFTA_DATA_VALUE
        writer.EndNested();
    }

    private static unsafe void Send(NetlinkMessageWriter writer, int expectedAcks, string what)
    {
        int fd = LibC.Socket(AfNetlink, Constants.SockRaw | Constants.SockCloexec, NetlinkNetfilter);
        if (fd < 0)
        {
            throw LibC.Failure($"socket(AF_NETLINK, NETLINK_NETFILTER) for {what}");
        }

        try
        {
            byte[] message = writer.ToArray();
            Span<byte> kernel = stackalloc byte[12];
            kernel.Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(kernel, AfNetlink);
            fixed (byte* data = message)
            fixed (byte* address = kernel)
            {
                if (LibC.SendTo(fd, data, (nuint)message.Length, 0, address, kernel.Length) < 0)
                {
                    throw LibC.Failure(what);
                }
            }

            var buffer = new byte[16384];
            int acks = 0;
            while (acks < expectedAcks)
            {
                var poll = new PollDescriptor { Fd = fd, Events = Constants.PollIn };
                if (LibC.Poll(&poll, 1, 2000) <= 0)
                {
                    throw new IOException($"{what}: nf_tables did not answer.");
                }

                nint read;
                fixed (byte* pointer = buffer)
                {
                    read = LibC.Read(fd, pointer, (nuint)buffer.Length);
                }

                if (read < 0)
                {
                    throw LibC.Failure(what);
                }

                for (int at = 0; at + 16 <= read;)
                {
                    int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(at));
                    ushort type = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(at + 4));
                    if (length < 16)
                    {
                        break;
                    }

                    if (type == 2) // NLMSG_ERROR: 0 is an acknowledgement
                    {
                        int error = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at + 16));
                        if (error != 0)
                        {
                            throw new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(-error)} (errno {-error}).", -error);
                        }

                        acks++;
                    }

                    at += (length + 3) & ~3;
                }
            }
        }
        finally
        {
            LibC.Close(fd);
        }
    }
}
