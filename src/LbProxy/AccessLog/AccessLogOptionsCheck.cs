using Microsoft.Extensions.Options;

namespace LbProxy.AccessLog;

/// <summary>
/// What the attribute validator cannot see: the template's placeholders, the status classes and the path
/// prefixes. Messages start with the member's name, so the config report places them in the file.
/// </summary>
internal sealed class AccessLogOptionsCheck : IValidateOptions<AccessLogOptions>
{
    /// <summary>"3xx" (any case) is 3; anything else is null.</summary>
    public static int? ParseStatusClass(string? text) =>
        text is { Length: 3 } && text[0] is >= '1' and <= '5' && text.AsSpan(1).Equals("xx", StringComparison.OrdinalIgnoreCase)
            ? text[0] - '0'
            : null;

    public ValidateOptionsResult Validate(string? name, AccessLogOptions options)
    {
        var failures = new List<string>();
        if (options.Template is not null && !AccessLogTemplate.TryParse(options.Template, out _, out var error))
        {
            failures.Add($"{nameof(AccessLogOptions.Template)}: {error}");
        }

        foreach (var statusClass in options.SkipStatusClasses ?? [])
        {
            if (ParseStatusClass(statusClass) is null)
            {
                failures.Add($"{nameof(AccessLogOptions.SkipStatusClasses)}: '{statusClass}' is not a status class such as 3xx (1xx to 5xx)");
            }
        }

        foreach (var prefix in options.SkipPaths ?? [])
        {
            if (string.IsNullOrEmpty(prefix) || prefix[0] != '/')
            {
                failures.Add($"{nameof(AccessLogOptions.SkipPaths)}: '{prefix}' must be a path starting with /");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
