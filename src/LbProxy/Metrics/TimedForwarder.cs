using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Metrics;

/// <summary>
/// YARP's forwarder, timed: the time from handing the request to the forwarder (which sends it to the origin) until
/// the forwarder returns (the origin's response body copied to the client, or the attempt failed) is added to the
/// request's <see cref="ProxyExchange"/>, each attempt of a retried request included. That is the time upstream;
/// what remains of <c>lbproxy_proxy_duration_seconds</c> is the time in the proxy (rate limits, the cache, the
/// admission queue, balancing). Two timestamps per attempt; the await is pooled, so nothing is allocated.
/// </summary>
internal sealed class TimedForwarder(IHttpForwarder inner, TimeProvider time) : IHttpForwarder
{
    /// <summary>Wraps the registered forwarder; call after <c>AddReverseProxy</c>.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var registered = services.LastOrDefault(static d => d.ServiceType == typeof(IHttpForwarder))
            ?? throw new InvalidOperationException("IHttpForwarder is not registered: call AddReverseProxy first.");
        services.Remove(registered);
        services.AddSingleton<IHttpForwarder>(sp => new TimedForwarder(Resolve(sp, registered), sp.GetRequiredService<TimeProvider>()));
    }

    public ValueTask<ForwarderError> SendAsync(
        HttpContext context,
        string destinationPrefix,
        HttpMessageInvoker httpClient,
        ForwarderRequestConfig requestConfig,
        HttpTransformer transformer) =>
        SendAsync(context, destinationPrefix, httpClient, requestConfig, transformer, CancellationToken.None);

    public ValueTask<ForwarderError> SendAsync(
        HttpContext context,
        string destinationPrefix,
        HttpMessageInvoker httpClient,
        ForwarderRequestConfig requestConfig,
        HttpTransformer transformer,
        CancellationToken cancellationToken)
    {
        if (ProxyExchange.Of(context) is not { } exchange)
        {
            return inner.SendAsync(context, destinationPrefix, httpClient, requestConfig, transformer, cancellationToken);
        }

        var start = time.GetTimestamp();
        var send = inner.SendAsync(context, destinationPrefix, httpClient, requestConfig, transformer, cancellationToken);
        if (send.IsCompleted)
        {
            exchange.Forwarded(time.GetTimestamp() - start);
            return send;
        }

        return TimeAsync(send, exchange, time, start);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<ForwarderError> TimeAsync(ValueTask<ForwarderError> send, ProxyExchange exchange, TimeProvider time, long start)
    {
        try
        {
            return await send.ConfigureAwait(false);
        }
        finally
        {
            exchange.Forwarded(time.GetTimestamp() - start);
        }
    }

    private static IHttpForwarder Resolve(IServiceProvider services, ServiceDescriptor registered) =>
        registered.ImplementationInstance as IHttpForwarder
        ?? registered.ImplementationFactory?.Invoke(services) as IHttpForwarder
        ?? (IHttpForwarder)ActivatorUtilities.CreateInstance(services, registered.ImplementationType!);
}
