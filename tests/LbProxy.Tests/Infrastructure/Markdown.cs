using System.Text;
using System.Text.RegularExpressions;

namespace LbProxy.Tests.Infrastructure;

/// <summary>
/// What the docs tests read of a Markdown page: its headings' anchors as GitHub makes them, its links, and the command
/// lines of its <c>```sh</c> blocks and of its inline code. Fenced code is never read as headings or links.
/// </summary>
internal static partial class Markdown
{
    /// <summary>One line of a page: its 1-based number and its text.</summary>
    internal readonly record struct Line(int Number, string Text);

    /// <summary>GitHub's anchor of a heading: lower case, punctuation and symbols dropped (not - and _), each space a dash.</summary>
    public static string Anchor(string heading) =>
        NotAnchorChar().Replace(heading.Trim().ToLowerInvariant(), string.Empty).Replace(' ', '-');

    /// <summary>The anchors of every heading outside fenced code; a repeated heading gets -1, -2, ... as on GitHub.</summary>
    public static IReadOnlySet<string> Anchors(string text)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in Prose(text))
        {
            var heading = Heading().Match(line.Text);
            if (!heading.Success)
            {
                continue;
            }

            var anchor = Anchor(heading.Groups[1].Value);
            var unique = anchor;
            for (var n = 1; !anchors.Add(unique); n++)
            {
                unique = $"{anchor}-{n}";
            }
        }

        return anchors;
    }

    /// <summary>The targets of every link and image outside code (fenced or inline), with their line.</summary>
    public static IEnumerable<(Line Line, string Target)> Links(string text)
    {
        foreach (var line in Prose(text))
        {
            foreach (Match link in Link().Matches(InlineCode().Replace(line.Text, "code")))
            {
                yield return (line, link.Groups[1].Value);
            }
        }
    }

    /// <summary>The command lines of <c>```sh</c> blocks: continuation lines joined, comments and comment-only lines left out.</summary>
    public static IEnumerable<(Line Line, string Command)> ShellCommands(string text)
    {
        string? fence = null;
        var pending = new StringBuilder();
        var start = 0;
        foreach (var line in Lines(text))
        {
            var trimmed = line.Text.TrimStart();
            if (trimmed.StartsWith("```", StringComparison.Ordinal))
            {
                fence = fence is null ? trimmed[3..].Trim() : null;
                continue;
            }

            if (fence != "sh")
            {
                continue;
            }

            if (pending.Length == 0)
            {
                start = line.Number;
            }

            var code = WithoutComment(line.Text).TrimEnd();
            if (code.EndsWith('\\'))
            {
                pending.Append(code[..^1]).Append(' ');
                continue;
            }

            pending.Append(code);
            var command = Spaces().Replace(pending.ToString(), " ").Trim();
            pending.Clear();
            if (command.Length > 0)
            {
                yield return (new Line(start, line.Text), command);
            }
        }
    }

    /// <summary>Inline code spans outside fenced code, with their line.</summary>
    public static IEnumerable<(Line Line, string Code)> InlineCodes(string text)
    {
        foreach (var line in Prose(text))
        {
            foreach (Match code in InlineCode().Matches(line.Text))
            {
                yield return (line, code.Groups[1].Value);
            }
        }
    }

    /// <summary>A command line split into words as a shell would, for the simple lines of the docs: quotes kept together, removed.</summary>
    public static IReadOnlyList<string> Words(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in command)
        {
            if (quote is not null)
            {
                if (c == quote)
                {
                    quote = null;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    /// <summary>The lines outside fenced code blocks.</summary>
    private static IEnumerable<Line> Prose(string text)
    {
        var fenced = false;
        foreach (var line in Lines(text))
        {
            if (line.Text.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                continue;
            }

            if (!fenced)
            {
                yield return line;
            }
        }
    }

    private static IEnumerable<Line> Lines(string text) =>
        text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(static (line, i) => new Line(i + 1, line));

    /// <summary>The line up to a <c>#</c> that starts a shell comment: at the start or after a blank, outside quotes.</summary>
    private static string WithoutComment(string line)
    {
        char? quote = null;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote is not null)
            {
                quote = c == quote ? null : quote;
            }
            else if (c is '\'' or '"')
            {
                quote = c;
            }
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                return line[..i];
            }
        }

        return line;
    }

    [GeneratedRegex(@"^#{1,6} +(.+?) *$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"!?\[[^\]]*\]\(([^()\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex Link();

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"[^\p{L}\p{Mn}\p{Nd}\p{Pc}\- ]")]
    private static partial Regex NotAnchorChar();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
