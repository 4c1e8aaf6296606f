namespace LbProxy.Diagnostics;

/// <summary>Memory and CPU time of the process as the OS sees it.</summary>
internal sealed record ProcessSnapshot(
    long WorkingSetBytes,
    double CpuTimeSeconds,
    double UserCpuTimeSeconds,
    double SystemCpuTimeSeconds,
    int ProcessorCount);
