using System.Diagnostics.Metrics;
using LbProxy.Metrics;

namespace LbProxy.Tls;

/// <summary>What the certificates served are worth, read at scrape time from <see cref="TlsCertificateStage"/>.</summary>
internal sealed class TlsMetrics
{
    public const string ExpiryName = "lbproxy.tls.certificate.expiry";
    public const string RotationsName = "lbproxy.tls.rotations";

    private static readonly KeyValuePair<string, object?> Applied = new(MetricTags.Result, "applied");
    private static readonly KeyValuePair<string, object?> Refused = new(MetricTags.Result, "refused");

    public TlsMetrics(IMeterFactory meterFactory, TlsCertificateStage stage, TimeProvider time)
    {
        var meter = meterFactory.Create(LbProxyMeter.Name);
        meter.CreateObservableGauge(
            ExpiryName,
            () => Expiry(stage, time.GetUtcNow()),
            unit: "s",
            description: "Seconds until the served certificate of each SNI name expires; negative once expired.");
        meter.CreateObservableCounter(
            RotationsName,
            () => new Measurement<long>[] { new(stage.Applied, Applied), new(stage.Refused, Refused) },
            unit: "{rotation}",
            description: "Certificate files changed on disk, by result: applied (served to new handshakes) or refused (the last good pair kept serving).");
    }

    private static List<Measurement<double>> Expiry(TlsCertificateStage stage, DateTimeOffset now)
    {
        var measurements = new List<Measurement<double>>();
        foreach (var served in stage.Served)
        {
            var d = served.Description;
            measurements.Add(new Measurement<double>(
                (d.NotAfter - now).TotalSeconds,
                new KeyValuePair<string, object?>(MetricTags.Sni, d.Sni),
                new KeyValuePair<string, object?>(MetricTags.Endpoint, d.Endpoint)));
        }

        return measurements;
    }
}
