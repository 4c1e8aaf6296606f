using LbProxy.Configuration;
using LbProxy.Hosting;

var command = CommandLine.Parse(args);   // serve | validate PATH | origin
if (command.Kind is CommandKind.Origin) { return await OriginCommand.RunAsync(command.HostArgs); }
if (command.Kind is CommandKind.Usage) { Console.Error.WriteLine(CommandLine.UsageText); return 2; }
// Environment-only runtime settings and the fd limit raised, before any socket; a limit too low to run is said, not aborted on.
if (RuntimeDefaults.Apply() is { } refusal) { Console.Error.WriteLine(refusal); return FileDescriptorLimit.ExitTooLow; }
try
{
    var builder = WebApplication.CreateBuilder(command.HostArgs);
    builder.AddLbProxy();                // config file, logging, every stage's options and services
    var app = builder.Build();
    var errors = await app.LoadAndApplyLbProxyConfigAsync();   // the same check for `validate`, a start and a reload
    if (command.Kind is CommandKind.Validate || errors.Count > 0) { return ConfigReport.Print(command, errors); }
    app.UseLbProxy();                    // access log → guard → request id → control split → routing → YARP's stages
    await app.RunAsync();
    return 0;
}
catch (ConfigFileException e) { return ConfigReport.Print(command, e.Errors); }
catch (Exception e) when (ConfigReport.TryPrintBindFailure(e)) { return 1; }
