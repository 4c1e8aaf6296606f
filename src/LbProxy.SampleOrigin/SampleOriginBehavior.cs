namespace LbProxy.SampleOrigin;

/// <summary>
/// How a sample origin misbehaves, for tests and demos. Changed in-process or with
/// <c>PUT /_origin/behavior?fail=503&amp;delayMs=200&amp;drop=true&amp;unhealthy=true&amp;slowFactor=4</c>;
/// <c>DELETE /_origin/behavior</c> resets it.
/// </summary>
public sealed class SampleOriginBehavior
{
    private volatile int _failStatus;
    private volatile int _delayMs;
    private volatile bool _dropConnections;
    private volatile bool _unhealthy;
    private double _slowFactor = 1;

    /// <summary>When non-zero, image and echo requests are answered with this status.</summary>
    public int FailStatus { get => _failStatus; set => _failStatus = value; }

    /// <summary>Delay before the response headers are sent.</summary>
    public int DelayMs { get => _delayMs; set => _delayMs = value; }

    /// <summary>When set, image and echo requests have their connection aborted with no response.</summary>
    public bool DropConnections { get => _dropConnections; set => _dropConnections = value; }

    /// <summary>When set, <c>/healthz</c> answers 503.</summary>
    public bool Unhealthy { get => _unhealthy; set => _unhealthy = value; }

    /// <summary>Multiplies the converter's service times (1 = as configured): an origin that slows down, for adaptive limits.</summary>
    public double SlowFactor { get => Volatile.Read(ref _slowFactor); set => Volatile.Write(ref _slowFactor, value); }

    public void Reset()
    {
        SlowFactor = 1;
        FailStatus = 0;
        DelayMs = 0;
        DropConnections = false;
        Unhealthy = false;
    }
}
