namespace LbProxy.Diagnostics;

internal sealed partial class LeakWatchdog
{
    /// <summary>One resource: its derived series, aligned with the ring's rows, its idle level, and its suspicion.</summary>
    private sealed class Watch(WatchedResource resource, int capacity, TimeProvider time)
    {
        public WatchedResource Resource { get; } = resource;

        public string Name { get; } = WatchedResources.Name(resource);

        public double Lag { get; } = WatchedResources.LagSeconds(resource);

        public double Floor { get; } = WatchedResources.FloorSeconds(resource);

        public bool IdleCheck { get; } = WatchedResources.IdleCheck(resource);

        public bool FromStart { get; } = WatchedResources.FromStart(resource);

        public bool PerRequest { get; } = WatchedResources.PerRequest(resource);

        /// <summary>The count (for the working set, its floor).</summary>
        public double[] Count { get; } = new double[capacity];

        /// <summary>The load envelope: peak in-flight over the lag.</summary>
        public double[] InFlight { get; } = new double[capacity];

        /// <summary>Connections opened over the lag (connections only).</summary>
        public double[] ConnectionsOpened { get; } = new double[capacity];

        public LeakSuspicion Suspicion { get; } = new(time);

        /// <summary>A cost per request: when its first figure was computed (enough requests over the lag); NaN before.</summary>
        public double CostSince { get; set; } = double.NaN;

        /// <summary>Timers and the thread-pool queue: owners are counted by a census, and the growth since its baseline names the culprit.</summary>
        public bool Census { get; } = resource is WatchedResource.Timers or WatchedResource.ThreadPoolQueue;

        /// <summary>The census this resource's growth is measured from: at start-up, then at each clear.</summary>
        public IReadOnlyList<CensusEntry>? CensusBaseline { get; set; }

        /// <summary>The owners that grew, named when the suspicion was declared (top 3); read by status readers.</summary>
        public volatile IReadOnlyList<CensusGrowth>? Culprits;

        /// <summary>The level the count comes back to without traffic, learnt at idle (and after each reload).</summary>
        public double? IdleReference { get; set; }

        /// <summary>The config generation <see cref="IdleReference"/> was learnt under.</summary>
        public long IdleGeneration { get; set; }
    }
}
