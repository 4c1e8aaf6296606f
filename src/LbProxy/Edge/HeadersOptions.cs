using Microsoft.Extensions.Options;

namespace LbProxy.Edge;

/// <summary>Which clients may speak for others: their forwarding headers and request ids are kept.</summary>
internal sealed class HeadersOptions
{
    public const string SectionName = "LbProxy:Headers";

    /// <summary>
    /// Addresses or CIDR ranges of trusted proxies in front of LbProxy (an outer balancer). From them,
    /// <c>X-Forwarded-*</c> chains are extended and <c>X-Request-Id</c> is kept; from anyone else both are replaced.
    /// </summary>
    public string[] TrustedProxies { get; set; } = [];
}

/// <summary>A trusted proxy entry that is neither an address nor a CIDR range is refused, not ignored.</summary>
internal sealed class HeadersOptionsValidator : IValidateOptions<HeadersOptions>
{
    public ValidateOptionsResult Validate(string? name, HeadersOptions options)
    {
        TrustedProxies.Parse(options.TrustedProxies, out var invalid);
        return invalid.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(invalid.Select(static entry =>
                $"{nameof(HeadersOptions.TrustedProxies)}: '{entry}' is neither an IP address nor a CIDR range"));
    }
}
