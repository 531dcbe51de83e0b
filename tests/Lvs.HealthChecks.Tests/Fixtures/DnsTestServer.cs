using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>
/// A tiny DNS responder on 127.0.0.1 for the DNS check tests: it echoes the query's ID and question and answers
/// with one A record 127.0.0.1, no answer, an error code, silence, or replies with a foreign transaction ID.
/// </summary>
public sealed class DnsTestServer : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

    public DnsTestServer()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _ = AnswerAsync();
    }

    public enum Mode
    {
        Answer,
        NoAnswer,
        NameError,
        Silent,

        /// <summary>First a reply whose transaction ID is not the query's, then the right reply.</summary>
        ForeignIdThenAnswer,

        /// <summary>Only replies whose transaction ID is not the query's.</summary>
        ForeignIdOnly,
    }

    public Mode Behaviour { get; set; } = Mode.Answer;

    public string? LastQuestion { get; private set; }

    public ushort LastType { get; private set; }

    public IPAddress? LastRemoteAddress { get; private set; }

    private int _queries;

    public int Queries => Volatile.Read(ref _queries);

    public Lvs.Core.InetEndpoint Endpoint => new(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)((IPEndPoint)_socket.LocalEndPoint!).Port);

    public void Dispose() => _socket.Dispose();

    private async Task AnswerAsync()
    {
        byte[] query = new byte[512];
        try
        {
            while (true)
            {
                SocketReceiveFromResult received = await _socket.ReceiveFromAsync(query, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
                Interlocked.Increment(ref _queries);
                LastRemoteAddress = ((IPEndPoint)received.RemoteEndPoint).Address;
                if (Behaviour == Mode.Silent)
                {
                    continue;
                }

                byte[] response = Respond(query.AsSpan(0, received.ReceivedBytes));
                if (Behaviour is Mode.ForeignIdThenAnswer or Mode.ForeignIdOnly)
                {
                    byte[] foreign = (byte[])response.Clone();
                    foreign[0] ^= 0x5A;
                    await _socket.SendToAsync(foreign, SocketFlags.None, received.RemoteEndPoint);
                    if (Behaviour == Mode.ForeignIdOnly)
                    {
                        continue;
                    }
                }

                await _socket.SendToAsync(response, SocketFlags.None, received.RemoteEndPoint);
            }
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SocketException)
        {
        }
    }

    private byte[] Respond(ReadOnlySpan<byte> query)
    {
        // The question: labels from offset 12 to the zero byte, then QTYPE and QCLASS (RFC 1035 4.1.2).
        int end = 12;
        var labels = new List<string>();
        while (query[end] != 0)
        {
            labels.Add(System.Text.Encoding.ASCII.GetString(query.Slice(end + 1, query[end])));
            end += query[end] + 1;
        }

        end += 5;
        LastQuestion = string.Join('.', labels);
        LastType = BinaryPrimitives.ReadUInt16BigEndian(query[(end - 4)..]);
        bool answer = Behaviour is Mode.Answer or Mode.ForeignIdThenAnswer or Mode.ForeignIdOnly;
        var response = new List<byte>();
        response.AddRange(query[..2].ToArray());
        response.AddRange([0x81, (byte)(Behaviour == Mode.NameError ? 0x83 : 0x80)]);
        response.AddRange([0, 1, 0, (byte)(answer ? 1 : 0), 0, 0, 0, 0]);
        response.AddRange(query[12..end].ToArray());
        if (answer)
        {
            // Name pointer to the question, type A, class IN, TTL 60, 4 bytes of address.
            response.AddRange([0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
        }

        return [.. response];
    }
}
