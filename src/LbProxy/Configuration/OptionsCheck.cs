using Microsoft.Extensions.Options;

namespace LbProxy.Configuration;

/// <summary>
/// Binds <typeparamref name="TOptions"/> from a candidate config and runs its validator, so that a reload
/// with bad options is refused before anything changes (an options monitor alone would take the bad values).
/// </summary>
internal sealed class OptionsCheck<TOptions>(string sectionName, IValidateOptions<TOptions> validator) : IOptionsCheck
    where TOptions : class, new()
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var section = candidate.Configuration.GetSection(sectionName);
        var options = new TOptions();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key and the value it could not convert.
            errors.Add(candidate.File.ErrorAt(sectionName, e.InnerException is null ? e.Message : $"{e.Message} {e.InnerException.Message}"));
            return;
        }

        var result = validator.Validate(Options.DefaultName, options);
        if (!result.Failed)
        {
            return;
        }

        foreach (var failure in result.Failures ?? [result.FailureMessage])
        {
            errors.Add(candidate.File.ErrorAt(KeyOf(sectionName, failure), failure));
        }
    }

    /// <summary>Validation messages start with the member's name ("ConnectTimeout: The field ..."): place the error there.</summary>
    private static string KeyOf(string section, string message)
    {
        var colon = message.IndexOf(": ", StringComparison.Ordinal);
        var member = colon > 0 ? message[..colon] : "";
        return member.Length > 0 && member.All(char.IsLetterOrDigit) ? $"{section}:{member}" : section;
    }
}
