using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace LbProxy.Edge;

/// <summary>
/// The name of the <c>Kestrel:Endpoints</c> entry a request came in on, which Kestrel does not tell a request: each
/// endpoint named in the config at start gets a connection middleware that writes its name into the connection's items.
/// </summary>
internal static class EndpointNames
{
    private static readonly object Key = new();

    public static void TagEndpoints(KestrelServerOptions kestrel, IConfiguration configuration)
    {
        if (kestrel.ConfigurationLoader is not { } loader)
        {
            return;
        }

        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            var name = endpoint.Key;
            loader.Endpoint(name, e => e.ListenOptions.Use(next => context =>
            {
                context.Items[Key] = name;
                return next(context);
            }));
        }
    }

    /// <summary>The endpoint's name as the config spells it, or null for an address from <c>--urls</c>.</summary>
    public static string? Of(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(Key, out var name) == true ? name as string : null;
}
