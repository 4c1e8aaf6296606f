using System.Diagnostics;
using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;
using LbProxy.Tls;

namespace LbProxy.Tests.Configuration;

/// <summary>
/// Config and certificate reads on real special files: a FIFO is refused without waiting for a writer, a symlink to
/// /dev/zero without reading it, an oversized file without reading it whole.
/// </summary>
public sealed class BoundedFileTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _directory = new();

    [Fact]
    public async Task Fifo_RefusedAsAFifo_WithoutBlocking()
    {
        var fifo = MakeFifo("yarp.json");

        var error = await Task.Run(() => Assert.Throws<ConfigFileException>(() => LbProxyConfigFile.Read(fifo))).WaitAsync(Bound);

        Assert.Contains("a FIFO, not a regular file", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SymlinkToDevZero_RefusedAsACharacterDevice_WithoutReadingIt()
    {
        var link = Path.Combine(_directory.Path, "yarp.json");
        File.CreateSymbolicLink(link, "/dev/zero");
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<ConfigFileException>(() => LbProxyConfigFile.Read(link));

        Assert.Contains("a character device, not a regular file", Assert.Single(error.Errors).Message, StringComparison.Ordinal);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - allocated, 0, 1024 * 1024);
    }

    [Fact]
    public void FileOverTheCap_Refused_NamingItsSize()
    {
        var path = Path.Combine(_directory.Path, "big.pem");
        using (var stream = File.Create(path))
        {
            stream.SetLength(CertificateFiles.MaxBytes + 1);
        }

        var error = Assert.Throws<IOException>(() => BoundedFile.Read(path, CertificateFiles.MaxBytes));

        Assert.Contains($"is {CertificateFiles.MaxBytes + 1} bytes, more than the {CertificateFiles.MaxBytes}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RegularFileAndSymlinkToOne_ReadWhole()
    {
        var path = Path.Combine(_directory.Path, "real.json");
        var content = new byte[100_000];
        Random.Shared.NextBytes(content);
        File.WriteAllBytes(path, content);
        var link = Path.Combine(_directory.Path, "link.json");
        File.CreateSymbolicLink(link, path);

        Assert.Equal(content, BoundedFile.Read(path, LbProxyConfigFile.MaxBytes));
        Assert.Equal(content, BoundedFile.Read(link, LbProxyConfigFile.MaxBytes));
        Assert.Throws<FileNotFoundException>(() => BoundedFile.Read(Path.Combine(_directory.Path, "none.json"), 10));
    }

    [Fact]
    public async Task CertificateAndKey_FifoOrDevZero_ProblemNamesTheFile()
    {
        var fifo = MakeFifo("tls.key");
        var reference = new CertificateReference("Kestrel:Certificates:Default", "default", "*", "/dev/zero", fifo, null);

        var problems = new List<string>();
        using var certificate = await Task.Run(() => CertificateFiles.Read(reference).Inspect(DateTimeOffset.UtcNow, problems)).WaitAsync(Bound);

        Assert.Null(certificate);
        Assert.Equal(["certificate file '/dev/zero' cannot be read: '/dev/zero' is a character device, not a regular file; only regular files are read"], problems);
    }

    public void Dispose() => _directory.Dispose();

    private string MakeFifo(string name)
    {
        var path = Path.Combine(_directory.Path, name);
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }
}
