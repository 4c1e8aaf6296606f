using LbProxy.Configuration;

namespace LbProxy.Tls;

/// <summary>
/// Refuses a config whose certificate files cannot be served: unreadable, a key that does not match, expired or
/// not yet valid, or names that do not cover the SNI entry. Each error names the file.
/// </summary>
internal sealed class TlsCertificateCheck(IHostEnvironment environment, TimeProvider time) : IConfigCheck
{
    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var now = time.GetUtcNow();
        foreach (var reference in CertificateReference.Read(candidate.Effective, environment.ContentRootPath))
        {
            var problems = new List<string>();
            using var certificate = CertificateFiles.Read(reference).Inspect(now, problems);
            foreach (var problem in problems)
            {
                errors.Add(candidate.File.ErrorAt(reference.ConfigKey, problem));
            }
        }
    }
}
