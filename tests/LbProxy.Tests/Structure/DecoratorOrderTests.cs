using LbProxy.Forwarding;
using LbProxy.Health;
using LbProxy.LoadBalancing;
using LbProxy.Tests.Infrastructure;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Health;

namespace LbProxy.Tests.Structure;

/// <summary>
/// Two stages wrap YARP services by rewriting their registrations, which works only after YARP has registered them
/// and only for registrations made before: Health wraps every passive health policy (<see cref="RefusedConnectionPolicy"/>),
/// LoadBalancing every available-destinations policy (<see cref="DrainedDestinationsPolicy"/>); and Forwarding replaces
/// YARP's forwarder client factory (<see cref="EdgeForwarderHttpClientFactory"/>). Moving a stage's registration, or
/// registering another policy after the wrapping, would leave a policy unwrapped, silently: these tests fail then.
/// </summary>
public sealed class DecoratorOrderTests
{
    [Fact]
    public async Task AddLbProxy_AsWired_EveryPolicyIsWrappedAndTheClientFactoryIsTheEdgesOwn()
    {
        await using var proxy = await TestProxy.StartAsync(new TestConfig().ToJson(), "--LbProxy:Config:AllowNoRoutes", "true");

        var problems = Unwrapped(proxy.Services);

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.IsType<EdgeForwarderHttpClientFactory>(proxy.Services.GetRequiredService<IForwarderHttpClientFactory>());
    }

    [Fact]
    public void Unwrapped_PolicyRegisteredAfterTheWrapping_IsFound()
    {
        // As if a stage registered its own policy after Health and LoadBalancing, or YARP were added again.
        var services = YarpServices();
        RefusedConnectionPolicy.Decorate(services);
        DrainedDestinationsPolicy.Decorate(services);
        services.AddSingleton<IPassiveHealthCheckPolicy, LatePassivePolicy>();
        services.AddSingleton<IAvailableDestinationsPolicy, LateAvailablePolicy>();
        using var provider = services.BuildServiceProvider();

        var problems = Unwrapped(provider);

        Assert.Equal(
        [
            $"passive health policy {nameof(LatePassivePolicy)} is not wrapped by {nameof(RefusedConnectionPolicy)}",
            $"available-destinations policy {nameof(LateAvailablePolicy)} is not wrapped by {nameof(DrainedDestinationsPolicy)}",
        ], problems);
    }

    [Fact]
    public void Decorate_BeforeYarpIsRegistered_Throws()
    {
        var services = new ServiceCollection();

        Assert.Throws<InvalidOperationException>(() => RefusedConnectionPolicy.Decorate(services));
        Assert.Throws<InvalidOperationException>(() => DrainedDestinationsPolicy.Decorate(services));
    }

    /// <summary>Every resolved policy that is not wrapped by its stage.</summary>
    private static List<string> Unwrapped(IServiceProvider services)
    {
        var problems = new List<string>();
        var passive = services.GetServices<IPassiveHealthCheckPolicy>().ToList();
        var available = services.GetServices<IAvailableDestinationsPolicy>().ToList();
        Assert.NotEmpty(passive);
        Assert.NotEmpty(available);
        problems.AddRange(passive.Where(static p => p is not RefusedConnectionPolicy)
            .Select(static p => $"passive health policy {p.GetType().Name} is not wrapped by {nameof(RefusedConnectionPolicy)}"));
        problems.AddRange(available.Where(static p => p is not DrainedDestinationsPolicy)
            .Select(static p => $"available-destinations policy {p.GetType().Name} is not wrapped by {nameof(DrainedDestinationsPolicy)}"));
        return problems;
    }

    /// <summary>What the wrapping needs from the host, and YARP.</summary>
    private static ServiceCollection YarpServices()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddOptions<HealthOptions>();
        services.AddReverseProxy();
        return services;
    }

    private sealed class LatePassivePolicy : IPassiveHealthCheckPolicy
    {
        public string Name => "Late";

        public void RequestProxied(HttpContext context, Yarp.ReverseProxy.Model.ClusterState cluster, Yarp.ReverseProxy.Model.DestinationState destination)
        {
        }
    }

    private sealed class LateAvailablePolicy : IAvailableDestinationsPolicy
    {
        public string Name => "Late";

        public IReadOnlyList<Yarp.ReverseProxy.Model.DestinationState> GetAvailalableDestinations(
            Yarp.ReverseProxy.Configuration.ClusterConfig config, IReadOnlyList<Yarp.ReverseProxy.Model.DestinationState> allDestinations) => allDestinations;
    }
}
