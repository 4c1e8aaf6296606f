using Microsoft.Extensions.Options;

namespace LbProxy.Configuration;

/// <summary>For options whose every value is valid (booleans): binding errors are still reported by the check.</summary>
internal sealed class NoValidation<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options) => ValidateOptionsResult.Skip;
}
