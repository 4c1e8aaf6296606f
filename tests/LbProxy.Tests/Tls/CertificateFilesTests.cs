using LbProxy.Tests.Infrastructure;
using LbProxy.Tls;

namespace LbProxy.Tests.Tls;

/// <summary>What a pair of certificate files is worth: the checks validate, a start, a reload and a rotation run.</summary>
public sealed class CertificateFilesTests : IDisposable
{
    private readonly TestCertificates _certificates = new();
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("lbproxy-certfiles-");

    [Theory]
    [InlineData("*.cdn.test", "*.cdn.test", true)]      // a wildcard entry, a wildcard certificate
    [InlineData("a.cdn.test", "*.cdn.test", true)]      // a name under a wildcard certificate
    [InlineData("*.cdn.test", "a.cdn.test", false)]     // a wildcard entry needs a certificate for every name in it
    [InlineData("cdn.test", "*.cdn.test", false)]       // a wildcard covers one label, not the domain itself
    [InlineData("*", "anything.test", true)]            // the default entry takes any certificate
    public async Task Inspect_SniEntry_CoveredByTheCertificatesNames(string sni, string name, bool covered)
    {
        var reference = await WriteAsync(sni, _certificates.Leaf([name]));
        var problems = new List<string>();

        using var certificate = CertificateFiles.Read(reference).Inspect(DateTimeOffset.UtcNow, problems);

        Assert.Equal(covered, certificate is not null);
        Assert.Equal(covered, problems.Count == 0);
    }

    [Fact]
    public async Task Inspect_TruncatedKey_SaysSoAndNamesTheKeyFile()
    {
        var pem = _certificates.Leaf(["a.test"]);
        var reference = await WriteAsync("a.test", pem with { Key = pem.Key[..(pem.Key.Length / 2)] });
        var problems = new List<string>();

        Assert.Null(CertificateFiles.Read(reference).Inspect(DateTimeOffset.UtcNow, problems));

        Assert.Equal([$"private key file '{reference.KeyPath}' holds no complete PEM private key (empty or truncated)"], problems);
    }

    [Fact]
    public async Task Read_SameBytes_SameHashAndAnotherKeyAnotherHash()
    {
        var pem = _certificates.Leaf(["a.test"]);
        var reference = await WriteAsync("a.test", pem);
        var first = CertificateFiles.Read(reference).Hash;

        Assert.Equal(first, CertificateFiles.Read(reference).Hash);
        await File.WriteAllTextAsync(reference.KeyPath!, _certificates.Leaf(["a.test"]).Key);
        Assert.NotEqual(first, CertificateFiles.Read(reference).Hash);
    }

    public void Dispose()
    {
        _directory.Delete(recursive: true);
        _certificates.Dispose();
    }

    private async Task<CertificateReference> WriteAsync(string sni, Pem pem)
    {
        var folder = _directory.CreateSubdirectory(Guid.NewGuid().ToString("n"));
        var reference = new CertificateReference($"Kestrel:Endpoints:Https:Sni:{sni}:Certificate", "Https", sni,
            Path.Combine(folder.FullName, "tls.crt"), Path.Combine(folder.FullName, "tls.key"), Password: null);
        await pem.WriteAsync(reference.Path, reference.KeyPath!);
        return reference;
    }
}
