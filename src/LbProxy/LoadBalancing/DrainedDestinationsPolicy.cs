using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace LbProxy.LoadBalancing;

/// <summary>
/// Takes drained destinations (<c>Weight: 0</c>, see <see cref="DestinationWeight"/>) out of a cluster's available
/// destinations, around every available-destinations policy (YARP's <c>HealthyAndUnknown</c> and
/// <c>HealthyOrPanic</c> and any other registered). A balancing policy alone cannot drain: YARP skips the policy
/// when one destination is available, and its own policies know nothing of weights. Here a drained destination
/// is never available, for every balancing policy, session affinity and retries alike; when only drained ones
/// are left the list is empty and the cluster answers its 503. YARP computes this list when health or the
/// destinations change, not per request, so it costs the request path nothing.
/// </summary>
internal sealed class DrainedDestinationsPolicy(IAvailableDestinationsPolicy inner) : IAvailableDestinationsPolicy
{
    public string Name => inner.Name;

    public IReadOnlyList<DestinationState> GetAvailalableDestinations(ClusterConfig config, IReadOnlyList<DestinationState> allDestinations)
    {
        var drained = 0;
        for (var i = 0; i < allDestinations.Count; i++)
        {
            if (IsDrained(allDestinations[i]))
            {
                drained++;
            }
        }

        if (drained == 0)
        {
            return inner.GetAvailalableDestinations(config, allDestinations);
        }

        // Drained before the inner policy sees them: HealthyOrPanic then panics to the destinations still in
        // rotation, never to a drained one.
        var inRotation = new List<DestinationState>(allDestinations.Count - drained);
        for (var i = 0; i < allDestinations.Count; i++)
        {
            if (!IsDrained(allDestinations[i]))
            {
                inRotation.Add(allDestinations[i]);
            }
        }

        return inRotation.Count == 0 ? inRotation : inner.GetAvailalableDestinations(config, inRotation);
    }

    public static bool IsDrained(DestinationState destination) => DestinationWeight.Of(destination).Weight <= 0;

    /// <summary>Wraps every available-destinations policy registered so far; call after <c>AddReverseProxy</c>.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var decorated = 0;
        for (var i = 0; i < services.Count; i++)
        {
            var descriptor = services[i];
            if (descriptor.ServiceType != typeof(IAvailableDestinationsPolicy) || descriptor.IsKeyedService)
            {
                continue;
            }

            services[i] = ServiceDescriptor.Singleton<IAvailableDestinationsPolicy>(sp => new DrainedDestinationsPolicy(Create(sp, descriptor)));
            decorated++;
        }

        if (decorated == 0)
        {
            throw new InvalidOperationException("no available-destinations policy to wrap: register the reverse proxy first");
        }
    }

    private static IAvailableDestinationsPolicy Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        (IAvailableDestinationsPolicy)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
