using Yarp.ReverseProxy.Transforms.Builder;

namespace LbProxy.Transforms;

internal static class TransformsExtensions
{
    /// <summary>Header hygiene and the path as sent on every route, built once per route by YARP.</summary>
    public static IServiceCollection AddLbProxyTransforms(this IServiceCollection services) => services
        .AddSingleton<ITransformProvider, HeaderHygieneTransformProvider>()
        .AddSingleton<ITransformProvider, RequestTargetTransformProvider>();
}
