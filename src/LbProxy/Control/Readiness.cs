namespace LbProxy.Control;

/// <summary>
/// Ready from the moment the host has started (the config is applied before that) until it starts
/// stopping, so that an outer balancer stops sending traffic before in-flight requests are drained.
/// </summary>
internal sealed class Readiness
{
    private volatile bool _started;
    private volatile bool _stopping;

    public Readiness(IHostApplicationLifetime lifetime)
    {
        lifetime.ApplicationStarted.Register(() => _started = true);
        lifetime.ApplicationStopping.Register(() => _stopping = true);
    }

    public bool IsReady => _started && !_stopping;

    public bool IsDraining => _stopping;

    /// <summary>
    /// A stop that does not come through <see cref="IHostApplicationLifetime.StopApplication"/> first (a host
    /// stopped in code) reaches the grace period before ApplicationStopping fires: it turns readiness off itself.
    /// </summary>
    public void BeginDraining() => _stopping = true;
}
