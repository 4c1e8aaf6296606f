namespace LbProxy.AccessLog;

/// <summary>One piece of a compiled template: a placeholder, or literal text when <see cref="Field"/> is Literal.</summary>
internal readonly record struct TemplateSegment(AccessLogField Field, string Literal);
