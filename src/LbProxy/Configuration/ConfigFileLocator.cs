namespace LbProxy.Configuration;

/// <summary>Where the config file is: <c>--config PATH</c>, else <c>LBPROXY_CONFIG</c>, else <c>./yarp.json</c>.</summary>
internal static class ConfigFileLocator
{
    public const string CommandLineKey = "config";
    public const string EnvironmentVariable = "LBPROXY_CONFIG";
    public const string DefaultFileName = "yarp.json";

    public static string Resolve(IConfiguration configuration)
    {
        var path = configuration[CommandLineKey];
        if (string.IsNullOrWhiteSpace(path))
        {
            path = Environment.GetEnvironmentVariable(EnvironmentVariable);
        }

        if (string.IsNullOrWhiteSpace(path))
        {
            path = DefaultFileName;
        }

        return Path.GetFullPath(path);
    }
}
