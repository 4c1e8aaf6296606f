namespace LbProxy.Hosting;

internal enum CommandKind
{
    Serve,
    Validate,
    Origin,

    /// <summary><c>--help</c>, <c>-h</c> or <c>help</c>: the usage on stdout, exit 0.</summary>
    Help,

    /// <summary>Anything not understood: the usage and the reason on stderr, exit 2, nothing started.</summary>
    Usage,
}

/// <summary>
/// <c>LbProxy [--config PATH] [--urls URLS]</c> serves; <c>LbProxy validate PATH</c> checks a file like
/// <c>nginx -t</c>; <c>LbProxy origin --urls URL [--id ID]</c> runs one sample image origin. Options are the host's
/// (<c>--config</c>, <c>--urls</c>, <c>--environment</c>, <c>--contentRoot</c>) or a configuration key with its
/// section (<c>--LbProxy:Control:Token T</c>); any other flag (<c>--help</c>, a typo) is not taken for a
/// configuration key of its own, which the host would accept silently and serve with.
/// </summary>
internal sealed record CommandLine(CommandKind Kind, string[] HostArgs, string? Path = null, string? Error = null)
{
    public const string UsageText =
        """
        usage: LbProxy [--config PATH] [--urls URLS] [--SECTION:KEY VALUE ...]
                                                   serve (default config: ./yarp.json or $LBPROXY_CONFIG)
               LbProxy validate PATH               check a config file; exit 0 if it would be applied
               LbProxy origin [--urls URL] [--id ID] [--workers N --service-ms avif=MS,webp=MS,original=MS]
                                                   run one sample image origin (a converter with N workers)
               LbProxy --help                      this text
        """;

    /// <summary>The host's own options, besides configuration keys (which name a section: <c>LbProxy:...</c>).</summary>
    private static readonly string[] HostOptions = ["config", "urls", "environment", "contentRoot", "applicationName"];

    private static readonly string[] HelpWords = ["--help", "-h", "-?", "help"];

    public static CommandLine Parse(string[] args)
    {
        if (Array.Exists(args, static a => Array.Exists(HelpWords, h => string.Equals(a, h, StringComparison.OrdinalIgnoreCase))))
        {
            // "origin --help" too: nothing starts.
            return new CommandLine(CommandKind.Help, args);
        }

        if (args.Length == 0 || args[0].StartsWith('-'))
        {
            return Checked(new CommandLine(CommandKind.Serve, args), args);
        }

        return args[0] switch
        {
            // validate prints its own report; YARP's logged copy of the same errors would only repeat it.
            "validate" when args.Length >= 2 && !args[1].StartsWith('-') => Checked(new CommandLine(CommandKind.Validate,
                [.. args[2..], "--config", args[1], "--LbProxy:Logging:Level", "Fatal"], args[1]), args[2..]),
            "validate" => new CommandLine(CommandKind.Usage, args, Error: "validate needs the PATH of a config file"),
            "origin" => new CommandLine(CommandKind.Origin, args[1..]),
            _ => new CommandLine(CommandKind.Usage, args, Error: $"unknown command '{args[0]}'"),
        };
    }

    /// <summary>The command when every option is one LbProxy knows; else the usage, naming the first that is not.</summary>
    private static CommandLine Checked(CommandLine command, string[] options)
    {
        for (var i = 0; i < options.Length; i++)
        {
            var option = options[i];
            if (!option.StartsWith("--", StringComparison.Ordinal))
            {
                return new CommandLine(CommandKind.Usage, options, Error: $"unexpected argument '{option}'");
            }

            var name = option[2..];
            var equals = name.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                name = name[..equals];
            }
            else
            {
                i++; // the value
                if (i >= options.Length)
                {
                    return new CommandLine(CommandKind.Usage, options, Error: $"option '{option}' needs a value");
                }
            }

            var known = name.Contains(':', StringComparison.Ordinal) && !name.StartsWith(':') && !name.EndsWith(':')
                || Array.Exists(HostOptions, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
            if (!known)
            {
                return new CommandLine(CommandKind.Usage, options, Error: $"unknown option '{option}'");
            }
        }

        return command;
    }
}
