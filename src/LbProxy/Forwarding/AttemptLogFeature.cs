namespace LbProxy.Forwarding;

/// <summary>A proxied request's attempts, counted only while Debug is on: set by the request's debug line, read by each attempt's.</summary>
internal sealed class AttemptLogFeature
{
    public int Attempts { get; set; }
}
