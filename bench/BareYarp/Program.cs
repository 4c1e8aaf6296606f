// The smallest YARP app: routes and clusters from the configuration (bench.py passes them on the command line),
// YARP's defaults for everything else. The bench's reference for what YARP itself costs.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
var app = builder.Build();
app.MapReverseProxy();
app.Run();
