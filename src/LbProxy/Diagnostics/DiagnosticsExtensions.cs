namespace LbProxy.Diagnostics;

internal static class DiagnosticsExtensions
{
    public static IServiceCollection AddLbProxyDiagnostics(this IServiceCollection services) =>
        services.AddSingleton<ProcessUptime>();
}
