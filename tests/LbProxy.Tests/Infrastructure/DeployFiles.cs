namespace LbProxy.Tests.Infrastructure;

/// <summary>Where the repository keeps its deployment files and the checks' npm packages.</summary>
internal static class DeployFiles
{
    public static string Deploy { get; } = Path.Combine(RepositoryRoot.Path, "deploy");

    public static string Prometheus { get; } = Path.Combine(Deploy, "prometheus");

    public static string PrometheusYml { get; } = Path.Combine(Prometheus, "prometheus.yml");

    public static string Dashboards { get; } = Path.Combine(Deploy, "grafana", "dashboards");

    public static string Kubernetes { get; } = Path.Combine(Deploy, "k8s");

    public static string Compose { get; } = Path.Combine(Deploy, "docker-compose.yml");

    public static string Dockerfile { get; } = Path.Combine(Deploy, "Dockerfile");

    public static string ComposeConfig { get; } = Path.Combine(Deploy, "config", "yarp.json");

    /// <summary>tests/deploy: the npm validators and their lockfile; <c>npm ci</c> there is part of tests/install-deps.sh.</summary>
    public static string NodeChecks { get; } = Path.Combine(RepositoryRoot.Path, "tests", "deploy");

    public static IReadOnlyList<string> RuleFiles { get; } =
        [.. Directory.GetFiles(Path.Combine(Prometheus, "rules"), "*.rules.yml").Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> RuleTestFiles { get; } =
        [.. Directory.GetFiles(Path.Combine(Prometheus, "tests"), "*.test.yml").Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> DashboardFiles { get; } =
        [.. Directory.GetFiles(Dashboards, "*.json").Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> KubernetesFiles { get; } =
        [.. Directory.GetFiles(Kubernetes, "*.yaml").Order(StringComparer.Ordinal)];

    /// <summary>Runs one of tests/deploy's node scripts; fails clearly when <c>npm ci</c> has not run.</summary>
    public static Task<(int ExitCode, string Output)> NodeAsync(string script, params string[] args)
    {
        if (!Directory.Exists(Path.Combine(NodeChecks, "node_modules")))
        {
            throw new InvalidOperationException("tests/deploy/node_modules is missing: run `bash tests/install-deps.sh` (it runs npm ci there)");
        }

        return ExternalProgram.RunAsync("node", [script, .. args], NodeChecks);
    }
}
