using System.Globalization;
using System.Text;
using LbProxy.Control;
using LbProxy.Edge;

namespace LbProxy.Diagnostics;

/// <summary>
/// The live page below the prefix: <c>/ui</c> (the HTML, also as <c>/ui/</c>), its assets, and <c>/ui/data</c>
/// (the samples after <c>?since=</c> and the status, in one answer: one poll per interval while the page is
/// shown). The token or the page's cookie, with the page's strict headers (Control's rule).
/// </summary>
internal sealed class LivePageEndpoints(LivePage page, StatusDocument status, ControlPrefix prefix) : IControlEndpoints
{
    public void Map(IEndpointRouteBuilder control)
    {
        // Every URL in the page is absolute, so that /_lb/ui/ (which reaches the page too) does not break them.
        var index = page.Assets["index.html"];
        var html = index with { Content = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(index.Content).Replace("{{prefix}}", prefix.Value, StringComparison.Ordinal)) };
        control.MapMethods("/ui", [HttpMethods.Get, HttpMethods.Head], context => AssetAsync(context, html)).AllowPageCookie();
        foreach (var (name, asset) in page.Assets)
        {
            if (name != "index.html")
            {
                control.MapMethods("/ui/" + name, [HttpMethods.Get, HttpMethods.Head], context => AssetAsync(context, asset)).AllowPageCookie();
            }
        }

        control.MapGet("/ui/data", DataAsync).AllowPageCookie();
    }

    private static Task AssetAsync(HttpContext context, LivePageAsset asset)
    {
        var response = context.Response;
        response.ContentType = asset.ContentType;
        response.ContentLength = asset.Content.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(asset.Content).AsTask();
    }

    private Task DataAsync(HttpContext context)
    {
        _ = long.TryParse(context.Request.Query["since"], NumberStyles.None, CultureInfo.InvariantCulture, out var since);
        return ControlJson.WriteAsync(context, writer =>
        {
            writer.WriteStartObject();
            page.WriteSamples(writer, since);
            writer.WritePropertyName("status");
            status.Write(writer);
            writer.WriteEndObject();
        });
    }
}
