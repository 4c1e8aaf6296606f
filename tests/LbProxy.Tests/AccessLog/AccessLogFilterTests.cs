using LbProxy.AccessLog;
using LbProxy.Edge;

namespace LbProxy.Tests.AccessLog;

public sealed class AccessLogFilterTests
{
    [Theory]
    [InlineData("/_lb", "skipped_path")]
    [InlineData("/_lb/status", "skipped_path")]
    [InlineData("/_LB/Status", "skipped_path")]
    [InlineData("//_lb//status/", "skipped_path")]
    [InlineData("/x/../_lb/status", "skipped_path")]
    [InlineData("/%5Flb/status", "skipped_path")]
    [InlineData("/metrics", "skipped_path")]
    [InlineData("/_lbx.jpg", "written")]
    [InlineData("/images/_lb/x.jpg", "written")]
    [InlineData("/metricsx", "written")]
    [InlineData("/images/metrics", "written")]
    public void Evaluate_DefaultRules_SkipControlAndMetricsOnSegmentBoundaries(string rawPath, string expected)
    {
        var filter = Defaults();

        Assert.Equal(expected, AccessLogCounters.NameOf(filter.Evaluate(PathNormalizer.Normalize(rawPath), 200, TimeSpan.FromMilliseconds(5))));
    }

    [Fact]
    public void Evaluate_ConfiguredPrefixInAnotherSpelling_MatchesItsCanonicalForm()
    {
        var filter = new AccessLogFilter(["/Health//Live/"], [], TimeSpan.Zero, 100);

        Assert.Equal(AccessLogOutcome.SkippedPath, filter.Evaluate("/health/live/x", 200, TimeSpan.Zero));
        Assert.Equal(AccessLogOutcome.Written, filter.Evaluate("/health/lively", 200, TimeSpan.Zero));
    }

    [Theory]
    [InlineData(200, "written")]
    [InlineData(301, "skipped_status")]
    [InlineData(304, "skipped_status")]
    [InlineData(404, "skipped_status")]
    [InlineData(500, "written")]
    public void Evaluate_StatusClasses_SkipOnlyThoseClasses(int status, string expected)
    {
        var filter = new AccessLogFilter([], [3, 4], TimeSpan.Zero, 100);

        Assert.Equal(expected, AccessLogCounters.NameOf(filter.Evaluate("/images/a.jpg", status, TimeSpan.Zero)));
    }

    [Fact]
    public void Evaluate_MinDuration_SkipsFasterRequests()
    {
        var filter = new AccessLogFilter([], [], TimeSpan.FromMilliseconds(100), 100);

        Assert.Equal(AccessLogOutcome.SkippedDuration, filter.Evaluate("/a", 200, TimeSpan.FromMilliseconds(99)));
        Assert.Equal(AccessLogOutcome.Written, filter.Evaluate("/a", 200, TimeSpan.FromMilliseconds(100)));
        Assert.Equal(AccessLogOutcome.Written, filter.Evaluate("/a", 503, TimeSpan.FromSeconds(2)));
    }

    [Theory]
    [InlineData(25, 1000, 250)]
    [InlineData(10, 1000, 100)]
    [InlineData(50, 7, 3)]
    [InlineData(0, 1000, 0)]
    [InlineData(100, 1000, 1000)]
    [InlineData(0.1, 10_000, 10)]
    public void Evaluate_Sampling_WritesExactlyThatShareOfSuccesses(double percent, int requests, int expectedWritten)
    {
        var filter = new AccessLogFilter([], [], TimeSpan.Zero, percent);

        var written = 0;
        for (var i = 0; i < requests; i++)
        {
            if (filter.Evaluate("/images/a.jpg", 200, TimeSpan.Zero) == AccessLogOutcome.Written)
            {
                written++;
            }
        }

        Assert.Equal(expectedWritten, written);
    }

    [Fact]
    public void Evaluate_Sampling_NeverSkipsErrors()
    {
        var filter = new AccessLogFilter([], [], TimeSpan.Zero, 0);

        Assert.Equal(AccessLogOutcome.SkippedSample, filter.Evaluate("/a", 200, TimeSpan.Zero));
        Assert.Equal(AccessLogOutcome.SkippedSample, filter.Evaluate("/a", 302, TimeSpan.Zero));
        Assert.Equal(AccessLogOutcome.Written, filter.Evaluate("/a", 404, TimeSpan.Zero));
        Assert.Equal(AccessLogOutcome.Written, filter.Evaluate("/a", 502, TimeSpan.Zero));
    }

    [Fact]
    public void Evaluate_SeveralRulesMatch_TheFirstInOrderNamesTheSkip()
    {
        var filter = new AccessLogFilter(["/_lb"], [2], TimeSpan.FromSeconds(1), 0);

        Assert.Equal(AccessLogOutcome.SkippedPath, filter.Evaluate("/_lb/status", 200, TimeSpan.Zero));
        Assert.Equal(AccessLogOutcome.SkippedStatus, filter.Evaluate("/a", 200, TimeSpan.Zero));
        Assert.Equal(AccessLogOutcome.SkippedDuration, filter.Evaluate("/a", 302, TimeSpan.Zero));
        Assert.Equal(AccessLogOutcome.SkippedSample, filter.Evaluate("/a", 302, TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void From_DefaultOptions_SkipTheControlPrefixAndMetrics()
    {
        var settings = AccessLogSettings.From(new AccessLogOptions(), "/_ops");

        Assert.Equal(["/_ops", "/metrics"], settings.Filter.SkipPrefixes);
        Assert.Equal(AccessLogOptions.DefaultTemplate, settings.Template.Text);
    }

    [Fact]
    public void From_SkipsSwitchedOff_SkipNothing()
    {
        var settings = AccessLogSettings.From(new AccessLogOptions { SkipControlPaths = false, SkipMetrics = false }, "/_lb");

        Assert.Empty(settings.Filter.SkipPrefixes);
        Assert.Equal(AccessLogOutcome.Written, settings.Filter.Evaluate("/_lb/status", 200, TimeSpan.Zero));
    }

    private static AccessLogFilter Defaults() => AccessLogSettings.From(new AccessLogOptions(), "/_lb").Filter;
}
