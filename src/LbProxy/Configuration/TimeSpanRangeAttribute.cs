using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace LbProxy.Configuration;

/// <summary>
/// A <see cref="TimeSpan"/> option within [<paramref name="minimum"/>, <paramref name="maximum"/>] (constant
/// <c>c</c>-format strings, as in the config file). <c>[TimeSpanRange(...)]</c> says the same, but its
/// constructor converts through a TypeConverter found by reflection, which the native build cannot keep.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class TimeSpanRangeAttribute(string minimum, string maximum) : ValidationAttribute
{
    public TimeSpan Minimum { get; } = TimeSpan.ParseExact(minimum, "c", CultureInfo.InvariantCulture);

    public TimeSpan Maximum { get; } = TimeSpan.ParseExact(maximum, "c", CultureInfo.InvariantCulture);

    /// <summary>No value is valid, as with <see cref="RangeAttribute"/>: a default applies.</summary>
    public override bool IsValid(object? value) => value is not TimeSpan span || (span >= Minimum && span <= Maximum);

    public override string FormatErrorMessage(string name) =>
        string.Create(CultureInfo.InvariantCulture, $"The field {name} must be between {Minimum:c} and {Maximum:c}.");
}
