using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Lvs.HealthChecks;

/// <summary>
/// keepalived's <c>PING_CHECK</c> (ldirectord <c>checktype = ping</c>): one ICMP echo request (ICMPv6 for an IPv6
/// target) to <see cref="CheckConnectionOptions.Target"/>'s address; healthy when the matching echo reply comes back
/// within <see cref="CheckConnectionOptions.ConnectTimeout"/>.
/// </summary>
/// <remarks>
/// <para>
/// As check_ping.c: the request carries 128 bytes of data and a sequence number that counts up across checks, and is
/// sent from an unprivileged ICMP datagram socket (<c>SOCK_DGRAM</c>, <c>IPPROTO_ICMP</c>/<c>IPPROTO_ICMPV6</c>,
/// icmp(7) "ping socket"), on which the kernel sets the identifier and hands back only the replies that carry it.
/// keepalived widens <c>net.ipv4.ping_group_range</c> so that root may open such a socket; a library does not change
/// the host's sysctls, so when the kernel refuses the datagram socket (the process's group is outside
/// <c>ping_group_range</c>) a raw ICMP socket is used instead, which needs <c>CAP_NET_RAW</c>. When neither can be
/// opened the check is unhealthy and says so.
/// </para>
/// <para>
/// Unlike keepalived, which never binds its ICMP socket, the request is sent from
/// <see cref="CheckConnectionOptions.BindTo"/> when it is set (a source address that is not local fails the check).
/// The socket is connected to the target, so that an ICMP host or network unreachable for the request fails the check
/// at once instead of at the timeout. Packets that are not the reply to this request (another sequence number, and
/// on a raw socket other ICMP traffic, such as the request itself on loopback) are skipped and the socket read again
/// until the timeout; keepalived's ping socket sees none of those. ICMP has no ports:
/// <see cref="CheckConnectionOptions.ConnectPort"/> and <see cref="CheckConnectionOptions.BindPort"/> are refused.
/// No exception other than the caller's cancellation leaves the check: every outcome is a result.
/// </para>
/// </remarks>
public sealed class PingChecker : IHealthChecker
{
    private const int HeaderLength = 8;

    // check_ping.c ICMP_BUFSIZE: the data after the ICMP header.
    private const int DataLength = 128;

    private const byte EchoRequestV4 = 8;
    private const byte EchoReplyV4 = 0;
    private const byte EchoRequestV6 = 128;
    private const byte EchoReplyV6 = 129;

    private static readonly SocketType[] PreferredSocketTypes = [SocketType.Dgram, SocketType.Raw];

    // check_ping.c seq_no: one counter for all checks.
    private static int s_sequence;

    private readonly CheckConnectionOptions _connection;
    private readonly TimeProvider _timeProvider;
    private readonly SocketType[] _socketTypes;

    /// <summary>Creates a ping checker.</summary>
    /// <param name="connection">Target address, source address and timeout; no ports.</param>
    /// <param name="timeProvider">The clock for the timeout; the system clock when null.</param>
    /// <exception cref="ArgumentException">
    /// <see cref="CheckConnectionOptions.ConnectPort"/> or <see cref="CheckConnectionOptions.BindPort"/> is set (ICMP has no ports), or
    /// <see cref="CheckConnectionOptions.BindTo"/> is not of the target's address family.
    /// </exception>
    public PingChecker(CheckConnectionOptions connection, TimeProvider? timeProvider = null)
        : this(connection, timeProvider, PreferredSocketTypes)
    {
    }

    /// <summary>For tests: a checker that tries these socket types in turn (<see cref="SocketType.Dgram"/> and/or <see cref="SocketType.Raw"/>).</summary>
    internal PingChecker(CheckConnectionOptions connection, TimeProvider? timeProvider, SocketType[] socketTypes)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (connection.ConnectPort is { } port)
        {
            throw new ArgumentException($"CheckConnectionOptions.ConnectPort (keepalived connect_port) {port} does not apply to an ICMP echo: it has no ports.", nameof(connection));
        }

        if (connection.BindPort != 0)
        {
            throw new ArgumentException($"CheckConnectionOptions.BindPort (keepalived bind_port) {connection.BindPort} does not apply to an ICMP echo: it has no ports.", nameof(connection));
        }

        if (connection.BindTo is { } bindTo && bindTo.IsIPv4 != connection.Target.Address.IsIPv4)
        {
            throw new ArgumentException($"CheckConnectionOptions.BindTo (keepalived bindto) {bindTo} and the target {connection.Target.Address} are not of the same address family.", nameof(connection));
        }

