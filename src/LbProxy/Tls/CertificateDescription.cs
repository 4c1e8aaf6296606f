using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace LbProxy.Tls;

/// <summary>A certificate as <c>/_lb/status</c> shows it; no key material.</summary>
internal sealed record CertificateDescription(
    string Endpoint,
    string Sni,
    string Path,
    string Subject,
    IReadOnlyList<string> Names,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    string Sha256Fingerprint)
{
    public static CertificateDescription Of(CertificateReference reference, X509Certificate2 certificate) => new(
        reference.Endpoint,
        reference.Sni,
        reference.Path,
        certificate.Subject,
        NamesOf(certificate),
        new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero),
        new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero),
        Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256)));

    /// <summary>The subject alternative names, DNS and IP.</summary>
    public static List<string> NamesOf(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
                foreach (var address in san.EnumerateIPAddresses())
                {
                    names.Add(address.ToString());
                }
            }
        }

        return names;
    }
}
