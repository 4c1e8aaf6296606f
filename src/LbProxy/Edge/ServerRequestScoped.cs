using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;

namespace LbProxy.Edge;

/// <summary>
/// A per-request object that costs no allocation per request: one instance belongs to one Kestrel request object,
/// which Kestrel reuses for the requests of an HTTP/1.1 connection and pools for the streams of an HTTP/2 one, and is
/// found again through a weak table keyed on that object (and collected with it).
/// </summary>
/// <typeparam name="T">The per-request type; it resets its own state after <see cref="Rent"/>.</typeparam>
internal abstract class ServerRequestScoped<T>
    where T : ServerRequestScoped<T>, new()
{
    private static readonly ConditionalWeakTable<object, T> ByServerRequest = [];

    private int _inUse;

    /// <summary>
    /// This request's instance, marked in use until <see cref="Return"/>. Kestrel's request object implements
    /// <see cref="IHttpRequestFeature"/> and is never replaced: the key that outlives the request. Should it ever be
    /// shared by two requests at once (or be missing), the second gets an instance of its own.
    /// </summary>
    protected static T Rent(IFeatureCollection features)
    {
        var request = features.Get<IHttpRequestFeature>();
        var item = request is null ? new T() : ByServerRequest.GetValue(request, static _ => new T());
        if (Interlocked.Exchange(ref item._inUse, 1) != 0)
        {
            item = new T { _inUse = 1 };
        }

        return item;
    }

    /// <summary>The request is done with it: the next request of the same server request object may rent it.</summary>
    protected void Return() => Volatile.Write(ref _inUse, 0);
}
