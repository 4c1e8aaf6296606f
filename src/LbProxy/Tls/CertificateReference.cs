namespace LbProxy.Tls;

/// <summary>
/// One PEM (or PFX) certificate that Kestrel reads from its own <c>Kestrel</c> section: the endpoint it serves, the
/// SNI name it answers (<c>*</c> for an endpoint's or the server's default), the config key of its
/// <c>Certificate</c> object, and its files resolved as Kestrel resolves them (against the content root).
/// </summary>
internal sealed record CertificateReference(string ConfigKey, string Endpoint, string Sni, string Path, string? KeyPath, string? Password)
{
    public const string AnyName = "*";

    /// <summary>
    /// Every file certificate under <c>Kestrel:Certificates:Default</c>, <c>Kestrel:Endpoints:NAME:Certificate</c>
    /// and <c>Kestrel:Endpoints:NAME:Sni:HOST:Certificate</c>; certificates from a store are Kestrel's alone.
    /// </summary>
    public static List<CertificateReference> Read(IConfiguration configuration, string contentRoot)
    {
        var references = new List<CertificateReference>();
        Add(references, configuration.GetSection("Kestrel:Certificates:Default"), "default", AnyName, contentRoot);
        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            Add(references, endpoint.GetSection("Certificate"), endpoint.Key, AnyName, contentRoot);
            foreach (var sni in endpoint.GetSection("Sni").GetChildren())
            {
                Add(references, sni.GetSection("Certificate"), endpoint.Key, sni.Key, contentRoot);
            }
        }

        return references;
    }

    private static void Add(List<CertificateReference> references, IConfigurationSection certificate, string endpoint, string sni, string contentRoot)
    {
        var path = certificate["Path"];
        if (string.IsNullOrWhiteSpace(path))
        {
            return;
        }

        var keyPath = certificate["KeyPath"];
        references.Add(new CertificateReference(
            certificate.Path,
            endpoint,
            sni,
            System.IO.Path.Combine(contentRoot, path),
            string.IsNullOrWhiteSpace(keyPath) ? null : System.IO.Path.Combine(contentRoot, keyPath),
            certificate["Password"]));
    }
}
