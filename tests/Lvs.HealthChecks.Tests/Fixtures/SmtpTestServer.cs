using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>
/// A scripted SMTP server on 127.0.0.1: per connection it sends <see cref="Greeting"/>, reads a line, sends
/// <see cref="HeloReply"/>, reads a line, sends <see cref="QuitReply"/>, then waits for the client to close. A reply
/// that is null closes the connection instead; an empty one says nothing and waits for the client to close. The
/// lines the client sent are recorded raw (with their CRLF).
/// </summary>
public sealed class SmtpTestServer : IDisposable
{
    private readonly TcpListener _listener;
    private readonly ConcurrentQueue<string> _received = new();
    private int _accepted;
    private int _finished;

    public SmtpTestServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptLoopAsync();
    }

    public int Port { get; }

    public Lvs.Core.InetEndpoint Endpoint => new(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)Port);

    public string? Greeting { get; set; } = "220 mail.example.org ESMTP ready\r\n";

    public string? HeloReply { get; set; } = "250 mail.example.org\r\n";

    public string? QuitReply { get; set; } = "221 2.0.0 Bye\r\n";

    /// <summary>Closes the connection right after the greeting.</summary>
    public bool CloseAfterGreeting { get; set; }

    /// <summary>Sends the replies one byte at a time, each in its own segment.</summary>
    public bool Trickle { get; set; }

    /// <summary>The greeting waits for this; completed by default.</summary>
    public TaskCompletionSource GreetingGate { get; set; } = CompletedGate();

    /// <summary>Connections accepted.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>The lines the clients sent, in order.</summary>
    public IReadOnlyList<string> Received => [.. _received];

    /// <summary>Connections that ended (closed by the script or by the client).</summary>
    public int Finished => Volatile.Read(ref _finished);

    public void Dispose() => _listener.Stop();

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _listener.AcceptSocketAsync();
                Interlocked.Increment(ref _accepted);
                _ = ServeAsync(socket);
            }
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            using (socket)
            {
                await GreetingGate.Task;
                if (await SayAsync(socket, Greeting)
                    && !CloseAfterGreeting
                    && await ReceiveLineAsync(socket)
                    && await SayAsync(socket, HeloReply)
                    && await ReceiveLineAsync(socket)
                    && await SayAsync(socket, QuitReply))
                {
                    await WaitForCloseAsync(socket);
                }
            }
        }
        catch (SocketException)
        {
        }
        finally
        {
            Interlocked.Increment(ref _finished);
        }
    }

    /// <summary>False when the script ends here: the reply was null (close) or empty (silence until the client closes).</summary>
    private async Task<bool> SayAsync(Socket socket, string? reply)
    {
        if (reply is null)
        {
            return false;
        }

        if (reply.Length == 0)
        {
            await WaitForCloseAsync(socket);
            return false;
        }

        byte[] bytes = Encoding.ASCII.GetBytes(reply);
        if (!Trickle)
        {
            await socket.SendAsync(bytes);
            return true;
        }

        foreach (byte b in bytes)
        {
            await socket.SendAsync(new[] { b });
            await Task.Delay(1);
        }

        return true;
    }

    private async Task<bool> ReceiveLineAsync(Socket socket)
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (await socket.ReceiveAsync(one) == 1)
        {
            line.Append((char)one[0]);
            if (one[0] == '\n')
            {
                _received.Enqueue(line.ToString());
                return true;
            }
        }

        if (line.Length > 0)
        {
            _received.Enqueue(line.ToString());
        }

        return false;
    }

    private async Task WaitForCloseAsync(Socket socket)
    {
        byte[] buffer = new byte[256];
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            _received.Enqueue(Encoding.ASCII.GetString(buffer, 0, read));
        }
    }
}
