namespace LbProxy.Edge;

/// <summary>What a stage of the proxy pipeline does when the request ends (its response complete, or failed).</summary>
internal interface IProxyRequestEndAction
{
    void RequestEnded(HttpContext context);
}

/// <summary>
/// The end of a proxied request, for the stages that only need to act then: the proxy pipeline's first stage awaits
/// the whole pipeline anyway and runs the one action left here when it is done, so such a stage costs no async frame
/// of its own per request. Only inside that stage (<see cref="IsRun"/>): a request run through part of the pipeline
/// (a background refresh from the cache stage) has no one to run it, and the stage awaits by itself there.
/// </summary>
internal sealed class ProxyRequestEnd : IProxyRequestEndAction
{
    /// <summary>The marker of a request whose end the first stage runs: nothing has been left yet.</summary>
    private static readonly ProxyRequestEnd Nothing = new();

    private ProxyRequestEnd()
    {
    }

    /// <summary>Called by the first stage before the rest of the pipeline runs.</summary>
    public static void Begin(HttpContext context) => context.Features.Set<IProxyRequestEndAction>(Nothing);

    /// <summary>True when the first stage will run an action left now, and none has been left yet.</summary>
    public static bool IsRun(HttpContext context) => ReferenceEquals(context.Features.Get<IProxyRequestEndAction>(), Nothing);

    /// <summary>Leaves <paramref name="action"/> for the end of the request; only when <see cref="IsRun"/>.</summary>
    public static void Leave(HttpContext context, IProxyRequestEndAction action) => context.Features.Set(action);

    /// <summary>Called by the first stage when the pipeline is done: runs the action left, if any.</summary>
    public static void End(HttpContext context)
    {
        var action = context.Features.Get<IProxyRequestEndAction>();
        context.Features.Set<IProxyRequestEndAction>(null);
        action?.RequestEnded(context);
    }

    void IProxyRequestEndAction.RequestEnded(HttpContext context)
    {
    }
}
