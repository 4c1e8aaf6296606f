namespace LbProxy.Hosting;

/// <summary>
/// Runtime settings that .NET reads only from the environment, set by the process itself before anything
/// reads them, so that every way of running LbProxy (<c>dotnet run</c>, the published dll, the image) gets them;
/// a value the environment already has wins, so an operator can turn each off. Settings the runtime reads from
/// runtimeconfig.json are in the project file instead (<c>System.GC.Gen0MaxBudget</c>).
/// </summary>
internal static class RuntimeDefaults
{
    /// <summary>
    /// Socket completions run on the epoll thread that saw them instead of being queued to the thread pool
    /// (read once, when the first asynchronous socket operation starts the socket engine). This saves a thread
    /// hop per read and write on both sides of the proxy; the price is that code continuing after a socket
    /// operation must never block, since it holds an epoll thread (audited: see docs/performance.md).
    /// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> turns it off.
    /// </summary>
    public const string InlineSocketCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Call first in <c>Main</c>, before any socket exists. Also raises the file-descriptor limit
    /// (<see cref="FileDescriptorLimit"/>); returns the message to exit with (code
    /// <see cref="FileDescriptorLimit.ExitTooLow"/>) when that limit is too low to run, else null.
    /// </summary>
    public static string? Apply()
    {
        if (Environment.GetEnvironmentVariable(InlineSocketCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineSocketCompletions, "1");
        }

        return FileDescriptorLimit.Raise();
    }
}
