using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using LbProxy.Configuration;

namespace LbProxy.Tls;

/// <summary>
/// The bytes of a certificate's files, read once (following symlinks, so a Kubernetes secret's
/// <c>tls.crt -> ..data/tls.crt</c> reads the current target), and what they are worth: the certificate with its
/// key, or every reason it must not be served, each naming its file.
/// </summary>
internal sealed class CertificateFiles
{
    private CertificateFiles(CertificateReference reference, byte[]? certificate, byte[]? key, string? readError)
    {
        Reference = reference;
        Certificate = certificate;
        Key = key;
        ReadError = readError;
        Hash = Convert.ToHexStringLower(SHA256.HashData([.. certificate ?? [], 0, .. key ?? []]))[..16];
    }

    public CertificateReference Reference { get; }

    public byte[]? Certificate { get; }

    public byte[]? Key { get; }

    /// <summary>Of both files' content: how a change is noticed, and how a refused pair is refused only once.</summary>
    public string Hash { get; }

    /// <summary>The certificate's start of validity, once <see cref="Inspect"/> could load it.</summary>
    public DateTimeOffset? NotBefore { get; private set; }

    private string? ReadError { get; }

    /// <summary>The largest certificate or key file read: a chain of PEM certificates is a few KiB.</summary>
    public const long MaxBytes = 1024 * 1024;

    /// <summary>Only regular files, of at most <see cref="MaxBytes"/>, read within a time bound (<see cref="BoundedFile"/>).</summary>
    public static CertificateFiles Read(CertificateReference reference)
    {
        byte[]? certificate = null;
        byte[]? key = null;
        try
        {
            certificate = BoundedFile.Read(reference.Path, MaxBytes);
            key = reference.KeyPath is null ? null : ReadKey(reference.KeyPath);
            return new CertificateFiles(reference, certificate, key, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var path = certificate is null ? reference.Path : reference.KeyPath!;
            var what = certificate is null ? "certificate" : "private key";
            var reason = e is FileNotFoundException or DirectoryNotFoundException ? "is missing" : $"cannot be read: {e.Message}";
            return new CertificateFiles(reference, certificate, key, $"{what} file '{path}' {reason}");
        }
    }

    /// <summary>
    /// The certificate with its private key when the pair may be served at <paramref name="now"/>, else null and
    /// every problem. The certificate's names must cover the SNI name it is configured for.
    /// </summary>
    public X509Certificate2? Inspect(DateTimeOffset now, List<string> problems)
    {
        if (ReadError is not null)
        {
            problems.Add(ReadError);
            return null;
        }

        var path = Reference.Path;
        X509Certificate2 certificate;
        try
        {
            certificate = Load();
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // A key of another certificate is an ArgumentException from CopyWithPrivateKey.
            problems.Add(DescribeLoadFailure(e));
            return null;
        }

        NotBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);
        if (certificate.NotAfter.ToUniversalTime() <= now.UtcDateTime)
        {
            problems.Add($"certificate '{path}' expired at {certificate.NotAfter.ToUniversalTime():u}");
        }

        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
        {
            problems.Add($"certificate '{path}' is not valid before {certificate.NotBefore.ToUniversalTime():u}");
        }

        if (!Covers(certificate, Reference.Sni))
        {
            problems.Add($"certificate '{path}' does not cover SNI name '{Reference.Sni}' (its names: {string.Join(", ", CertificateDescription.NamesOf(certificate))})");
        }

        if (problems.Count == 0)
        {
            return certificate;
        }

        certificate.Dispose();
        return null;
    }

    /// <summary>The certificates after the first in a PEM file (a chain as cert-manager and certbot's fullchain.pem hold it).</summary>
    public X509Certificate2Collection Intermediates()
    {
        var all = new X509Certificate2Collection();
        if (Certificate is not null && LooksLikePem(Certificate))
        {
            all.ImportFromPem(System.Text.Encoding.ASCII.GetString(Certificate));
        }

        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < all.Count; i++)
        {
            intermediates.Add(all[i]);
        }

        return intermediates;
    }

    private static byte[] ReadKey(string path) => BoundedFile.Read(path, MaxBytes);

    private X509Certificate2 Load()
    {
        var path = Reference.Path;
        if (!LooksLikePem(Certificate!))
        {
            // Kestrel reads a Path without KeyPath as PFX (or DER); it is checked the same way.
            return X509CertificateLoader.LoadPkcs12(Certificate!, Reference.Password);
        }

        var certificatePem = System.Text.Encoding.ASCII.GetString(Certificate!);
        if (!certificatePem.Contains("-----END CERTIFICATE-----", StringComparison.Ordinal))
        {
            throw new CryptographicException($"certificate file '{path}' holds no complete PEM certificate (empty or truncated)");
        }

        if (Key is null)
        {
            return X509Certificate2.CreateFromPem(certificatePem);
        }

        var keyPem = System.Text.Encoding.ASCII.GetString(Key);
        if (!keyPem.Contains("PRIVATE KEY-----", StringComparison.Ordinal) || !PemEncoding.TryFind(keyPem, out _))
        {
            throw new CryptographicException($"private key file '{Reference.KeyPath}' holds no complete PEM private key (empty or truncated)");
        }

        // Throws when the key does not belong to the certificate.
        var pair = Reference.Password is null
            ? X509Certificate2.CreateFromPem(certificatePem, keyPem)
            : X509Certificate2.CreateFromEncryptedPem(certificatePem, keyPem, Reference.Password);
        return pair;
    }

    private string DescribeLoadFailure(Exception e)
    {
        if (e.Message.Contains("' holds no", StringComparison.Ordinal))
        {
            return e.Message;
        }

        return Reference.KeyPath is null
            ? $"certificate file '{Reference.Path}' cannot be loaded: {e.Message}"
            : $"private key '{Reference.KeyPath}' does not match certificate '{Reference.Path}' (or cannot be read: {e.Message})";
    }

    private static bool LooksLikePem(byte[] content) =>
        System.Text.Encoding.ASCII.GetString(content).Contains("-----BEGIN", StringComparison.Ordinal);

    /// <summary>
    /// By the certificate's DNS and IP names, as a client checks them; a wildcard SNI entry (<c>*.example.com</c>)
    /// is covered when a name in its domain is.
    /// </summary>
    private static bool Covers(X509Certificate2 certificate, string sni)
    {
        if (sni == CertificateReference.AnyName)
        {
            return true;
        }

        var probe = sni.StartsWith("*.", StringComparison.Ordinal) ? "lbproxy-sni-probe" + sni[1..] : sni;
        return certificate.MatchesHostname(probe, allowWildcards: true, allowCommonName: false);
    }
}
