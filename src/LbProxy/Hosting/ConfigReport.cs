using LbProxy.Configuration;

namespace LbProxy.Hosting;

/// <summary>Prints the outcome of a config check on stderr (errors) or stdout (success) and gives the exit code.</summary>
internal static class ConfigReport
{
    public static int Print(CommandLine command, IReadOnlyList<ConfigError> errors)
    {
        foreach (var error in errors)
        {
            Console.Error.WriteLine(error);
        }

        if (errors.Count > 0)
        {
            var verb = command.Kind == CommandKind.Validate ? "is invalid" : "cannot be applied; not starting";
            Console.Error.WriteLine($"config {verb}: {errors.Count} error(s)");
            return 1;
        }

        if (command.Kind == CommandKind.Validate)
        {
            Console.Out.WriteLine($"config ok: {System.IO.Path.GetFullPath(command.Path!)}");
        }

        return 0;
    }
}
