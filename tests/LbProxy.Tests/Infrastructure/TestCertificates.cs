using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// A test CA made in the test, and leaf certificates it signs, written as PEM files the way cert-manager, certbot and
/// Kubernetes TLS secrets hold them (certificate in one file, PKCS#8 key in another). Real X.509, real signatures.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestCertificates()
    {
        var request = new CertificateRequest("CN=LbProxy Test CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        Ca = request.CreateSelfSigned(now.AddDays(-30), now.AddYears(5));
    }

    public X509Certificate2 Ca { get; }

    /// <summary>A leaf for <paramref name="names"/> (DNS names, or IP addresses), valid from a day ago for 90 days unless told.</summary>
    public Pem Leaf(string[] names, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var address))
            {
                san.AddIpAddress(address);
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var certificate = request.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey),
            notBefore ?? now.AddDays(-1), notAfter ?? now.AddDays(90), serial);
        return new Pem(certificate.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n",
            Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256)));
    }

    public void Dispose()
    {
        Ca.Dispose();
        _caKey.Dispose();
    }
}

/// <summary>A certificate and its key as PEM text, with the certificate's SHA-256 fingerprint (upper-case hex).</summary>
internal sealed record Pem(string Certificate, string Key, string Fingerprint)
{
    public async Task WriteAsync(string certificatePath, string keyPath)
    {
        await File.WriteAllTextAsync(keyPath, Key);
        await File.WriteAllTextAsync(certificatePath, Certificate);
    }
}
