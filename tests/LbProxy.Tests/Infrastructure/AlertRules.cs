using System.Text.RegularExpressions;

namespace LbProxy.Tests.Infrastructure;

/// <summary>The alerting rules of deploy/prometheus/rules, read from their text (one <c>- alert:</c> block each).</summary>
internal static partial class AlertRules
{
    public static IReadOnlyList<AlertRule> All { get; } = [.. DeployFiles.RuleFiles.SelectMany(Read)];

    private static IEnumerable<AlertRule> Read(string file)
    {
        var text = File.ReadAllText(file);
        var starts = AlertLine().Matches(text);
        for (var i = 0; i < starts.Count; i++)
        {
            var end = i + 1 < starts.Count ? starts[i + 1].Index : text.Length;
            var block = text[starts[i].Index..end];
            var runbook = RunbookLine().Match(block);
            yield return new AlertRule(
                Path.GetFileName(file),
                starts[i].Groups[1].Value,
                block,
                runbook.Success ? runbook.Groups[1].Value : null);
        }
    }

    [GeneratedRegex(@"^\s*- alert:\s*(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex AlertLine();

    [GeneratedRegex(@"^\s*runbook_url:\s*""?([^""\s]+)""?\s*$", RegexOptions.Multiline)]
    private static partial Regex RunbookLine();
}

/// <summary>One alerting rule: the file it is in, its name, its YAML block and its runbook URL.</summary>
internal sealed record AlertRule(string File, string Name, string Block, string? RunbookUrl);
