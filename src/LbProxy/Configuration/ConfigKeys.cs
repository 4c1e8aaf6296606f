namespace LbProxy.Configuration;

/// <summary>The config keys that checks name in their errors, so that each error is placed in the file.</summary>
internal static class ConfigKeys
{
    public const string ReverseProxy = "ReverseProxy";
    public const string Routes = "ReverseProxy:Routes";
    public const string Clusters = "ReverseProxy:Clusters";

    public static string Route(string routeId) => $"{Routes}:{routeId}";

    public static string Cluster(string clusterId) => $"{Clusters}:{clusterId}";

    public static string Destination(string clusterId, string destinationId) => $"{Cluster(clusterId)}:Destinations:{destinationId}";
}
