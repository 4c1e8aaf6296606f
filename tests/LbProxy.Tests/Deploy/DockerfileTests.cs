using System.Net;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Deploy;

/// <summary>
/// No container engine or registry is reachable here, so the image is never built. What can run does: the
/// Dockerfile's linter, its build stage's COPY and RUN lines carried out in a fresh directory (the build context
/// as .dockerignore leaves it), and the published app started with the container's entrypoint, the compose
/// command and its environment, /config mapped to a temp directory: it serves and applies an edited config.
/// </summary>
[Collection(nameof(RunsAlone))] // a whole restore and publish: not beside the suite's timing-sensitive tests
public sealed class DockerfileTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>What <c>--build-arg SOURCE_COMMIT=</c> passes: <c>git rev-parse HEAD</c> in real use.</summary>
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";

    [Fact]
    public async Task Lint_Dockerfile_HasNoProblems()
    {
        var (exitCode, output) = await DeployFiles.NodeAsync("lint-dockerfile.mjs", DeployFiles.Dockerfile);

        Assert.True(exitCode == 0, output);
    }

    [Fact]
    public void Dockerfile_RunsNonRootOnChiseledWithTheConfigDirectory()
    {
        var file = Dockerfile.Read(DeployFiles.Dockerfile);

        Assert.Equal(2, file.Stages.Count);
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:10.0", file.Stages[0].From, StringComparison.Ordinal);
        Assert.Contains("chiseled", file.Stages[1].From, StringComparison.Ordinal);
        Assert.Equal(["$APP_UID"], file.Stages[1].All("USER"));
        Assert.Equal(["LBPROXY_CONFIG=/config/yarp.json"], file.Stages[1].All("ENV"));
    }

    [Fact]
    public async Task PublishedApp_ContainerCommandLine_ServesAndAppliesAnEditedConfig()
    {
        using var temp = new TempDirectory();
        var file = Dockerfile.Read(DeployFiles.Dockerfile);
        var app = Path.Combine(temp.Path, "app");
        await BuildStageAsync(file.Stages[0], Path.Combine(temp.Path, "src"), app, new Dictionary<string, string> { ["SOURCE_COMMIT"] = Commit });

        Assert.True(File.Exists(Path.Combine(app, "LbProxy.dll")));
        Assert.False(File.Exists(Path.Combine(app, "LbProxy")), "UseAppHost=false: no native launcher, the image runs `dotnet LbProxy.dll`");
        var runtimeConfig = File.ReadAllText(Path.Combine(app, "LbProxy.runtimeconfig.json"));
        Assert.Contains("\"System.GC.Server\": false", runtimeConfig);
        Assert.Contains("\"System.GC.Concurrent\": true", runtimeConfig);

        await using var origins = await TestOrigins.StartAsync(2);
        var config = Path.Combine(temp.Path, "config");
        Directory.CreateDirectory(config);
        var yarp = File.ReadAllText(DeployFiles.ComposeConfig)
            .Replace("http://origin-a:8080/", origins[0].Address.ToString(), StringComparison.Ordinal)
            .Replace("http://origin-b:8080/", origins[1].Address.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(":8080", yarp);
        File.WriteAllText(Path.Combine(config, "yarp.json"), yarp);

        // The runtime stage: WORKDIR, ENV (what the chiseled base sets too), ENTRYPOINT, then compose's command.
        var runtime = file.Stages[1];
        Assert.Equal(["/app"], runtime.All("WORKDIR"));
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_RUNNING_IN_CONTAINER"] = "true",
            ["ASPNETCORE_HTTP_PORTS"] = "8080",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0", // wins over ASPNETCORE_HTTP_PORTS: nothing binds *:8080 here
        };
        foreach (var env in runtime.All("ENV"))
        {
            var (name, value) = (env[..env.IndexOf('=', StringComparison.Ordinal)], env[(env.IndexOf('=', StringComparison.Ordinal) + 1)..]);
            environment[name] = MapConfig(value, config);
        }

        var entrypoint = Dockerfile.ExecForm(runtime.All("ENTRYPOINT").Single());
        string[] command = [.. entrypoint[1..], .. ComposeCommand().Select(a => MapConfig(a, config))];
        await using var proxy = ProxyProcess.StartCommand(app, environment, entrypoint[0], command);
        var address = await proxy.WaitUntilListeningAsync(Bound);
        using var client = new HttpClient { BaseAddress = address };

        Assert.Equal("ready", await client.GetStringAsync("/_lb/readyz"));
        // The commit passed with --build-arg is the one the image reports (the context has no .git to read it from).
        var scrape = await MetricsScrape.TakeAsync(client);
        Assert.Equal(1, scrape.Single("lbproxy_build_info", ("commit", Commit)));
        var served = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 4; i++)
        {
            using var response = await client.GetAsync("/images/cat.jpg");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
            served.Add(response.Headers.GetValues("X-Origin-Id").Single());
        }

        Assert.Equal(2, served.Count);

        // An edit in the mounted directory, saved as editors and the kubelet do: a new file renamed over the old.
        var edited = Path.Combine(config, ".yarp.json.tmp");
        File.WriteAllText(edited, yarp.Replace("/images/{**path}", "/pics/{**path}", StringComparison.Ordinal));
        File.Move(edited, Path.Combine(config, "yarp.json"), overwrite: true);
        await Poll.UntilAsync(
            async () => (await client.GetAsync("/pics/cat.jpg")).StatusCode == HttpStatusCode.OK,
            Bound,
            "the edited route serves");
        using var old = await client.GetAsync("/images/cat.jpg");
        Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
    }

    /// <summary>The lbproxy service's <c>command:</c> in the compose file, as an exec-form list.</summary>
    private static string[] ComposeCommand()
    {
        var compose = File.ReadAllLines(DeployFiles.Compose);
        var service = Array.FindIndex(compose, static l => l == "  lbproxy:");
        var line = compose.Skip(service).First(static l => l.TrimStart().StartsWith("command:", StringComparison.Ordinal));
        return Dockerfile.ExecForm(line.Trim()["command:".Length..].Trim());
    }

    /// <summary>The container path /config/... as the temp directory that stands for the mount.</summary>
    private static string MapConfig(string value, string config) =>
        value.StartsWith("/config/", StringComparison.Ordinal) ? Path.Combine(config, value["/config/".Length..]) : value;

    /// <summary>
    /// COPY from the repository (bin/ and obj/ left out, as .dockerignore says) and each RUN, in order; /app is
    /// <paramref name="app"/>; <c>${NAME}</c> of an ARG is its value in <paramref name="buildArgs"/> (as
    /// <c>--build-arg</c> gives it), else its default.
    /// </summary>
    private static async Task BuildStageAsync(DockerStage stage, string workdir, string app, IReadOnlyDictionary<string, string> buildArgs)
    {
        var args = new Dictionary<string, string>(StringComparer.Ordinal);
        Assert.Equal(["/src"], stage.All("WORKDIR"));
        Directory.CreateDirectory(workdir);
        var runs = 0;
        foreach (var (keyword, arguments) in stage.Instructions)
        {
            var words = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (keyword == "COPY")
            {
                var destination = Path.Combine(workdir, words[^1]);
                foreach (var source in words[..^1])
                {
                    var from = Path.Combine(RepositoryRoot.Path, source);
                    if (Directory.Exists(from))
                    {
                        CopyTree(from, destination);
                    }
                    else
                    {
                        Directory.CreateDirectory(words[^1].EndsWith('/') ? destination : Path.GetDirectoryName(destination)!);
                        File.Copy(from, words[^1].EndsWith('/') ? Path.Combine(destination, Path.GetFileName(source)) : destination, overwrite: true);
                    }
                }
            }
            else if (keyword == "ARG")
            {
                var equals = arguments.IndexOf('=', StringComparison.Ordinal);
                var name = equals < 0 ? arguments : arguments[..equals];
                args[name] = buildArgs.TryGetValue(name, out var given) ? given : equals < 0 ? "" : arguments[(equals + 1)..];
            }
            else if (keyword == "RUN")
            {
                runs++;
                var command = words.Select(w => w == "/app" ? app : args.Aggregate(w, static (word, arg) => word.Replace($"${{{arg.Key}}}", arg.Value, StringComparison.Ordinal))).ToArray();
                var (exitCode, output) = await ExternalProgram.RunAsync(command[0], command[1..], workdir, TimeSpan.FromMinutes(4));
                Assert.True(exitCode == 0, $"RUN {arguments}\n{output}");
            }
        }

        Assert.Equal(2, runs); // restore, publish
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true); // COPY overwrites
        }

        foreach (var directory in Directory.GetDirectories(from))
        {
            var name = Path.GetFileName(directory);
            if (name is not ("bin" or "obj"))
            {
                CopyTree(directory, Path.Combine(to, name));
            }
        }
    }
}
