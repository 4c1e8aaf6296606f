using System.Text;
using LbProxy.Tests.Infrastructure;

namespace LbProxy.Tests.Functional;

/// <summary>
/// Every byte 0x00–0xFF, through a raw socket, inside a header value and inside a header name. The rule: a control
/// byte other than HTAB in a value, or a byte that is no token character in a name, is a 400 and nothing of that
/// request reaches the origin; any other byte, 0x80–0xFF in a value included, is forwarded unchanged, byte for byte.
/// </summary>
public sealed class HeaderBytesTests : IAsyncLifetime
{
    private const string TokenPunctuation = "!#$%&'*+-.^_`|~";

    private RawOrigin _origin = null!;
    private TestProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        _origin = RawOrigin.Start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        _proxy = await TestProxy.StartAsync(new TestConfig()
            .Route("everything", "raw", "/{**path}")
            .Cluster("raw", [("raw", _origin.Address)])
            .ToJson());
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task EveryByte_InAValue_IsRefusedOrForwardedUnchanged_ByTheRule()
    {
        var wrong = new List<string>();
        for (var b = 0; b <= 0xFF; b++)
        {
            var marker = $"/value-{b:x2}";
            var field = $"X-Probe: a{(char)b}b";
            var forwarded = b == 0x09 || b is >= 0x20 and not 0x7F;
            await ProbeAsync(marker, field, forwarded, wrong);
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public async Task EveryByte_InAName_IsRefusedOrForwardedUnchanged_ByTheRule()
    {
        var wrong = new List<string>();
        for (var b = 0; b <= 0xFF; b++)
        {
            var marker = $"/name-{b:x2}";
            var field = $"X-P{(char)b}robe: v";
            // A colon ends the name: `X-P:robe: v` is the header X-P with the value `robe: v`, an ordinary header.
            var forwarded = char.IsAsciiLetterOrDigit((char)b) || TokenPunctuation.Contains((char)b, StringComparison.Ordinal) || b == ':';
            await ProbeAsync(marker, field, forwarded, wrong, b == ':' ? "X-P: robe: v" : null);
        }

        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public async Task ControlByte_HidingASecondHeader_NeverReachesTheOrigin()
    {
        // The desync of the issue: an origin that reads \x04 as a line break would see a Transfer-Encoding.
        var response = await RawHttp.SendAsync(_proxy.Address,
            "POST /desync HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\nX: X\x04Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");

        Assert.Equal(400, response.StatusCode);
        Assert.DoesNotContain(_origin.Heads, static head => head.Contains("/desync", StringComparison.Ordinal));
    }

    private async Task ProbeAsync(string marker, string field, bool forwarded, List<string> wrong, string? expectedLine = null)
    {
        var response = await RawHttp.SendAsync(_proxy.Address, $"GET {marker} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{field}\r\n\r\n");
        var head = FindHead(marker);
        var shown = Escape(field);
        if (forwarded)
        {
            if (response.StatusCode != 200)
            {
                wrong.Add($"{shown}: expected 200, got {response.StatusCode}");
            }
            else if (head is null || !head.Contains("\r\n" + (expectedLine ?? field) + "\r\n", StringComparison.Ordinal))
            {
                wrong.Add($"{shown}: not forwarded unchanged; the origin read {Escape(head ?? "nothing")}");
            }
        }
        else
        {
            if (response.StatusCode != 400)
            {
                wrong.Add($"{shown}: expected 400, got {response.StatusCode}");
            }

            if (head is not null)
            {
                wrong.Add($"{shown}: reached the origin: {Escape(head)}");
            }
        }
    }

    private string? FindHead(string marker)
    {
        foreach (var head in _origin.Heads)
        {
            if (head.StartsWith($"GET {marker} ", StringComparison.Ordinal))
            {
                return head;
            }
        }

        return null;
    }

    private static string Escape(string text)
    {
        var escaped = new StringBuilder();
        foreach (var c in text)
        {
            escaped.Append(c is < ' ' or > '~' ? $"\\x{(int)c:x2}" : c.ToString());
        }

        return escaped.ToString();
    }
}
