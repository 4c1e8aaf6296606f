using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Metrics;

/// <summary>
/// YARP's forwarder, stamped: the moment the first forward attempt of a request begins (the request handed to the
/// forwarder, which sends it to the origin) is kept in the request's <see cref="ProxyExchange"/>. The time upstream is
/// from there to the end of the request (<see cref="ProxyMetricsMiddleware"/>): the origin's answer and its body copied
/// to the client, a retry's further attempts included; what remains of <c>lbproxy_proxy_duration_seconds</c> is the
/// time in the proxy before it (rate limits, the cache, the admission queue, balancing). One timestamp per attempt and
/// no await of its own: timing each attempt in an async wrapper cost 152 B per request (its state machine box; the
/// pooling builder's cache runs dry at 50 requests in flight), measured with the bench's allocation probe.
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
        ProxyExchange.Of(context)?.Forwarding(time.GetTimestamp());
        return inner.SendAsync(context, destinationPrefix, httpClient, requestConfig, transformer, cancellationToken);
    }

    private static IHttpForwarder Resolve(IServiceProvider services, ServiceDescriptor registered) =>
        registered.ImplementationInstance as IHttpForwarder
        ?? registered.ImplementationFactory?.Invoke(services) as IHttpForwarder
        ?? (IHttpForwarder)ActivatorUtilities.CreateInstance(services, registered.ImplementationType!);
}
