using LbProxy.Diagnostics;

namespace LbProxy.Tests.Diagnostics;

/// <summary>
/// The leak model's regression on series whose answer is known: exact linear counts, the degenerate designs it must
/// refuse (too few rows, collinear regressors), and noisy counts with a known slope.
/// </summary>
public sealed class LeastSquaresTests
{
    private const double Exact = 1e-9;

    [Fact]
    public void TryFit_CountLinearInProgressOnly_GivesTheSlopeAndTheFirstRowAsBaseline()
    {
        var series = new Series(20);
        for (var row = 0; row < 20; row++)
        {
            series.Progress[row] = 3 + (0.5 * row);
            series.Count[row] = 30 + (5 * series.Progress[row]);
            series.InFlight[row] = 4;
        }

        Assert.True(series.TryFit(out var fit));
        Assert.Equal(5, fit.ProgressSlope, Exact);
        Assert.Equal(30 + (5 * 3), fit.Baseline, Exact);
        Assert.True(fit.ProgressT > 1e6, $"t = {fit.ProgressT}"); // no residual: t is only bounded by the variance floor
        Assert.Equal(0, fit.InFlightSlope); // constant over the window: left out
        Assert.Equal(0, fit.ConnectionsOpenedSlope);
        Assert.Equal(0, fit.ReloadsSlope);
    }

    [Fact]
    public void TryFit_CountLinearInEveryRegressor_GivesEachCoefficient()
    {
        var series = new Series(40);
        for (var row = 0; row < 40; row++)
        {
            series.InFlight[row] = row % 5;
            series.ConnectionsOpened[row] = row * row % 7;
            series.Reloads[row] = 1 + (row / 8);
            series.Progress[row] = row * 0.4;
            series.Count[row] = 10 + (2 * series.InFlight[row]) + (0.5 * series.ConnectionsOpened[row]) + (3 * series.Reloads[row]) + (7 * series.Progress[row]);
        }

        Assert.True(series.TryFit(out var fit));
        Assert.Equal(2, fit.InFlightSlope, Exact);
        Assert.Equal(0.5, fit.ConnectionsOpenedSlope, Exact);
        Assert.Equal(3, fit.ReloadsSlope, Exact);
        Assert.Equal(7, fit.ProgressSlope, Exact);
        Assert.Equal(series.Count[0], fit.Baseline, Exact);
    }

    [Fact]
    public void TryFit_RiseExplainedByInFlight_LeavesNoProgressSlope()
    {
        // Load grows with time, and the count with it: a count that tracks the work in flight is no leak.
        var series = new Series(60);
        for (var row = 0; row < 60; row++)
        {
            series.Progress[row] = row;
            series.InFlight[row] = (row * 2) + (row % 3 * 10);
            series.Count[row] = 50 + series.InFlight[row];
        }

        Assert.True(series.TryFit(out var fit));
        Assert.Equal(1, fit.InFlightSlope, Exact);
        Assert.Equal(0, fit.ProgressSlope, 1e-6);
    }

    [Fact]
    public void TryFit_NothingVaries_GivesTheMeanAsBaselineAndNoSlope()
    {
        var series = new Series(10);
        for (var row = 0; row < 10; row++)
        {
            series.Count[row] = row % 2 == 0 ? 10 : 20;
        }

        Assert.True(series.TryFit(out var fit));
        Assert.Equal(15, fit.Baseline, Exact);
        Assert.Equal(0, fit.ProgressSlope);
        Assert.Equal(0, fit.ProgressT);
    }

    [Theory]
    [InlineData(3, false)] // one regressor: at least 4 rows
    [InlineData(4, true)]
    public void TryFit_TooFewRows_Refuses(int rows, bool expected)
    {
        var series = new Series(rows);
        for (var row = 0; row < rows; row++)
        {
            series.Progress[row] = row;
            series.Count[row] = (2 * row) + (row % 2);
        }

        Assert.Equal(expected, series.TryFit(out _));
    }

    [Fact]
    public void TryFit_ProgressAMultipleOfInFlight_RefusesAsSingular()
    {
        var series = new Series(30);
        for (var row = 0; row < 30; row++)
        {
            series.InFlight[row] = row % 7;
            series.Progress[row] = (2 * series.InFlight[row]) + 1;
            series.Count[row] = 100 + series.Progress[row];
        }

        Assert.False(series.TryFit(out var fit));
        Assert.Equal(default, fit);
    }

    [Fact]
    public void TryFit_ProgressAlmostAMultipleOfInFlight_RefusesAsCollinear()
    {
        // The data cannot tell load from a leak: a variance inflation beyond 10^6.
        var random = new Random(3);
        var series = new Series(30);
        for (var row = 0; row < 30; row++)
        {
            series.InFlight[row] = row;
            series.Progress[row] = row + (1e-4 * random.NextDouble());
            series.Count[row] = 100 + series.Progress[row];
        }

        Assert.False(series.TryFit(out _));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TryFit_NoisyCountWithAKnownSlope_FindsItSignificant(int seed)
    {
        var random = new Random(seed);
        var series = new Series(150);
        for (var row = 0; row < 150; row++)
        {
            series.Progress[row] = row / 10.0;
            series.InFlight[row] = random.Next(0, 20);
            series.Count[row] = 100 + (3 * series.InFlight[row]) + (2 * series.Progress[row]) + Gaussian(random, 1);
        }

        Assert.True(series.TryFit(out var fit));
        Assert.InRange(fit.ProgressSlope, 1.9, 2.1);
        Assert.InRange(fit.InFlightSlope, 2.95, 3.05);
        Assert.True(fit.ProgressT > 20, $"t = {fit.ProgressT}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TryFit_NoiseWithoutSlope_IsNotSignificant(int seed)
    {
        var random = new Random(seed);
        var series = new Series(150);
        for (var row = 0; row < 150; row++)
        {
            series.Progress[row] = row / 10.0;
            series.Count[row] = 100 + Gaussian(random, 1);
        }

        Assert.True(series.TryFit(out var fit));
        Assert.True(Math.Abs(fit.ProgressT) < 3, $"t = {fit.ProgressT}"); // the watchdog's MinT is 5
    }

    [Fact]
    public void TryFit_SeriesOfDifferentLengths_Throws()
    {
        double[] count = [1, 2, 3, 4, 5];
        double[] shorter = [1, 2, 3, 4];

        Assert.Throws<ArgumentException>(() => LeastSquares.TryFit(count, count, count, count, shorter, out _));
    }

    /// <summary>Normal noise of standard deviation <paramref name="sigma"/> (Box-Muller).</summary>
    private static double Gaussian(Random random, double sigma) =>
        sigma * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private sealed class Series(int rows)
    {
        public double[] Count { get; } = new double[rows];

        public double[] InFlight { get; } = new double[rows];

        public double[] ConnectionsOpened { get; } = new double[rows];

        public double[] Reloads { get; } = new double[rows];

        public double[] Progress { get; } = new double[rows];

        public bool TryFit(out LeastSquaresFit fit) => LeastSquares.TryFit(Count, InFlight, ConnectionsOpened, Reloads, Progress, out fit);
    }
}