        _connection = connection;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _socketTypes = socketTypes;
    }

    /// <inheritdoc />
    public async ValueTask<CheckResult> CheckAsync(CancellationToken cancellationToken)
    {
        IPAddress target = _connection.Target.Address.ToIPAddress();
        bool v6 = target.AddressFamily == AddressFamily.InterNetworkV6;
        if (Open(target.AddressFamily, v6) is not (Socket socket, SocketType type))
        {
            return CheckResult.Unhealthy($"cannot open an ICMP{(v6 ? "v6" : "")} socket: allow the process's group in net.ipv4.ping_group_range or give it CAP_NET_RAW");
        }

        using (socket)
        {
            using var deadline = new CheckDeadline(_connection.ConnectTimeout, _timeProvider, cancellationToken);
            bool raw = type == SocketType.Raw;
            // On a ping socket the kernel replaces the identifier with the socket's own and filters replies on it.
            ushort id = (ushort)Random.Shared.Next(0x10000);
            ushort sequence = (ushort)Interlocked.Increment(ref s_sequence);
            byte[] request = EchoRequest(v6, id, sequence);
            // An echo reply mirrors the request; the rest of the room is for an IPv4 header and other ICMP on a raw socket.
            byte[] reply = new byte[2048];
            try
            {
                if (_connection.BindTo is { } bindTo)
                {
                    socket.Bind(new IPEndPoint(bindTo.ToIPAddress(), 0));
                }

                await socket.ConnectAsync(new IPEndPoint(target, 0), deadline.Token).ConfigureAwait(false);
                await socket.SendAsync(request, SocketFlags.None, deadline.Token).ConfigureAwait(false);
                while (true)
                {
                    int length;
                    try
                    {
                        length = await socket.ReceiveAsync(reply, SocketFlags.None, deadline.Token).ConfigureAwait(false);
                    }
                    catch (SocketException e) when (e.SocketErrorCode == SocketError.MessageSize)
                    {
                        continue; // A datagram larger than any echo reply to this request: not it.
                    }

                    if (IsReply(reply.AsSpan(0, length), v6, raw, id, sequence))
                    {
                        return CheckResult.Healthy("echo reply received");
                    }
                }
            }
            catch (OperationCanceledException) when (deadline.TimedOut)
            {
                return CheckResult.Unhealthy($"no echo reply within {_connection.ConnectTimeout.TotalSeconds:0.###}s");
            }
            catch (SocketException e)
            {
                return CheckResult.Unhealthy($"ICMP echo failed: {e.SocketErrorCode}");
            }
        }
    }

    private (Socket Socket, SocketType Type)? Open(AddressFamily family, bool v6)
    {
        foreach (SocketType type in _socketTypes)
        {
            try
            {
                return (new Socket(family, type, v6 ? ProtocolType.IcmpV6 : ProtocolType.Icmp), type);
            }
            catch (SocketException)
            {
                // EACCES for a ping socket outside ping_group_range, EPERM for a raw socket without CAP_NET_RAW: try the next.
            }
        }

        return null;
    }

    /// <summary>An echo request: type, code 0, checksum, identifier, sequence, then <see cref="DataLength"/> bytes of data.</summary>
    private static byte[] EchoRequest(bool v6, ushort id, ushort sequence)
    {
        byte[] request = new byte[HeaderLength + DataLength];
        request[0] = v6 ? EchoRequestV6 : EchoRequestV4;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), sequence);
        for (int i = HeaderLength; i < request.Length; i++)
        {
            request[i] = (byte)i;
        }

        if (!v6)
        {
            // The kernel sums ICMPv6 (over its pseudo-header) and ping sockets; a raw IPv4 socket sends what it is given.
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), Lvs.Core.Checksum.Compute(request));
        }

        return request;
    }

    /// <summary>
    /// True for the echo reply to this request. A raw IPv4 socket reads the IP header too; a raw socket sees every ICMP
    /// message from the target, so its identifier is checked as well (a ping socket's kernel has done that).
    /// </summary>
    internal static bool IsReply(ReadOnlySpan<byte> packet, bool v6, bool raw, ushort id, ushort sequence)
    {
        if (raw && !v6)
        {
            int headerLength = packet.IsEmpty ? 0 : (packet[0] & 0x0F) * 4;
            if (headerLength < 20 || headerLength > packet.Length)
            {
                return false;
            }

            packet = packet[headerLength..];
        }

        return packet.Length >= HeaderLength
            && packet[0] == (v6 ? EchoReplyV6 : EchoReplyV4)
            && packet[1] == 0
            && (!raw || BinaryPrimitives.ReadUInt16BigEndian(packet[4..]) == id)
            && BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) == sequence;
    }
}
