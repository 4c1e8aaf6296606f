using LbProxy.SampleOrigin;

namespace LbProxy.Hosting;

/// <summary>
/// <c>LbProxy origin --urls http://127.0.0.1:9001 --id a [--workers 4 --service-ms avif=40,webp=12,original=3]</c>:
/// one sample image origin until Ctrl+C or SIGTERM; with workers, an image converter with that many workers.
/// </summary>
internal static class OriginCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(args).Build();
        var url = configuration["urls"] ?? "http://127.0.0.1:9001";
        var id = configuration["id"] ?? "origin";
        ConverterSettings converter;
        try
        {
            converter = ConverterSettings.Parse(configuration["workers"], configuration["service-ms"]);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync($"origin: {e.Message}");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        await using var origin = await SampleOriginServer.StartAsync(id, url, converter);
        // Kestrel's own wording, so scripts and tests wait for an origin as they wait for the proxy.
        Console.Out.WriteLine(converter.Enabled
            ? $"sample origin {id}: {converter.Workers} workers, service ms {string.Join(",", converter.ServiceMs.Select(static p => $"{p.Key}={p.Value}"))}"
            : $"sample origin {id}");
        Console.Out.WriteLine($"Now listening on: {origin.Address}");
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
