using LbProxy.Configuration;

namespace LbProxy.Hosting;

/// <summary>Prints the outcome of a config check, or why the proxy could not start, and gives the exit code.</summary>
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

    /// <summary>
    /// An address that cannot be bound (the proxy's own, or a demo origin's) is an operator's problem, not a
    /// crash: one line naming it, exit code 1.
    /// </summary>
    public static bool TryPrintBindFailure(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is IOException)
            {
                Console.Error.WriteLine($"cannot start: {e.Message}");
                return true;
            }
        }

        return false;
    }
}
