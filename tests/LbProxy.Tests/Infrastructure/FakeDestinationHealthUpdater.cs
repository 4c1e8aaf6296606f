using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// YARP's health updater as a stage sees it, on a test clock: a passive change is applied at once and recorded,
/// and an unhealthy destination is reset to Unknown when its reactivation period has passed on <c>time</c>.
/// </summary>
internal sealed class FakeDestinationHealthUpdater(TimeProvider time) : IDestinationHealthUpdater, IDisposable
{
    private readonly List<ITimer> _reactivations = [];

    /// <summary>Every passive call, in order, changed or not.</summary>
    public List<(string DestinationId, DestinationHealth Health, TimeSpan ReactivationPeriod)> PassiveCalls { get; } = [];

    public void SetActive(ClusterState cluster, IEnumerable<NewActiveDestinationHealth> newHealthPairs)
    {
        foreach (var pair in newHealthPairs)
        {
            pair.Destination.Health.Active = pair.NewActiveHealth;
        }
    }

    public void SetPassive(ClusterState cluster, DestinationState destination, DestinationHealth newHealth, TimeSpan reactivationPeriod)
    {
        PassiveCalls.Add((destination.DestinationId, newHealth, reactivationPeriod));
        if (destination.Health.Passive == newHealth)
        {
            return;
        }

        destination.Health.Passive = newHealth;
        if (newHealth == DestinationHealth.Unhealthy)
        {
            _reactivations.Add(time.CreateTimer(
                _ =>
                {
                    if (destination.Health.Passive == DestinationHealth.Unhealthy)
                    {
                        destination.Health.Passive = DestinationHealth.Unknown;
                    }
                },
                null,
                reactivationPeriod,
                Timeout.InfiniteTimeSpan));
        }
    }

    public void Dispose()
    {
        foreach (var timer in _reactivations)
        {
            timer.Dispose();
        }
    }
}
