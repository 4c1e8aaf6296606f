namespace LbProxy.Diagnostics;

/// <summary>
/// The leak model's regression: ordinary least squares of a resource's count on an intercept and the four things
/// besides a leak that move a count, namely the load envelope (peak requests in flight over the resource's lag), the
/// connections opened over the lag, the reloads (the config generation) and the progress a leak is measured against
/// (thousands of requests served, or minutes at low traffic). Written out by hand rather than taken from a numeric
/// library because it runs for every resource, window and sample on the sampler's thread: at most four regressors,
/// everything on the stack, no allocation.
/// </summary>
internal static class LeastSquares
{
    // The regressors, in the order they enter the design. The order fixes the arithmetic, and so the last digits of
    // every figure the watchdog logs and shows.
    private const int InFlightColumn = 0;
    private const int ConnectionsOpenedColumn = 1;
    private const int ReloadsColumn = 2;
    private const int ProgressColumn = 3;
    private const int Regressors = 4;

    /// <summary>A regressor whose range over the window is no more than this does not vary there: it is left out of the fit.</summary>
    private const double ConstantRange = 1e-9;

    /// <summary>A pivot below this share of the largest diagonal element (at least 1) makes the normal matrix singular.</summary>
    private const double SingularPivot = 1e-12;

    /// <summary>
    /// Variance inflation beyond which the regressors are collinear: the data cannot tell load from a leak (a count
    /// that rose with in-flight requests while requests were served at a steady rate), so the model waits.
    /// </summary>
    private const double MaxVarianceInflation = 1e6;

    /// <summary>Floor of the progress slope's variance: an exact fit gives a large finite t instead of a division by zero.</summary>
    private const double MinSlopeVariance = 1e-18;

    /// <summary>
    /// Fits <paramref name="count"/> on an intercept and the regressors that vary, all spans being one window, the
    /// same rows in the same order. False when there are too few rows for the regressors kept (at least three more
    /// rows than regressors), or when the design is singular or near-collinear.
    /// </summary>
    public static bool TryFit(
        ReadOnlySpan<double> count,
        ReadOnlySpan<double> inFlight,
        ReadOnlySpan<double> connectionsOpened,
        ReadOnlySpan<double> reloads,
        ReadOnlySpan<double> progress,
        out LeastSquaresFit fit)
    {
        fit = default;
        var rows = count.Length;
        if (inFlight.Length != rows || connectionsOpened.Length != rows || reloads.Length != rows || progress.Length != rows)
        {
            throw new ArgumentException("Every series must have one value per row of the count.");
        }

        var design = new Design(inFlight, connectionsOpened, reloads, progress);

        // Regressors that do not vary over the window are dropped: they carry nothing and would make the matrix singular.
        Span<int> kept = stackalloc int[Regressors];
        Span<double> means = stackalloc double[Regressors];
        var size = 0;
        for (var column = 0; column < Regressors; column++)
        {
            var values = design[column];
            double min = double.MaxValue, max = double.MinValue, total = 0;
            for (var row = 0; row < rows; row++)
            {
                min = Math.Min(min, values[row]);
                max = Math.Max(max, values[row]);
                total += values[row];
            }

            if (max - min > ConstantRange)
            {
                kept[size] = column;
                means[size] = total / rows;
                size++;
            }
        }

        if (rows <= size + 2)
        {
            return false;
        }

        var countMean = 0.0;
        for (var row = 0; row < rows; row++)
        {
            countMean += count[row];
        }

        countMean /= rows;

        // The normal equations on centred data: (XᵀX) β = Xᵀy, with the intercept recovered from the means afterwards.
        Span<double> normal = stackalloc double[Regressors * Regressors];
        Span<double> moment = stackalloc double[Regressors];
        Span<double> centred = stackalloc double[Regressors];
        for (var row = 0; row < rows; row++)
        {
            for (var a = 0; a < size; a++)
            {
                centred[a] = design[kept[a]][row] - means[a];
            }

            var countDeviation = count[row] - countMean;
            for (var a = 0; a < size; a++)
            {
                moment[a] += centred[a] * countDeviation;
                for (var b = 0; b < size; b++)
                {
                    normal[(a * Regressors) + b] += centred[a] * centred[b];
                }
            }
        }

        Span<double> inverse = stackalloc double[Regressors * Regressors];
        if (!TryInvert(normal, size, inverse))
        {
            return false;
        }

        Span<double> coefficients = stackalloc double[Regressors];
        for (var a = 0; a < size; a++)
        {
            for (var b = 0; b < size; b++)
            {
                coefficients[a] += inverse[(a * Regressors) + b] * moment[b];
            }
        }

        var intercept = countMean;
        for (var a = 0; a < size; a++)
        {
            intercept -= coefficients[a] * means[a];
        }

        var baseline = 0.0;
        var residualSquares = 0.0;
        for (var row = 0; row < rows; row++)
        {
            var fitted = intercept;
            for (var a = 0; a < size; a++)
            {
                fitted += coefficients[a] * design[kept[a]][row];
            }

            if (row == 0)
            {
                baseline = fitted;
            }

            residualSquares += (count[row] - fitted) * (count[row] - fitted);
        }

        var residualVariance = residualSquares / (rows - size - 1);
        double inFlightSlope = 0, connectionsOpenedSlope = 0, reloadsSlope = 0, progressSlope = 0, progressT = 0;
        for (var a = 0; a < size; a++)
        {
            switch (kept[a])
            {
                case InFlightColumn:
                    inFlightSlope = coefficients[a];
                    break;
                case ConnectionsOpenedColumn:
                    connectionsOpenedSlope = coefficients[a];
                    break;
                case ReloadsColumn:
                    reloadsSlope = coefficients[a];
                    break;
                default:
                    progressSlope = coefficients[a];
                    progressT = progressSlope / Math.Sqrt(Math.Max(residualVariance * inverse[(a * Regressors) + a], MinSlopeVariance));
                    break;
            }
        }

        fit = new LeastSquaresFit(inFlightSlope, connectionsOpenedSlope, reloadsSlope, progressSlope, progressT, baseline);
        return true;
    }

