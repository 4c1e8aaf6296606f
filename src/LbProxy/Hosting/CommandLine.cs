namespace LbProxy.Hosting;

internal enum CommandKind
{
    Serve,
    Validate,
    Origin,
    Usage,
}

/// <summary>
/// <c>LbProxy [--config PATH] [--urls URLS]</c> serves; <c>LbProxy validate PATH</c> checks a file like
/// <c>nginx -t</c>; <c>LbProxy origin --urls URL [--id ID]</c> runs one sample image origin.
/// </summary>
internal sealed record CommandLine(CommandKind Kind, string[] HostArgs, string? Path = null)
{
    public const string UsageText =
        """
        usage: LbProxy [--config PATH] [--urls URLS]     serve (default config: ./yarp.json or $LBPROXY_CONFIG)
               LbProxy validate PATH                     check a config file; exit 0 if it would be applied
               LbProxy origin [--urls URL] [--id ID] [--workers N --service-ms avif=MS,webp=MS,original=MS]
                                                     run one sample image origin (a converter with N workers)
        """;

    public static CommandLine Parse(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith('-'))
        {
            return new CommandLine(CommandKind.Serve, args);
        }

        return args[0] switch
        {
            // validate prints its own report; YARP's logged copy of the same errors would only repeat it.
            "validate" when args.Length >= 2 => new CommandLine(CommandKind.Validate,
                [.. args[2..], "--config", args[1], "--LbProxy:Logging:Level", "Fatal"], args[1]),
            "origin" => new CommandLine(CommandKind.Origin, args[1..]),
            _ => new CommandLine(CommandKind.Usage, args),
        };
    }
}
