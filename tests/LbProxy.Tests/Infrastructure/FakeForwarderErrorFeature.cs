using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Tests.Infrastructure;

/// <summary>What YARP sets on a request it failed to forward (its own implementation is internal).</summary>
internal sealed class FakeForwarderErrorFeature(ForwarderError error, Exception? exception = null) : IForwarderErrorFeature
{
    public ForwarderError Error { get; } = error;

    public Exception? Exception { get; } = exception;
}
