namespace LbProxy.Control;

/// <summary>One destination in <c>/_lb/status</c>: address, health as the active and passive checks see it, and requests in flight.</summary>
internal sealed record DestinationStatus(string Id, string Address, bool Available, string ActiveHealth, string PassiveHealth, int InFlight);
