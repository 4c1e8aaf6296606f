using LbProxy.Configuration;

namespace LbProxy.Tls;

internal static class TlsExtensions
{
    /// <summary>
    /// Certificates of Kestrel's own <c>Kestrel:Endpoints</c>: checked with every candidate config, served from
    /// validated copies, watched for rotation. Must follow <c>AddLbProxyConfiguration</c>, whose file it reads.
    /// </summary>
    public static WebApplicationBuilder AddLbProxyTls(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var stage = new TlsCertificateStage(configuration[$"{TlsOptions.SectionName}:{nameof(TlsOptions.StagingDirectory)}"]);
        IConfigurationBuilder sources = configuration;
        sources.Add(stage);   // last: above the command line, since the paths it sets are the copies of the operator's
        TlsCertificateWatcher.StageInitial(stage, LiveFileConfigurationSource.OperatorView(configuration), builder.Environment.ContentRootPath, DateTimeOffset.UtcNow);

        var services = builder.Services;
        services.AddSingleton(stage);
        services.AddSingleton<IConfigCheck, TlsCertificateCheck>();
        services.AddLbProxyOptions<TlsOptions, TlsOptionsValidator>(TlsOptions.SectionName);
        services.AddSingleton<TlsMetrics>();
        services.AddHostedService<TlsCertificateWatcher>();
        return builder;
    }
}
