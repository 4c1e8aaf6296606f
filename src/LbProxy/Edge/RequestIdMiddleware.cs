namespace LbProxy.Edge;

/// <summary>
/// Gives every request an id: the one a trusted proxy sent in <c>X-Request-Id</c>, else a new one. It becomes
/// the request's <c>TraceIdentifier</c> (the access log's <c>{request_id}</c>), is sent upstream by the header
/// transforms and is returned on the response.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next, TrustedProxies trusted)
{
    private const int MaxLength = 128;

    public Task Invoke(HttpContext context)
    {
        var incoming = context.Request.Headers[WellKnownHeaders.RequestId];
        var id = incoming.Count == 1 && IsAcceptable(incoming[0]) && trusted.Contains(context.Connection.RemoteIpAddress)
            ? incoming[0]!
            : NewId();
        context.TraceIdentifier = id;
        context.Request.Headers[WellKnownHeaders.RequestId] = id;
        context.Response.Headers[WellKnownHeaders.RequestId] = id;
        return next(context);
    }

    /// <summary>
    /// 128 random bits as 32 lowercase hex digits, the look of <c>Guid.NewGuid().ToString("N")</c>, from
    /// <see cref="Random.Shared"/> (per-thread state, seeded from the OS once) rather than from the OS on every
    /// request: on Linux each <c>Guid.NewGuid</c> is a <c>getrandom</c> system call, visible in the profile. An id
    /// has to be unique, not secret.
    /// </summary>
    internal static string NewId()
    {
        Span<byte> bits = stackalloc byte[16];
        Random.Shared.NextBytes(bits);
        return Convert.ToHexStringLower(bits);
    }

    /// <summary>Visible ASCII only and not too long: an id ends up in logs and upstream headers.</summary>
    private static bool IsAcceptable(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }
}
