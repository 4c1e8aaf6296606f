using LbProxy.AccessLog;
using LbProxy.Edge;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace LbProxy.Tests.AccessLog;

/// <summary>
/// The applied settings as the hot reload will drive them: the configuration changes, IOptionsMonitor reports new
/// options, and a new filter and template are swapped in as one snapshot.
/// </summary>
public sealed class AppliedAccessLogSettingsTests
{
    [Fact]
    public void OptionsChange_NewSnapshotIsSwappedInWhole()
    {
        using var fixture = new Fixture();
        var before = fixture.Applied.Current;

        fixture.Change(new()
        {
            ["LbProxy:AccessLog:Template"] = "{status} {path}",
            ["LbProxy:AccessLog:SkipPaths:0"] = "/static",
            ["LbProxy:AccessLog:SkipStatusClasses:0"] = "3xx",
        });
        var after = fixture.Applied.Current;

        Assert.NotSame(before, after);
        Assert.Equal("{status} {path}", after.Template.Text);
        Assert.Equal(["/_lb", "/metrics", "/static"], after.Filter.SkipPrefixes);
        Assert.Equal(AccessLogOutcome.SkippedStatus, after.Filter.Evaluate("/a", 304, TimeSpan.Zero));
        // The old snapshot is untouched: a request that started before the change finishes with it.
        Assert.Equal(AccessLogOptions.DefaultTemplate, before.Template.Text);
        Assert.Equal(AccessLogOutcome.Written, before.Filter.Evaluate("/static/a", 304, TimeSpan.Zero));
    }

    [Fact]
    public void OptionsChange_InvalidOptions_KeepTheLastGoodSnapshot()
    {
        using var fixture = new Fixture();
        fixture.Change(new() { ["LbProxy:AccessLog:Template"] = "{status}" });
        var good = fixture.Applied.Current;

        // The options monitor refuses the invalid options before they are compiled; whatever it does
        // with the error, the last good snapshot must keep serving.
        try
        {
            fixture.Change(new() { ["LbProxy:AccessLog:Template"] = "{nope}" });
        }
        catch (Exception e) when (e is OptionsValidationException or AggregateException)
        {
        }

        Assert.Same(good, fixture.Applied.Current);
    }

    [Fact]
    public async Task OptionsChange_UnderConcurrentReads_EveryReadSeesAWholeSnapshot()
    {
        using var fixture = new Fixture();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var torn = 0;
        var reads = 0;
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                reading.TrySetResult();
                var settings = fixture.Applied.Current;
                // Each generation pairs template "{status} gN" with skip prefix "/gN": never one without the other.
                var text = settings.Template.Text;
                if (text.StartsWith("{status} g") && settings.Filter.SkipPrefixes[^1] != "/" + text["{status} ".Length..])
                {
                    Interlocked.Increment(ref torn);
                }

                Interlocked.Increment(ref reads);
            }
        });

        await reading.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 200; i++)
        {
            fixture.Change(new()
            {
                ["LbProxy:AccessLog:Template"] = $"{{status}} g{i}",
                ["LbProxy:AccessLog:SkipPaths:0"] = $"/g{i}",
            });
        }

        await stop.CancelAsync();
        await reader;
        Assert.Equal(0, torn);
        Assert.True(reads > 0);
        Assert.Equal("{status} g199", fixture.Applied.Current.Template.Text);
    }

    private sealed class Fixture : IDisposable
    {
        private readonly ServiceProvider _services;
        private readonly IConfigurationRoot _configuration;

        public Fixture()
        {
            _configuration = new ConfigurationBuilder().AddInMemoryCollection().Build();
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(_configuration);
            services.AddLogging();
            services.AddSingleton(ControlPrefix.From("/_lb"));
            services.AddOptions<AccessLogOptions>().BindConfiguration(AccessLogOptions.SectionName);
            services.AddSingleton<IValidateOptions<AccessLogOptions>, AccessLogOptionsValidator>();
            services.AddSingleton<AppliedAccessLogSettings>();
            _services = services.BuildServiceProvider();
            Applied = _services.GetRequiredService<AppliedAccessLogSettings>();
        }

        public AppliedAccessLogSettings Applied { get; }

        /// <summary>Replaces the access-log section and reloads, as a changed config file does.</summary>
        public void Change(Dictionary<string, string?> values)
        {
            foreach (var child in _configuration.GetSection(AccessLogOptions.SectionName).AsEnumerable().ToList())
            {
                _configuration[child.Key] = null;
            }

            foreach (var (key, value) in values)
            {
                _configuration[key] = value;
            }

            _configuration.Reload();
        }

        public void Dispose() => _services.Dispose();
    }
}
