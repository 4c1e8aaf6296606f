using System.Net;
using System.Net.Sockets;
using LbProxy.Discovery;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Tests.Discovery;

public sealed class DnsDestinationResolverTests
{
    [Theory]
    [InlineData("http://origins.images.svc.cluster.local:8081/", true)]
    [InlineData("https://origins/", true)]
    [InlineData("http://10.0.0.7:8081/", false)]
    [InlineData("http://[fd00::7]:8081/", false)]
    [InlineData("http://localhost:8081/", false)]
    public void NamesAHost_OnlyHostNamesOtherThanLocalhost(string address, bool expected) =>
        Assert.Equal(expected, DnsDestinationResolver.NamesAHost(new Uri(address)));

    [Fact]
    public void Expand_MovesAddressAndHealthToTheAddress_KeepsTheNameAsHost()
    {
        var named = new Uri("https://origins.images:8443/base/");
        var config = new DestinationConfig
        {
            Address = named.ToString(),
            Health = "https://origins.images:9000/healthz",
            Metadata = new Dictionary<string, string> { ["Weight"] = "2" },
        };

        var v4 = DnsDestinationResolver.Expand(config, named, IPAddress.Parse("10.1.2.3"));
        var v6 = DnsDestinationResolver.Expand(config, named, IPAddress.Parse("fd00::3"));
        var ownHost = DnsDestinationResolver.Expand(config with { Host = "images.example" }, named, IPAddress.Parse("10.1.2.3"));

        Assert.Equal("https://10.1.2.3:8443/base/", v4.Address);
        Assert.Equal("https://10.1.2.3:9000/healthz", v4.Health);
        Assert.Equal("origins.images:8443", v4.Host);
        Assert.Equal("2", v4.Metadata!["Weight"]);
        Assert.Equal("https://[fd00::3]:8443/base/", v6.Address);
        Assert.Equal("images.example", ownHost.Host);
    }

    [Fact]
    public async Task Resolve_SortsAddresses_AndOnFailureKeepsTheLastGoodOnes_CountingEachFailure()
    {
        var answers = new Queue<Func<IPAddress[]>>([
            static () => [IPAddress.Parse("10.0.0.9"), IPAddress.Parse("fd00::1"), IPAddress.Parse("10.0.0.10"), IPAddress.Parse("10.0.0.9")],
            static () => throw new SocketException((int)SocketError.HostNotFound),
            static () => [],
        ]);
        using var meters = new TestMeterFactory();
        var names = new DnsNames(meters, NullLogger<DnsNames>.Instance, (_, _) => Task.FromResult(answers.Dequeue()()));

        var first = await names.ResolveAsync("origins", CancellationToken.None);
        var second = await names.ResolveAsync("origins", CancellationToken.None);
        var third = await names.ResolveAsync("origins", CancellationToken.None);

        string[] sorted = ["10.0.0.10", "10.0.0.9", "fd00::1"];
        Assert.Equal(sorted, first.Select(static a => a.ToString()));
        Assert.Equal(sorted, second.Select(static a => a.ToString()));
        Assert.Equal(sorted, third.Select(static a => a.ToString()));
        var status = Assert.Single(names.Capture());
        Assert.Equal(2, status.Failures);
        Assert.Equal("no address", status.Error);
    }
}
