using System.Net;
using LbProxy.SampleOrigin;

namespace LbProxy.Tests.Infrastructure;

/// <summary>Real sample image origins on 127.0.0.1:0, named origin-0, origin-1, ...</summary>
internal sealed class TestOrigins : IAsyncDisposable
{
    private readonly List<SampleOriginServer> _origins;

    private TestOrigins(List<SampleOriginServer> origins) => _origins = origins;

    public IReadOnlyList<SampleOriginServer> All => _origins;

    public SampleOriginServer this[int index] => _origins[index];

    /// <summary>Origins the test started itself (converters, for instance), disposed with the others.</summary>
    public static TestOrigins Of(List<SampleOriginServer> origins) => new(origins);

    public static async Task<TestOrigins> StartAsync(int count, string prefix = "origin")
    {
        var origins = new List<SampleOriginServer>();
        for (var i = 0; i < count; i++)
        {
            origins.Add(await SampleOriginServer.StartAsync($"{prefix}-{i}", "http://127.0.0.1:0"));
        }

        return new TestOrigins(origins);
    }

    /// <summary>Sends a GET through <paramref name="client"/>, asserts a 200 and returns the id of the origin that answered it.</summary>
    public static async Task<string> OriginOfAsync(HttpClient client, string path, string? host = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues(SampleOriginServer.OriginIdHeader).Single();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var origin in _origins)
        {
            await origin.DisposeAsync();
        }
    }
}