    /// <summary>
    /// Gauss-Jordan elimination with partial pivoting of the <paramref name="size"/>-square <paramref name="matrix"/>
    /// (row stride <see cref="Regressors"/>) into <paramref name="inverse"/>. False when the matrix is singular, or
    /// when a regressor's variance inflation (the diagonal of the inverse times that of the matrix, the matrix being
    /// centred) passes <see cref="MaxVarianceInflation"/>.
    /// </summary>
    private static bool TryInvert(ReadOnlySpan<double> matrix, int size, Span<double> inverse)
    {
        // Each row is [matrix | identity]; elimination turns it into [identity | inverse].
        const int Width = 2 * Regressors;
        Span<double> augmented = stackalloc double[Regressors * Width];
        var largestDiagonal = 1.0;
        for (var i = 0; i < size; i++)
        {
            largestDiagonal = Math.Max(largestDiagonal, Math.Abs(matrix[(i * Regressors) + i]));
            for (var j = 0; j < size; j++)
            {
                augmented[(i * Width) + j] = matrix[(i * Regressors) + j];
                augmented[(i * Width) + size + j] = i == j ? 1 : 0;
            }
        }

        for (var column = 0; column < size; column++)
        {
            var pivot = column;
            for (var row = column + 1; row < size; row++)
            {
                if (Math.Abs(augmented[(row * Width) + column]) > Math.Abs(augmented[(pivot * Width) + column]))
                {
                    pivot = row;
                }
            }

            if (Math.Abs(augmented[(pivot * Width) + column]) < SingularPivot * largestDiagonal)
            {
                return false;
            }

            if (pivot != column)
            {
                for (var j = 0; j < 2 * size; j++)
                {
                    (augmented[(column * Width) + j], augmented[(pivot * Width) + j]) = (augmented[(pivot * Width) + j], augmented[(column * Width) + j]);
                }
            }

            var divisor = augmented[(column * Width) + column];
            for (var j = 0; j < 2 * size; j++)
            {
                augmented[(column * Width) + j] /= divisor;
            }

            for (var row = 0; row < size; row++)
            {
                var factor = augmented[(row * Width) + column];
                if (row == column || factor == 0)
                {
                    continue;
                }

                for (var j = 0; j < 2 * size; j++)
                {
                    augmented[(row * Width) + j] -= factor * augmented[(column * Width) + j];
                }
            }
        }

        for (var i = 0; i < size; i++)
        {
            for (var j = 0; j < size; j++)
            {
                inverse[(i * Regressors) + j] = augmented[(i * Width) + size + j];
            }

            if (inverse[(i * Regressors) + i] * matrix[(i * Regressors) + i] > MaxVarianceInflation)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The regressors by column number, so that the ones kept can be walked in order.</summary>
    private readonly ref struct Design(
        ReadOnlySpan<double> inFlight,
        ReadOnlySpan<double> connectionsOpened,
        ReadOnlySpan<double> reloads,
        ReadOnlySpan<double> progress)
    {
        private readonly ReadOnlySpan<double> _inFlight = inFlight;
        private readonly ReadOnlySpan<double> _connectionsOpened = connectionsOpened;
        private readonly ReadOnlySpan<double> _reloads = reloads;
        private readonly ReadOnlySpan<double> _progress = progress;

        public ReadOnlySpan<double> this[int column] => column switch
        {
            InFlightColumn => _inFlight,
            ConnectionsOpenedColumn => _connectionsOpened,
            ReloadsColumn => _reloads,
            _ => _progress,
        };
    }
}
