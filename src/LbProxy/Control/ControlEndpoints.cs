namespace LbProxy.Control;

/// <summary>
/// What a stage implements to answer under the control prefix: it maps its endpoints on the prefix's route
/// group, which already carries the access rule (the token, unless an endpoint says otherwise with
/// <see cref="ControlEndpointConventions.AllowAnyone{TBuilder}"/> or
/// <see cref="ControlEndpointConventions.AllowPageCookie{TBuilder}"/>). Registered with
/// <see cref="ControlServiceCollectionExtensions.AddControlEndpoints{T}"/>: one line in the stage's <c>AddX</c>.
/// </summary>
internal interface IControlEndpoints
{
    /// <summary>Maps the stage's endpoints; patterns are below the prefix (<c>/status</c>, not <c>/_lb/status</c>).</summary>
    void Map(IEndpointRouteBuilder control);
}

/// <summary>Who may use a control endpoint: endpoint metadata, read by <see cref="ControlAccessMiddleware"/>.</summary>
internal enum ControlAccessRule
{
    /// <summary>Anyone: the probes.</summary>
    Anyone,

    /// <summary>The token rule of <see cref="ControlAccess"/>: every control endpoint that says nothing else.</summary>
    Token,

    /// <summary>The token rule, or the live page's cookie; the page's strict headers on every answer.</summary>
    TokenOrPageCookie,
}

/// <summary>The access rule of one control endpoint, as endpoint metadata; the last one added wins.</summary>
internal sealed record ControlAccessMetadata(ControlAccessRule Rule)
{
    public static readonly ControlAccessMetadata Anyone = new(ControlAccessRule.Anyone);
    public static readonly ControlAccessMetadata Token = new(ControlAccessRule.Token);
    public static readonly ControlAccessMetadata TokenOrPageCookie = new(ControlAccessRule.TokenOrPageCookie);
}

/// <summary>The conventions a stage puts on its control endpoints.</summary>
internal static class ControlEndpointConventions
{
    /// <summary>No token asked: for probes, which carry none.</summary>
    public static TBuilder AllowAnyone<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ControlAccessMetadata.Anyone);

    /// <summary>The token, or the live page's cookie (the page's own endpoints only).</summary>
    public static TBuilder AllowPageCookie<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(ControlAccessMetadata.TokenOrPageCookie);
}
