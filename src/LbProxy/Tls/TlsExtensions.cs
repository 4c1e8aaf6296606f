using System.Security.Authentication;
using LbProxy.Configuration;
using LbProxy.Control;
using LbProxy.Edge;
using Microsoft.AspNetCore.Server.Kestrel.Core;

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
        services.AddSingleton<IConfigCheck, HttpsEdgeCheck>();
        services.AddLbProxyOptions<TlsOptions, TlsOptionsValidator>(TlsOptions.SectionName, static (section, options) => section.Bind(options));
        services.AddSingleton<TlsMetrics>();
        services.AddStatusSection<TlsCertificateStage, IReadOnlyList<CertificateDescription>>("certificates", static stage => stage.Describe(), TlsJsonContext.Default.IReadOnlyListCertificateDescription);
        services.AddHostedService<TlsCertificateWatcher>();
        services.Configure<KestrelServerOptions>(kestrel =>
        {
            kestrel.ConfigureHttpsDefaults(https =>
            {
                // TLS 1.2 and 1.3 only, whatever the system allows; an endpoint's own SslProtocols still wins.
                https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                https.OnAuthenticate = stage.OnAuthenticate;
            });
            EndpointNames.TagEndpoints(kestrel, configuration);   // the redirect and the metrics endpoint ask which endpoint a request came in on
        });
        return builder;
    }

    /// <summary><c>Strict-Transport-Security</c> on HTTPS responses, when configured.</summary>
    public static IApplicationBuilder UseLbProxyHsts(this IApplicationBuilder app) => app.UseMiddleware<HstsMiddleware>();

    /// <summary>
    /// Plain HTTP on a redirecting endpoint (<c>LbProxy:Tls:RedirectHttp</c>): 301 (GET, HEAD) or 308 to HTTPS, never
    /// forwarded. LbProxy's own, by endpoint name; not ASP.NET Core's <c>UseHttpsRedirection</c>, which it does not use.
    /// </summary>
    public static IApplicationBuilder UseLbProxyHttpsRedirect(this IApplicationBuilder app) => app.UseMiddleware<HttpsRedirectMiddleware>();
}
