namespace LbProxy.Diagnostics;

internal sealed partial class LeakWatchdog
{
    /// <summary>One resource: its derived series, aligned with the ring's rows, and where its episode stands.</summary>
    private sealed class Watch(WatchedResource resource, int capacity)
    {
        private volatile LeakEpisode? _episode;
        private volatile bool _suspect;
        private int _episodes;

        public WatchedResource Resource { get; } = resource;

        public string Name { get; } = WatchedResources.Name(resource);

        public double Lag { get; } = WatchedResources.LagSeconds(resource);

        public double Floor { get; } = WatchedResources.FloorSeconds(resource);

        public bool IdleCheck { get; } = WatchedResources.IdleCheck(resource);

        /// <summary>The count (for the working set, its floor).</summary>
        public double[] Y { get; } = new double[capacity];

        /// <summary>The load envelope: peak in-flight over the lag.</summary>
        public double[] E { get; } = new double[capacity];

        /// <summary>Connections opened over the lag (connections only).</summary>
        public double[] O { get; } = new double[capacity];

        public bool Suspect => _suspect;

        public bool Pending => !_suspect && !double.IsNaN(PendingSince);

        public LeakEpisode? Episode => _episode;

        public int Episodes => Volatile.Read(ref _episodes);

        public double PendingSince { get; set; } = double.NaN;

        public double PendingLevel { get; set; }

        public double PendingX { get; set; }

        public double ClearingSince { get; set; } = double.NaN;

        /// <summary>Windows start no earlier than this (the last clear), so an old episode's rise is not judged again.</summary>
        public double RestartAt { get; private set; } = double.NegativeInfinity;

        public double? IdleReference { get; set; }

        public long IdleGeneration { get; set; }

        public void Declare(LeakEpisode episode)
        {
            _episode = episode;
            _suspect = true;
            Interlocked.Increment(ref _episodes);
            ClearingSince = double.NaN;
        }

        public void Clear(double now)
        {
            _suspect = false;
            PendingSince = double.NaN;
            ClearingSince = double.NaN;
            RestartAt = now;
        }

        /// <summary>The watchdog was switched off: no suspicion stands, and judging starts afresh when it is on again.</summary>
        public void Reset(double now)
        {
            if (_suspect || !double.IsNaN(PendingSince))
            {
                Clear(now);
            }
        }
    }
}
