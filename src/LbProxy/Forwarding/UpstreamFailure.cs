using System.Net.Sockets;
using Yarp.ReverseProxy.Forwarder;

namespace LbProxy.Forwarding;

/// <summary>What a failed forward cost the destination: whether any byte of the request reached it.</summary>
internal static class UpstreamFailure
{
    /// <summary>
    /// True when the forward failed while the connection to the destination was being made: refused, reset
    /// during the connect, timed out (<see cref="ConnectTimedOut"/>), no address, or a failed TLS handshake. YARP reports these as
    /// <see cref="ForwarderError.Request"/> with the <see cref="HttpRequestException"/> of the upstream client,
    /// whose <see cref="HttpRequestException.HttpRequestError"/> names the connection phase (with the
    /// <see cref="SocketException"/> inside). Not a failure after the request was sent (a reset or an early end
    /// of the response, a timeout): the origin may have seen and worked on those.
    /// </summary>
    public static bool NothingSent(IForwarderErrorFeature? error)
    {
        if (ConnectTimedOut(error))
        {
            return true;
        }

        if (error is not { Error: ForwarderError.Request })
        {
            return false;
        }

        for (var exception = error.Exception; exception is not null; exception = exception.InnerException)
        {
            switch (exception)
            {
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }:
                    return true;
                case HttpRequestException { HttpRequestError: not HttpRequestError.Unknown }:
                    return false; // the upstream client says which phase failed, and it was a later one
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                    return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when the connection to the destination was not made within the connect timeout
    /// (<c>LbProxy:Forwarding:ConnectTimeout</c>): an origin stopped, or one whose accept queue is full. YARP reports
    /// it as <see cref="ForwarderError.RequestTimedOut"/>, as a response that did not come; the upstream client's
    /// exception tells them apart: a connect timeout is an <see cref="OperationCanceledException"/> around a
    /// <see cref="TimeoutException"/> (SocketsHttpHandler's own, for its <c>ConnectTimeout</c>), while YARP's activity
    /// timeout cancels the request's token and leaves no <see cref="TimeoutException"/>.
    /// </summary>
    public static bool ConnectTimedOut(IForwarderErrorFeature? error)
    {
        if (error is not { Error: ForwarderError.RequestTimedOut })
        {
            return false;
        }

        for (var exception = error.Exception; exception is not null; exception = exception.InnerException)
        {
            if (exception is TimeoutException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when the request was sent and no response headers came within the activity timeout: the destination
    /// accepted the connection (or its kernel did, for a stopped process) and went silent.
    /// </summary>
    public static bool ResponseTimedOut(IForwarderErrorFeature? error) =>
        error is { Error: ForwarderError.RequestTimedOut } && !ConnectTimedOut(error);

    /// <summary>
    /// True when the connect failed for a reason of this machine, not of the destination: no local port or
    /// buffer left, too many open sockets. Such a failure says nothing about the origin; taking the destination
    /// out for it would, under port exhaustion, take every destination of every cluster out at once.
    /// </summary>
    public static bool LocalFailure(IForwarderErrorFeature? error)
    {
        for (var exception = error?.Exception; exception is not null; exception = exception.InnerException)
        {
            if (exception is SocketException { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.AddressAlreadyInUse or SocketError.NoBufferSpaceAvailable or SocketError.TooManyOpenSockets })
            {
                return true;
            }
        }

        return false;
    }
}
