using LbProxy.AccessLog;
using LbProxy.Configuration;
using LbProxy.Hosting;

var command = CommandLine.Parse(args);   // serve | validate PATH | origin
if (command.Kind is CommandKind.Origin) { return await OriginCommand.RunAsync(command.HostArgs); }
if (command.Kind is CommandKind.Usage) { Console.Error.WriteLine(CommandLine.UsageText); return 2; }
try
{
    var builder = WebApplication.CreateBuilder(command.HostArgs);
    builder.AddLbProxy();                // config file, logging, control, YARP + edge defaults, demo origins
    var app = builder.Build();
    var errors = await app.ValidateLbProxyConfigAsync();   // the same check for `validate` and for a start
    if (command.Kind is CommandKind.Validate || errors.Count > 0) { return ConfigReport.Print(command, errors); }
    app.UseLbProxyAccessLog();           // one line per request, control paths filtered
    app.MapLbProxy();                    // /_lb/* first, then YARP: routing → load balancing → health → forwarding
    await app.RunAsync();
    return 0;
}
catch (ConfigFileException e) { return ConfigReport.Print(command, e.Errors); }
