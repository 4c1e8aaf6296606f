namespace LbProxy.Edge;

/// <summary>
/// The one path normalizer of LbProxy. The control-plane split and the access-log filter both decide with it,
/// so that they can never disagree on whether a request is a control request. It answers one question: which
/// path would a backend that decodes and cleans paths (as most servers do) see? Every spelling of a path
/// gives the same canonical form: percent-encoding is decoded (also <c>%2F</c> and double encodings), <c>\</c>
/// counts as <c>/</c>, doubled slashes collapse, <c>.</c> and <c>..</c> segments are resolved, <c>;params</c>
/// of a segment are dropped (as Java servers do), trailing dots, spaces and tabs of a segment are dropped (as Windows
/// and IIS do: <c>/_lb./status</c> and <c>/_lb%20/status</c> are <c>/_lb/status</c> there), and a trailing slash is removed. Case is kept in the
/// canonical form and ignored by <see cref="IsUnder"/>, so that both callers compare the same way.
/// </summary>
/// <remarks>
/// Normalizing more than a backend would is the safe side: it can only make a look-alike path count as a
/// control path, answered by LbProxy with a 404; normalizing less could forward a control path.
/// </remarks>
internal static class PathNormalizer
{
    /// <summary>Double encoding (<c>%255F</c>) is decoded again, a few rounds at most.</summary>
    private const int MaxDecodeRounds = 4;

    /// <summary>
    /// The canonical form of <paramref name="path"/>. Allocation-free for a path that is already canonical
    /// (the common case): the same string is returned.
    /// </summary>
    public static string Normalize(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "/";
        }

        return IsCanonical(path) ? path : NormalizeSlow(path);
    }

    /// <summary>
    /// Whether canonical <paramref name="path"/> is <paramref name="prefix"/> or below it, on a segment boundary
    /// and ignoring case: <c>/_lb</c> is under <c>/_lb</c> and <c>/_lb/status</c> too, <c>/_lbx.jpg</c> is not.
    /// Both arguments must come from <see cref="Normalize"/>.
    /// </summary>
    public static bool IsUnder(string path, string prefix)
    {
        if (prefix.Length == 1)
        {
            return true; // "/" holds everything
        }

        return path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
            && (path.Length == prefix.Length || path[prefix.Length] == '/');
    }

    /// <summary>The rest of canonical <paramref name="path"/> below <paramref name="prefix"/>: "" or "/status".</summary>
    public static ReadOnlySpan<char> Below(string path, string prefix) =>
        prefix.Length == 1 ? path.AsSpan() : path.AsSpan(prefix.Length);

    /// <summary>
    /// True when nothing needs doing: starts with '/', no '%', '\' or ';', no empty, "." or ".." segment,
    /// no trailing slash.
    /// </summary>
    private static bool IsCanonical(string path)
    {
        if (path[0] != '/')
        {
            return false;
        }

        if (path.Length == 1)
        {
            return true;
        }

        if (path.AsSpan().IndexOfAny('%', '\\', ';') >= 0 || path[^1] is '/' or '.' or ' ' or '\t')
        {
            return false;
        }

        // Every segment starts after a '/': look at the first characters of each one.
        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] != '/')
            {
                continue;
            }

            var next = i + 1 < path.Length ? path[i + 1] : '/';
            if (next == '/' || (i > 0 && path[i - 1] is '.' or ' ' or '\t'))
            {
                return false;
            }

            if (next == '.')
            {
                var end = path.IndexOf('/', i + 1);
                var segment = end < 0 ? path.AsSpan(i + 1) : path.AsSpan(i + 1, end - i - 1);
                if (segment is "." or "..")
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static string NormalizeSlow(string path)
    {
        var decoded = path;
        for (var round = 0; round < MaxDecodeRounds && decoded.Contains('%', StringComparison.Ordinal); round++)
        {
            var next = Uri.UnescapeDataString(decoded);
            if (next.Length == decoded.Length)
            {
                break; // nothing left that decodes
            }

            decoded = next;
        }

        var segments = new List<string>();
        foreach (var raw in decoded.Replace('\\', '/').Split('/'))
        {
            var semicolon = raw.IndexOf(';', StringComparison.Ordinal);
            var segment = semicolon >= 0 ? raw[..semicolon] : raw;
            if (segment is not ("." or ".."))
            {
                // "..." and ". " fold to nothing on Windows, as "" does here.
                segment = segment.TrimEnd(['.', ' ', '\t']);
            }

            switch (segment)
            {
                case "" or ".":
                    break;
                case "..":
                    if (segments.Count > 0)
                    {
                        segments.RemoveAt(segments.Count - 1);
                    }

                    break;
                default:
                    segments.Add(segment);
                    break;
            }
        }

        return segments.Count == 0 ? "/" : "/" + string.Join('/', segments);
    }
}
