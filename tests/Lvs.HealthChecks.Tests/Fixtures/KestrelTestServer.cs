using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Lvs.HealthChecks.Tests.Fixtures;

/// <summary>A real Kestrel server on 127.0.0.1 (ephemeral port), HTTP or HTTPS with a self-signed certificate.</summary>
public sealed class KestrelTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private KestrelTestServer(WebApplication app, X509Certificate2? certificate)
    {
        _app = app;
        Certificate = certificate;
    }

    /// <summary>What the server answers; tests change it between checks.</summary>
    public Func<HttpContext, Task> Handler { get; set; } = context => context.Response.WriteAsync("ok");

    public int Port { get; private set; }

    public Lvs.Core.InetEndpoint Endpoint => new(Lvs.Core.InetAddress.FromIPv4(127, 0, 0, 1), (ushort)Port);

    public string? LastHost { get; private set; }

    public IPAddress? LastRemoteAddress { get; private set; }

    public string? LastProtocol { get; private set; }

    public string? LastUserAgent { get; private set; }

    public string? LastServerName { get; private set; }

    public int Requests => Volatile.Read(ref _requests);

    public X509Certificate2? Certificate { get; }

    public static async Task<KestrelTestServer> StartAsync(bool https = false, string certificateName = "real.example")
    {
        X509Certificate2? certificate = https ? CreateCertificate(certificateName) : null;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        KestrelTestServer? server = null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(https => https.ServerCertificateSelector = (_, name) =>
                {
                    server!.LastServerName = name;
                    return certificate;
                });
            }
        }));
        WebApplication app = builder.Build();
        server = new KestrelTestServer(app, certificate);
        app.Run(context =>
        {
            Interlocked.Increment(ref server._requests);
            server.LastHost = context.Request.Host.Value;
            server.LastRemoteAddress = context.Connection.RemoteIpAddress;
            server.LastProtocol = context.Request.Protocol;
            server.LastUserAgent = context.Request.Headers.UserAgent.ToString();
            return server.Handler(context);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Port = new Uri(address).Port;
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Certificate?.Dispose();
    }

    private static X509Certificate2 CreateCertificate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Kestrel on Linux wants a certificate whose key it can use: round-trip through PKCS#12.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
