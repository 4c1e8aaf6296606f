using LbProxy.Configuration;

namespace LbProxy.Tls;

/// <summary>
/// Refuses a config whose certificate files cannot be served: unreadable, a key that does not match, expired or
/// not yet valid, or names that do not cover the SNI entry. Each error names the file. A config with certificates
/// also needs a writable staging directory (<see cref="TlsCertificateStage"/>): under <c>docker run --read-only</c>
/// without a writable <c>/tmp</c> the start failed with a bare <c>Operation not permitted</c> after <c>validate</c>
/// said ok; now <c>validate</c> and every reload name the directory.
/// </summary>
internal sealed class TlsCertificateCheck(IHostEnvironment environment, TimeProvider time) : IConfigCheck
{
    private const string StagingKey = $"{TlsOptions.SectionName}:{nameof(TlsOptions.StagingDirectory)}";

    public void Check(ConfigCandidate candidate, List<ConfigError> errors)
    {
        var now = time.GetUtcNow();
        var references = CertificateReference.Read(candidate.Effective, environment.ContentRootPath);
        if (references.Count > 0 && UnwritableStaging(candidate.Effective[StagingKey]) is { } staging)
        {
            errors.Add(candidate.File.ErrorAt(string.IsNullOrWhiteSpace(candidate.Effective[StagingKey]) ? references[0].ConfigKey : StagingKey, staging));
        }

        foreach (var reference in references)
        {
            var problems = new List<string>();
            using var certificate = CertificateFiles.Read(reference).Inspect(now, problems);
            foreach (var problem in problems)
            {
                errors.Add(candidate.File.ErrorAt(reference.ConfigKey, problem));
            }
        }
    }

    /// <summary>Why the directory of the validated copies cannot be written, or null: a file created there and removed.</summary>
    internal static string? UnwritableStaging(string? configured)
    {
        var directory = string.IsNullOrWhiteSpace(configured) ? Path.GetTempPath() : configured;
        try
        {
            Directory.CreateDirectory(directory);
            using var probe = new FileStream(Path.Combine(directory, $".lbproxy-probe-{Environment.ProcessId}-{Guid.NewGuid():N}"),
                FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.DeleteOnClose);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return StagingProblem(directory, e);
        }
    }

    internal static string StagingProblem(string directory, Exception e) =>
        $"HTTPS needs a writable directory for the validated certificate copies Kestrel serves: '{directory}' is not writable ({e.Message}); "
        + $"set {StagingKey} to one that is (a tmpfs, an emptyDir)";
}
