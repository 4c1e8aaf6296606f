namespace LbProxy.Tests.Infrastructure;

/// <summary>One origin behind a proxy that routes every path to it: the setup of the tests that probe the edge itself.</summary>
internal sealed class CatchAllProxy
{
    public TestOrigins Origins { get; private set; } = null!;

    public TestProxy Proxy { get; private set; } = null!;

    public async Task StartAsync()
    {
        Origins = await TestOrigins.StartAsync(1);
        Proxy = await TestProxy.StartAsync(TestConfig.CatchAll(Origins.All));
    }

    public async Task DisposeAsync()
    {
        await Proxy.DisposeAsync();
        await Origins.DisposeAsync();
    }
}
