using Yarp.ReverseProxy.Configuration;

namespace LbProxy.Configuration;

/// <summary>A stage's own check of the whole config, run by <see cref="ProxyConfigValidator"/>.</summary>
internal interface IConfigCheck
{
    void Check(IProxyConfig config, LbProxyConfigFile file, List<ConfigError> errors);
}
