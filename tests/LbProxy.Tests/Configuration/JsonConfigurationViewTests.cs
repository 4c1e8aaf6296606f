using System.Text;
using LbProxy.Configuration;
using LbProxy.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace LbProxy.Tests.Configuration;

public sealed class JsonConfigurationViewTests
{
    private const string Rich = """
        {
          // comments and trailing commas, as the JSON provider allows
          "ReverseProxy": {
            "Routes": {
              "r1": { "ClusterId": "c1", "Order": 5, "Match": { "Path": "/a/{**p}", "Hosts": ["a.example", "b.example"],
                      "Headers": [ { "Name": "X-A", "Values": ["1", "2"], "Mode": "ExactHeader" } ] },
                      "Transforms": [ { "PathPrefix": "/x" }, { "RequestHeader": "X-B", "Set": "y" } ] },
            },
            "Clusters": { "c1": { "HttpRequest": { "ActivityTimeout": "00:00:10", "AllowResponseBuffering": false },
                                  "HttpClient": { "MaxConnectionsPerServer": 10, "DangerousAcceptAnyServerCertificate": true },
                                  "Metadata": { "Weight": "2.5" },
                                  "Destinations": { "d1": { "Address": "http://127.0.0.1:1/" } } } }
          },
          "LbProxy": { "Demo": { "Enabled": true }, "Empty": {}, "List": [], "Ratio": 0.25, "Nothing": null }
        }
        """;

    public static TheoryData<string> Documents() => new()
    {
        Rich,
        File.ReadAllText(Path.Combine(RepositoryRoot.Path, "yarp.json")),
    };

    [Theory]
    [MemberData(nameof(Documents))]
    public void AsEnumerable_SameKeysAndValuesAsTheJsonProvider(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var expected = ValuesOf(new ConfigurationBuilder().AddJsonStream(new MemoryStream(bytes)).Build());

        var actual = ValuesOf(JsonConfigurationView.Parse(bytes));

        Assert.Equal(expected.OrderBy(p => p.Key), actual.OrderBy(p => p.Key));
    }

    [Fact]
    public void GetSection_IsCaseInsensitiveAndWalksPaths()
    {
        var view = JsonConfigurationView.Parse(Encoding.UTF8.GetBytes(Rich));

        Assert.Equal("c1", view["reverseproxy:ROUTES:r1:clusterid"]);
        Assert.Equal("b.example", view.GetSection("ReverseProxy:Routes:r1:Match:Hosts:1").Value);
        Assert.Equal("ReverseProxy:Routes:r1:Match", view.GetSection("ReverseProxy").GetSection("Routes:r1:Match").Path);
        Assert.False(view.GetSection("ReverseProxy:Nope:Deeper").Exists());
        Assert.Equal(["a.example", "b.example"], view.GetSection("ReverseProxy:Routes:r1:Match:Hosts").Get<string[]>()!);
    }

    private static Dictionary<string, string> ValuesOf(IConfiguration configuration)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.AsEnumerable())
        {
            if (!string.IsNullOrEmpty(value))
            {
                values[key] = value;
            }
        }

        return values;
    }
}
