using System.Reflection;
using System.Text;

namespace LbProxy.Diagnostics;

/// <summary>
/// The census's owner names, as a reader of the code would write them: <c>PerRequestLogger.UpdateTimestamp</c>, and
/// <c>PerRequestLogger.TimestampLoopAsync awaiting Task.Delay</c> for an async method's delay. The compiler's names
/// are taken apart: a lambda's <c>&lt;Method&gt;b__2_0</c> in a closure class <c>&lt;&gt;c</c> is "Type.Method (lambda)",
/// a local function's <c>&lt;Method&gt;g__Local|3_0</c> is "Type.Method.Local", a state machine's
/// <c>&lt;Method&gt;d__5</c> is "Type.Method". Type names without their namespace, generic arity or nesting marks.
/// </summary>
internal static class OwnerNames
{
    public static string Of(RuntimeCensus.Via via, object? representative) => via switch
    {
        RuntimeCensus.Via.Other => "(other owners, beyond the census's bound)",
        RuntimeCensus.Via.Delay => Awaiting(representative, "Task.Delay"),
        RuntimeCensus.Via.TaskTimeout => Awaiting(representative, "a task's timeout"),
        RuntimeCensus.Via.PeriodicTimer => Awaiting(representative, "PeriodicTimer"),
        RuntimeCensus.Via.Item => representative is null ? "(unknown)" : TypeName(representative.GetType()),
        _ => representative is Delegate callback ? Method(callback.Method) : "(no callback)",
    };

    private static string Awaiting(object? continuation, string what) => continuation switch
    {
        null => what + " (nobody awaiting)",
        Delegate action => Method(action.Method) + " awaiting " + what,
        _ when RuntimeCensus.IsStateMachineBox(continuation.GetType()) => StateMachine(continuation.GetType().GetGenericArguments()[^1]) + " awaiting " + what,
        _ => TypeName(continuation.GetType()) + " awaiting " + what,
    };

    /// <summary>An async method's name from its state machine type, <c>&lt;Method&gt;d__N</c> nested in the declaring type.</summary>
    internal static string StateMachine(Type machine)
    {
        var method = Between(machine.Name, '<', '>');
        return machine.DeclaringType is { } declaring && method is not null ? TypeName(declaring) + "." + method : TypeName(machine);
    }

    internal static string Method(MethodInfo method)
    {
        var type = method.DeclaringType;
        var name = method.Name;
        if (name.StartsWith('<'))
        {
            var outer = Between(name, '<', '>') ?? name;
            var local = name.IndexOf(">g__", StringComparison.Ordinal) is var g and >= 0 ? name[(g + 4)..].Split('|')[0] : null;
            name = local is not null ? outer + "." + local : outer + " (lambda)";
        }

        return type is null ? name : TypeName(type) + "." + name;
    }

    /// <summary>The type as written in code: nesting by dots, no namespace, no arity; compiler-generated closures are their declaring type.</summary>
    internal static string TypeName(Type type)
    {
        while (type.DeclaringType is { } declaring && type.Name.StartsWith('<'))
        {
            type = declaring;
        }

        var text = new StringBuilder();
        for (var current = type; current is not null; current = current.DeclaringType)
        {
            var name = current.Name;
            var tick = name.IndexOf('`', StringComparison.Ordinal);
            text.Insert(0, (tick >= 0 ? name[..tick] : name) + (text.Length > 0 ? "." : string.Empty));
        }

        return text.ToString();
    }

    private static string? Between(string text, char open, char close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal);
        var end = text.IndexOf(close, StringComparison.Ordinal);
        return start >= 0 && end > start + 1 ? text[(start + 1)..end] : null;
    }
}
