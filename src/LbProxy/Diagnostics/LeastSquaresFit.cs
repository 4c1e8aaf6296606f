namespace LbProxy.Diagnostics;

/// <summary>
/// What <see cref="LeastSquares.TryFit"/> found: the coefficient of each regressor (0 for one left out because it did
/// not vary), the t-statistic of the progress slope (the growth load does not explain) and the fitted count at the
/// window's first row, the baseline the count rose from.
/// </summary>
internal readonly record struct LeastSquaresFit(
    double InFlightSlope,
    double ConnectionsOpenedSlope,
    double ReloadsSlope,
    double ProgressSlope,
    double ProgressT,
    double Baseline);
