namespace LbProxy.Diagnostics;

/// <summary>Collections per generation and heap sizes (after the last collection) of the managed heap.</summary>
internal sealed record GcSnapshot(
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections,
    long HeapSizeBytes,
    long Gen0SizeBytes,
    long Gen1SizeBytes,
    long Gen2SizeBytes,
    long LargeObjectHeapSizeBytes,
    long PinnedObjectHeapSizeBytes,
    long FragmentedBytes,
    long CommittedBytes,
    long TotalAllocatedBytes,
    double PauseTimePercentage);
