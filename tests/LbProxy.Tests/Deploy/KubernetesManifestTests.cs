using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// deploy/k8s against the Kubernetes API schemas (npm kubernetes-models, and the Prometheus Operator's for the
/// PrometheusRule; tests/deploy/validate-k8s.mjs), the ConfigMap mounted as a directory, and its yarp.json a config
/// LbProxy accepts.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    [Fact]
    public async Task Manifests_ValidateAgainstTheKubernetesSchemas_AndMountTheConfigMapAsADirectory()
    {
        var (exitCode, output) = await DeployFiles.NodeAsync("validate-k8s.mjs", [.. DeployFiles.KubernetesFiles]);

        Assert.True(exitCode == 0, output);
        foreach (var kind in new[] { "v1 ConfigMap", "apps/v1 Deployment", "v1 Service", "autoscaling/v2 HorizontalPodAutoscaler", "policy/v1 PodDisruptionBudget", "monitoring.coreos.com/v1 PrometheusRule" })
        {
            Assert.Contains($": {kind} ", output);
        }

        Assert.Contains("mounts ConfigMap volume config at /config as a directory", output);
        Assert.DoesNotContain("FAIL", output);
    }

    [Fact]
    public async Task Validator_SubPathMountOrBadField_Fails()
    {
        using var temp = new TempDirectory();
        var deployment = File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "deployment.yaml"));
        var subPath = Path.Combine(temp.Path, "subpath.yaml");
        File.WriteAllText(subPath, deployment.Replace("mountPath: /config, readOnly: true}", "mountPath: /config/yarp.json, subPath: yarp.json, readOnly: true}", StringComparison.Ordinal));
        var badType = Path.Combine(temp.Path, "badtype.yaml");
        File.WriteAllText(badType, deployment.Replace("replicas: 2", "replicas: two", StringComparison.Ordinal));

        var (subPathExit, subPathOutput) = await DeployFiles.NodeAsync("validate-k8s.mjs", subPath);
        var (badTypeExit, badTypeOutput) = await DeployFiles.NodeAsync("validate-k8s.mjs", badType);

        Assert.True(subPathExit == 1, subPathOutput);
        Assert.Contains("with subPath", subPathOutput);
        Assert.True(badTypeExit == 1, badTypeOutput);
        Assert.Contains("FAIL", badTypeOutput);
    }

    [Fact]
    public void Kustomization_ListsEveryManifest()
    {
        var kustomization = File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "kustomization.yaml"));

        foreach (var file in DeployFiles.KubernetesFiles.Select(Path.GetFileName).Where(static f => f != "kustomization.yaml"))
        {
            Assert.Contains($"  - {file}\n", kustomization);
        }
    }

    [Fact]
    public void Deployment_ProbesAndDrainFitTheProduct()
    {
        var deployment = File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "deployment.yaml"));

        Assert.Matches(@"readinessProbe:\s*\n\s*httpGet: \{path: /_lb/readyz", deployment);
        Assert.Matches(@"livenessProbe:\s*\n\s*httpGet: \{path: /_lb/healthz", deployment);
        Assert.Contains("maxUnavailable: 0", deployment);
        Assert.DoesNotContain("subPath", YamlComment().Replace(deployment, string.Empty)); // the comments may say why not
        // preStop sleep, then LbProxy's ShutdownGrace (5 s) and DrainTimeout (25 s), must end before the kill.
        var grace = int.Parse(TerminationGrace().Match(deployment).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var preStop = int.Parse(PreStopSleep().Match(deployment).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(preStop + 5 + 25 < grace, $"preStop {preStop} s + 30 s of drain must fit in terminationGracePeriodSeconds {grace}");
    }

    [Fact]
    public async Task ConfigMap_YarpJson_IsAConfigLbProxyAccepts()
    {
        using var temp = new TempDirectory();
        var path = Path.Combine(temp.Path, "yarp.json");
        File.WriteAllText(path, EmbeddedYarpJson(File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "configmap.yaml"))));

        var (exitCode, output) = await ProxyProcess.RunToExitAsync(temp.Path, TimeSpan.FromMinutes(1), "validate", path);

        Assert.True(exitCode == 0, output);
        Assert.Contains("ConsistentHash", File.ReadAllText(path)); // replicas agree on where each image goes
    }

    /// <summary>The block scalar under <c>yarp.json: |</c>, its indentation removed.</summary>
    private static string EmbeddedYarpJson(string configMap)
    {
        var lines = configMap.Split('\n');
        var start = Array.FindIndex(lines, static l => l.Trim() == "yarp.json: |") + 1;
        Assert.True(start > 0, "the ConfigMap has no yarp.json key");
        var indent = lines[start].Length - lines[start].TrimStart().Length;
        return string.Join("\n", lines.Skip(start).TakeWhile(l => l.Length == 0 || l.Length - l.TrimStart().Length >= indent).Select(l => l.Length >= indent ? l[indent..] : l));
    }

    [GeneratedRegex(@"#.*$", RegexOptions.Multiline)]
    private static partial Regex YamlComment();

    [GeneratedRegex(@"terminationGracePeriodSeconds: (\d+)")]
    private static partial Regex TerminationGrace();

    [GeneratedRegex(@"preStop:\s*\n\s*sleep: \{seconds: (\d+)\}")]
    private static partial Regex PreStopSleep();
}
