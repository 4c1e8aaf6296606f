namespace LbProxy.Tests.Infrastructure;

/// <summary>A test CA, one origin and a folder for certificate files: the setup of the TLS tests.</summary>
internal sealed class TlsSetup : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public TlsSetup() => Layout = new TlsLayout(_certificates);

    public TestOrigins Origins { get; private set; } = null!;

    public TlsLayout Layout { get; }

    public TestCertificates Certificates => _certificates;

    public async Task StartAsync() => Origins = await TestOrigins.StartAsync(1);

    public Task DisposeAsync() => Origins.DisposeAsync().AsTask();

    public void Dispose()
    {
        Layout.Dispose();
        _certificates.Dispose();
    }
}
