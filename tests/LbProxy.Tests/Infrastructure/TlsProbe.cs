using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// Clients of a TLS endpoint on loopback: one fresh handshake that reports the certificate served for an SNI name,
/// and HttpClients that send any host name (as SNI and Host) to the endpoint and trust only the test CA.
/// </summary>
internal static class TlsProbe
{
    /// <summary>
    /// The SHA-256 fingerprint of the certificate served to a new handshake for <paramref name="sni"/>, whatever its
    /// validity; <c>failed: ...</c> when no handshake completed (an endpoint being rebound resets connections).
    /// </summary>
    public static async Task<string> FingerprintAsync(int port, string sni)
    {
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
            // It reports what is served, an expired certificate too: judging it is the caller's business.
#pragma warning disable CA5359
            await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, static (_, _, _, _) => true);
#pragma warning restore CA5359
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = sni }, cts.Token);
            return Convert.ToHexString(tls.RemoteCertificate!.GetCertHash(HashAlgorithmName.SHA256));
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException)
        {
            return "failed: " + e.Message;
        }
    }

    /// <summary>
    /// An HttpClient for <c>https://HOST:port</c> that connects to 127.0.0.1 whatever HOST is, validates the chain
    /// against <paramref name="ca"/> alone, and speaks <paramref name="version"/> (HTTP/2 by default, no fallback).
    /// </summary>
    public static HttpClient Client(X509Certificate2 ca, int port, string host, Version? version = null, bool pooled = true) =>
        new(Handler(ca, pooled))
        {
            BaseAddress = new Uri($"https://{host}:{port}/"),
            DefaultRequestVersion = version ?? System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };

    /// <summary>The handler of <see cref="Client"/>: to 127.0.0.1 whatever the host, trusting <paramref name="ca"/> alone.</summary>
    public static SocketsHttpHandler Handler(X509Certificate2 ca, bool pooled = true) =>
        new()
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            PooledConnectionLifetime = pooled ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
            ConnectCallback = static async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(System.Net.IPAddress.Loopback, context.DnsEndPoint.Port, token);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { ca },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            },
        };
}
