namespace LbProxy.Control;

/// <summary>One cluster in <c>/_lb/status</c>: its destinations and the requests in flight to it.</summary>
internal sealed record ClusterStatus(string Id, int InFlight, IReadOnlyList<DestinationStatus> Destinations);
