using System.Text.Json;
using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// deploy/k8s against the Kubernetes API schemas, strictly (npm kubernetes-models, and the Prometheus Operator's for
/// the ServiceMonitor and the PrometheusRule; tests/deploy/validate-k8s.mjs: a field no schema declares fails), the
/// ConfigMap mounted as a directory, its yarp.json a config LbProxy accepts naming the origins' headless Service, and
/// the metrics port one name from the Deployment through the Service, the ServiceMonitor and the NetworkPolicy.
/// </summary>
public sealed partial class KubernetesManifestTests
{
    [Fact]
    public async Task Manifests_ValidateAgainstTheKubernetesSchemas_AndMountTheConfigMapAsADirectory()
    {
        var (exitCode, output) = await DeployFiles.NodeAsync("validate-k8s.mjs", [.. DeployFiles.KubernetesFiles]);

        Assert.True(exitCode == 0, output);
        foreach (var kind in new[]
        {
            "v1 Namespace", "v1 ConfigMap", "apps/v1 Deployment", "v1 Service", "autoscaling/v2 HorizontalPodAutoscaler", "policy/v1 PodDisruptionBudget",
            "networking.k8s.io/v1 NetworkPolicy", "monitoring.coreos.com/v1 ServiceMonitor", "monitoring.coreos.com/v1 PrometheusRule",
        })
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
    public async Task Validator_MisspeltFields_FailNamingEachField()
    {
        using var temp = new TempDirectory();
        var deployment = Path.Combine(temp.Path, "deployment.yaml");
        File.WriteAllText(deployment, Replaced(Path.Combine(DeployFiles.Kubernetes, "deployment.yaml"), "          readinessProbe:", "          readinesProbe:"));
        var rule = Path.Combine(temp.Path, "prometheusrule.yaml");
        File.WriteAllText(rule, Replaced(Path.Combine(DeployFiles.Kubernetes, "prometheusrule.yaml"), "    - name: lbproxy.leak\n      rules:", "    - name: lbproxy.leak\n      rulez:"));

        var (deploymentExit, deploymentOutput) = await DeployFiles.NodeAsync("validate-k8s.mjs", deployment);
        var (ruleExit, ruleOutput) = await DeployFiles.NodeAsync("validate-k8s.mjs", rule);

        Assert.True(deploymentExit == 1, deploymentOutput);
        Assert.Contains("apps/v1 Deployment lbproxy: unknown field spec.template.spec.containers[0].readinesProbe", deploymentOutput);
        Assert.True(ruleExit == 1, ruleOutput);
        Assert.Matches(@"PrometheusRule lbproxy: unknown field spec\.groups\[\d+\]\.rulez", ruleOutput);
    }

    [Fact]
    public async Task Validator_MisspeltServiceMonitorField_FailsNamingIt()
    {
        using var temp = new TempDirectory();
        var monitor = Path.Combine(temp.Path, "servicemonitor.yaml");
        File.WriteAllText(monitor, Replaced(Path.Combine(DeployFiles.Kubernetes, "servicemonitor.yaml"), "      metricRelabelings:", "      metricRelabellings:"));

        var (exitCode, output) = await DeployFiles.NodeAsync("validate-k8s.mjs", monitor);

        Assert.True(exitCode == 1, output);
        Assert.Contains("ServiceMonitor lbproxy: unknown field spec.endpoints[0].metricRelabellings", output);
    }

    [Fact]
    public async Task ConfigMap_YarpJson_NamesTheOriginsHeadlessService_ByItsClusterDnsName()
    {
        var manifests = await ManifestsAsync();
        var kustomization = File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "kustomization.yaml"));
        var ns = KustomizeNamespace().Match(kustomization).Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(ns), "kustomization.yaml sets no namespace: the DNS name below would not be known");
        using var yarp = JsonDocument.Parse(EmbeddedYarpJson(File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "configmap.yaml"))));
        var destinations = yarp.RootElement.GetProperty("ReverseProxy").GetProperty("Clusters").GetProperty("images").GetProperty("Destinations");

        var address = new Uri(destinations.EnumerateObject().Single().Value.GetProperty("Address").GetString()!);
        var serviceName = address.Host.Split('.')[0];
        Assert.Equal($"{serviceName}.{ns}.svc.cluster.local", address.Host);
        var service = Single(manifests, "Service", serviceName);
        Assert.Equal("None", service.GetProperty("spec").GetProperty("clusterIP").GetString()); // headless: one address per pod
        var servicePort = service.GetProperty("spec").GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("port").GetInt32() == address.Port);

        // The Service selects the origins' pods, and its target port is one their container declares.
        var selector = service.GetProperty("spec").GetProperty("selector");
        var origins = manifests.Where(static m => Kind(m) == "Deployment")
            .Single(d => Matches(selector, d.GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("labels")));
        var container = origins.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers").EnumerateArray().Single();
        Assert.Equal("origin", container.GetProperty("args")[0].GetString());
        Assert.Contains(container.GetProperty("ports").EnumerateArray(), p => p.GetProperty("name").GetString() == servicePort.GetProperty("targetPort").GetString());
        Assert.Contains(container.GetProperty("args").EnumerateArray(), a => a.GetString() == $"http://0.0.0.0:{ContainerPort(container, servicePort.GetProperty("targetPort").GetString()!)}");
    }

    [Fact]
    public async Task MetricsPort_OneNameFromTheDeploymentThroughTheServiceMonitorToTheNetworkPolicy()
    {
        var manifests = await ManifestsAsync();
        var container = LbProxyContainer(manifests);
        var env = container.GetProperty("env").EnumerateArray().ToDictionary(static e => e.GetProperty("name").GetString()!, static e => e.GetProperty("value").GetString()!);

        // LbProxy answers /metrics on the Kestrel endpoint LbProxy:Metrics:Endpoint names, whose port the container declares.
        var endpoint = env["LbProxy__Metrics__Endpoint"];
        var metricsUrl = new Uri(env[$"Kestrel__Endpoints__{endpoint}__Url"].Replace("*", "0.0.0.0", StringComparison.Ordinal));
        var metricsPortName = container.GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("containerPort").GetInt32() == metricsUrl.Port).GetProperty("name").GetString()!;
        Assert.NotEqual("http", metricsPortName);

        // The ServiceMonitor scrapes that port of the Service it selects.
        var monitor = Single(manifests, "ServiceMonitor", "lbproxy");
        var scraped = monitor.GetProperty("spec").GetProperty("endpoints").EnumerateArray().Single();
        var service = manifests.Where(static m => Kind(m) == "Service")
            .Single(s => Matches(monitor.GetProperty("spec").GetProperty("selector").GetProperty("matchLabels"), s.GetProperty("metadata").GetProperty("labels")));
        var servicePort = service.GetProperty("spec").GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("name").GetString() == scraped.GetProperty("port").GetString());
        Assert.Equal(metricsPortName, servicePort.GetProperty("targetPort").GetString());
        Assert.Equal("/metrics", scraped.GetProperty("path").GetString());

        // The NetworkPolicy: the metrics port only from the monitoring namespace, the traffic port from anywhere.
        var policy = Single(manifests, "NetworkPolicy", "lbproxy").GetProperty("spec");
        var ingress = policy.GetProperty("ingress").EnumerateArray().ToList();
        var metricsRule = ingress.Single(r => r.GetProperty("ports").EnumerateArray().Any(p => p.GetProperty("port").ToString() == metricsPortName));
        var from = metricsRule.GetProperty("from").EnumerateArray().Single();
        Assert.Equal("monitoring", from.GetProperty("namespaceSelector").GetProperty("matchLabels").GetProperty("kubernetes.io/metadata.name").GetString());
        Assert.False(from.TryGetProperty("ipBlock", out _));
        var trafficRule = ingress.Single(r => r.GetProperty("ports").EnumerateArray().Any(static p => p.GetProperty("port").ToString() == "http"));
        Assert.False(trafficRule.TryGetProperty("from", out _), "the traffic port is open to every source");
        Assert.Equal(["Egress", "Ingress"], policy.GetProperty("policyTypes").EnumerateArray().Select(static t => t.GetString()!).Order(StringComparer.Ordinal));
        var egressTo = policy.GetProperty("egress").EnumerateArray().SelectMany(static r => r.GetProperty("to").EnumerateArray()).Select(static t => t.ToString()).ToList();
        Assert.Contains(egressTo, static t => t.Contains("lbproxy-origin", StringComparison.Ordinal));
        Assert.Contains(egressTo, static t => t.Contains("kube-dns", StringComparison.Ordinal));

        // The traffic port is the one the probes use, and the one the traffic Service targets.
        Assert.Equal("http", container.GetProperty("readinessProbe").GetProperty("httpGet").GetProperty("port").GetString());
        Assert.Contains(Single(manifests, "Service", "lbproxy").GetProperty("spec").GetProperty("ports").EnumerateArray(), static p => p.GetProperty("targetPort").GetString() == "http");
    }

    [Fact]
    public async Task DeploymentEnvironmentWithTheConfigMap_Runs_MetricsOnlyOnTheMetricsPort_TrafficAndProbesOnHttp()
    {
        var manifests = await ManifestsAsync();
        var container = LbProxyContainer(manifests);
        await using var origins = await TestOrigins.StartAsync(1);
        using var temp = new TempDirectory();
        var yarp = EmbeddedYarpJson(File.ReadAllText(Path.Combine(DeployFiles.Kubernetes, "configmap.yaml")));
        using (var document = JsonDocument.Parse(yarp))
        {
            var destination = document.RootElement.GetProperty("ReverseProxy").GetProperty("Clusters").GetProperty("images").GetProperty("Destinations").EnumerateObject().Single();
            yarp = yarp.Replace(destination.Value.GetProperty("Address").GetString()!, origins[0].Address.ToString(), StringComparison.Ordinal);
        }

        File.WriteAllText(Path.Combine(temp.Path, "yarp.json"), yarp);

        // The container's environment, each Kestrel URL's port (a container port) moved to a free loopback port.
        var loopback = new Dictionary<int, int>();
        var environment = new Dictionary<string, string>();
        foreach (var variable in container.GetProperty("env").EnumerateArray())
        {
            var (name, value) = (variable.GetProperty("name").GetString()!, variable.GetProperty("value").GetString()!);
            var url = KestrelUrl().Match(value);
            if (name.StartsWith("Kestrel__Endpoints__", StringComparison.Ordinal) && url.Success)
            {
                var port = LoopbackPorts.Unused();
                loopback[int.Parse(url.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)] = port;
                value = $"http://127.0.0.1:{port}";
            }

            environment[name] = value;
        }

        string[] args = [.. container.GetProperty("args").EnumerateArray().Select(a => a.GetString()!.Replace("/config/", temp.Path + "/", StringComparison.Ordinal))];
        await using var proxy = await ProxyProcess.StartListeningAsync(temp.Path, environment, TimeSpan.FromMinutes(1), args);
        var traffic = new Uri($"http://127.0.0.1:{loopback[ContainerPort(container, "http")]}");
        var metrics = new Uri($"http://127.0.0.1:{loopback[ContainerPort(container, "metrics")]}");
        using var trafficClient = new HttpClient { BaseAddress = traffic };
        using var metricsClient = new HttpClient { BaseAddress = metrics };

        var refused = await RawHttp.GetAsync(traffic, "/metrics");
        Assert.Equal(404, refused.StatusCode);
        Assert.Equal(0, origins[0].RequestCount);
        // What the ServiceMonitor scrapes, on the metrics port; what the readiness probe asks, on the traffic port.
        var scrapedPath = Single(manifests, "ServiceMonitor", "lbproxy").GetProperty("spec").GetProperty("endpoints")[0].GetProperty("path").GetString()!;
        var scrape = await MetricsScrape.TakeAsync(metricsClient, scrapedPath);
        Assert.Contains("# TYPE lbproxy_", scrape.Text, StringComparison.Ordinal);
        Assert.Equal("ready", await trafficClient.GetStringAsync(container.GetProperty("readinessProbe").GetProperty("httpGet").GetProperty("path").GetString()));
        Assert.Equal("origin-0", await TestOrigins.OriginOfAsync(trafficClient, "/images/cat.jpg"));
    }

    [Fact]
    public async Task OperatorResources_CarryTheReleaseLabelOfTheDefaultSelectors()
    {
        var manifests = await ManifestsAsync();

        foreach (var (kind, name) in new[] { ("PrometheusRule", "lbproxy"), ("ServiceMonitor", "lbproxy") })
        {
            var labels = Single(manifests, kind, name).GetProperty("metadata").GetProperty("labels");
            Assert.True(labels.TryGetProperty("release", out var release), $"{kind} {name} has no release label");
            Assert.Equal("kube-prometheus-stack", release.GetString());
        }
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

    /// <summary>Every document of every manifest, read by the npm yaml parser (tests/deploy/yaml-to-json.mjs).</summary>
    private static async Task<IReadOnlyList<JsonElement>> ManifestsAsync()
    {
        var (exitCode, output) = await DeployFiles.NodeAsync("yaml-to-json.mjs", [.. DeployFiles.KubernetesFiles]);
        Assert.True(exitCode == 0, output);
        using var document = JsonDocument.Parse(output);
        return [.. document.RootElement.EnumerateArray().Select(static d => d.GetProperty("doc").Clone())];
    }

    private static string? Kind(JsonElement manifest) => manifest.TryGetProperty("kind", out var kind) ? kind.GetString() : null;

    private static JsonElement Single(IReadOnlyList<JsonElement> manifests, string kind, string name) =>
        manifests.Single(m => Kind(m) == kind && m.GetProperty("metadata").GetProperty("name").GetString() == name);

    /// <summary>True when every label of <paramref name="selector"/> is among <paramref name="labels"/>.</summary>
    private static bool Matches(JsonElement selector, JsonElement labels) =>
        selector.EnumerateObject().All(s => labels.TryGetProperty(s.Name, out var value) && value.GetString() == s.Value.GetString());

    private static JsonElement LbProxyContainer(IReadOnlyList<JsonElement> manifests) =>
        Single(manifests, "Deployment", "lbproxy").GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")
            .EnumerateArray().Single(static c => c.GetProperty("name").GetString() == "lbproxy");

    private static int ContainerPort(JsonElement container, string name) =>
        container.GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name).GetProperty("containerPort").GetInt32();

    /// <summary>The file's text with <paramref name="from"/> (which must be there) replaced.</summary>
    private static string Replaced(string path, string from, string to)
    {
        var text = File.ReadAllText(path);
        Assert.True(text.Contains(from, StringComparison.Ordinal), $"{path} no longer has {from}: update this test");
        return text.Replace(from, to, StringComparison.Ordinal);
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

    [GeneratedRegex(@"^http://\*:(\d+)$")]
    private static partial Regex KestrelUrl();

    [GeneratedRegex(@"^namespace: (\S+)$", RegexOptions.Multiline)]
    private static partial Regex KustomizeNamespace();

    [GeneratedRegex(@"#.*$", RegexOptions.Multiline)]
    private static partial Regex YamlComment();

    [GeneratedRegex(@"terminationGracePeriodSeconds: (\d+)")]
    private static partial Regex TerminationGrace();

    [GeneratedRegex(@"preStop:\s*\n\s*sleep: \{seconds: (\d+)\}")]
    private static partial Regex PreStopSleep();
}
