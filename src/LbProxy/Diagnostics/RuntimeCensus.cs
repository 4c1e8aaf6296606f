using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace LbProxy.Diagnostics;

/// <summary>
/// The .NET counterpart of pprof's goroutine view grouped by stack: the live timers of this process grouped by the
/// code that owns them, and the thread-pool queue grouped by work item. A timer's owner is its callback's declaring
/// type and method; for a timer behind <c>Task.Delay</c> (or a <c>PeriodicTimer</c>, or a task's timeout) it is the
/// async method awaiting it: the delay task's continuation is the state machine's box, whose type argument is the
/// compiler's <c>&lt;Method&gt;d__N</c> nested in the declaring type. Read in-process from the runtime's own timer
/// queues (<c>System.Threading.TimerQueue.Instances</c>, each a linked list of <c>TimerQueueTimer</c>), the way
/// <c>dotnet-dump</c>'s timer listing reads a dump. Chosen by measurement over a ClrMD snapshot of the own process
/// (a suspended copy of the whole heap, hundreds of milliseconds and tens of MB) and EventPipe (which sees timers
/// created and fired, not the live set): on this 2-core machine, loaded, 110,000 timers take 4–12 ms warm and about
/// 50 ms cold (docs/leaks.md). Each queue's lock is held only while its list is walked and each timer's callback and
/// state copied out; they are then counted by an identity key (the callback's code pointers, the continuation's
/// type) and names resolved once per group, with no lock held. Nothing
/// runs unless asked (the endpoint, or the watchdog when it flags timers). The runtime's private fields are reached
/// by <see cref="UnsafeAccessorAttribute"/> (no reflection cost, seen by the trimmer) where their types allow, and by
/// reflection on the three fields typed <c>TimerQueueTimer</c>, which an accessor cannot return; in a runtime whose
/// fields differ (the native build's may) the census answers "not available" with the reason, never throws.
/// </summary>
internal static class RuntimeCensus
{
    /// <summary>At most this many timers are walked per census, and this many distinct owners kept (the rest are "(other)").</summary>
    public const int MaxTimers = 2_000_000;
    public const int MaxOwners = 10_000;
    public const int MaxQueueItems = 200_000;

    private const string TimerQueueName = "System.Threading.TimerQueue, System.Private.CoreLib";
    private const string TimerQueueTimerName = "System.Threading.TimerQueueTimer, System.Private.CoreLib";
    private const string AwaitTaskContinuationName = "System.Threading.Tasks.AwaitTaskContinuation, System.Private.CoreLib";
    private const string ThreadPoolName = "System.Threading.ThreadPool, System.Private.CoreLib";
    private const BindingFlags Private = BindingFlags.Instance | BindingFlags.NonPublic;

    private static readonly Lock Gate = new();
    private static readonly Lazy<TimerFields?> Fields = new(TimerFields.Find);
    private static string? _unavailable;

    /// <summary>Why the census cannot run in this runtime, or null when it can.</summary>
    public static string? Unavailable => Fields.Value is null ? _unavailable ?? "not available in this runtime" : null;

    /// <summary>
    /// Counts the live timers by owner, largest first, keeping the first <paramref name="top"/> owners. One census at a
    /// time: a second caller waits for the first to finish.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static TimerCensus TakeTimers(int top)
    {
        var fields = Fields.Value;
        if (fields is null)
        {
            return new TimerCensus(false, Unavailable, 0, 0, false, 0, 0, []);
        }

        using var scope = Gate.EnterScope();
        var started = Stopwatch.GetTimestamp();
        var groups = new Dictionary<OwnerKey, Group>();
        long walked = 0;
        var truncated = false;
        double longestHold = 0;
        // Under a queue's lock only the walk and a copy of each timer's callback and state: grouping (a dictionary
        // lookup, a task's continuation read) waits until the lock is released, so that timers of that queue are held
        // up for the walk alone (measured with 100,000 timers on one queue: 12-19 ms held with grouping inside).
        // Sized for every live timer now (16 bytes each: 1.6 MB for 100,000, on demand only), so that it rarely grows under a lock.
        var copied = ArrayPool<TimerOwner>.Shared.Rent((int)Math.Clamp(Timer.ActiveCount + 1024, 4096, MaxTimers));
        try
        {
            foreach (var queue in Accessors.Instances(null))
            {
                var length = 0;
                var held = Stopwatch.GetTimestamp();
                using (Accessors.SharedLock(queue).EnterScope())
                {
                    for (var list = 0; list < 2 && !truncated; list++)
                    {
                        for (var timer = (list == 0 ? fields.Short : fields.Long).GetValue(queue); timer is not null; timer = fields.Next.GetValue(timer))
                        {
                            if (++walked > MaxTimers)
                            {
                                truncated = true;
                                walked--;
                                break;
                            }

                            if (length == copied.Length)
                            {
                                var larger = ArrayPool<TimerOwner>.Shared.Rent(copied.Length * 2);
                                copied.AsSpan().CopyTo(larger);
                                ArrayPool<TimerOwner>.Shared.Return(copied, clearArray: true);
                                copied = larger;
                            }

                            copied[length++] = new TimerOwner(Accessors.Callback(timer), Accessors.State(timer));
                        }
                    }
                }

                longestHold = Math.Max(longestHold, Stopwatch.GetElapsedTime(held).TotalMilliseconds);
                foreach (var owner in copied.AsSpan(0, length))
                {
                    Count(groups, owner.Callback, owner.State);
                }

                copied.AsSpan(0, length).Clear();
            }
        }
        catch (Exception e) when (e is MissingMemberException or NotSupportedException or InvalidCastException or BadImageFormatException)
        {
            _unavailable = "not available in this runtime: " + e.Message;
            return new TimerCensus(false, _unavailable, 0, 0, false, 0, 0, []);
        }
        finally
        {
            ArrayPool<TimerOwner>.Shared.Return(copied, clearArray: true);
        }

        var owners = Resolve(groups, top);
        return new TimerCensus(true, null, Timer.ActiveCount, walked, truncated, Stopwatch.GetElapsedTime(started).TotalMilliseconds, longestHold, owners);
    }

    /// <summary>The work items waiting in the thread pool's queues, grouped by what they run, at most <see cref="MaxQueueItems"/> read.</summary>
    public static QueueCensus TakeQueue(int top)
    {
        using var scope = Gate.EnterScope();
        var started = Stopwatch.GetTimestamp();
        var groups = new Dictionary<OwnerKey, Group>();
        long read = 0;
        var truncated = false;
        try
        {
            foreach (var item in Accessors.QueuedWorkItems(null))
            {
                if (++read > MaxQueueItems)
                {
                    truncated = true;
                    read--;
                    break;
                }

                switch (item)
                {
                    case Task task when Accessors.Action(task) is { } action:
                        Count(groups, action, null);
                        break;
                    default:
                        Add(groups, new OwnerKey(0, 0, item.GetType(), Via.Item), item);
                        break;
                }
            }
        }
        catch (Exception e) when (e is MissingMemberException or NotSupportedException or InvalidCastException or BadImageFormatException)
        {
            return new QueueCensus(false, "not available in this runtime: " + e.Message, ThreadPool.PendingWorkItemCount, 0, false, 0, []);
        }

        return new QueueCensus(true, null, ThreadPool.PendingWorkItemCount, read, truncated, Stopwatch.GetElapsedTime(started).TotalMilliseconds, Resolve(groups, top));
    }

    /// <summary>
    /// What grew from <paramref name="baseline"/> to <paramref name="now"/>: the owners whose count rose by at least 2 and
    /// a twentieth of the largest growth, most first, at most <paramref name="top"/>.
    /// </summary>
    public static IReadOnlyList<CensusGrowth> Growth(IReadOnlyList<CensusEntry> baseline, IReadOnlyList<CensusEntry> now, int top)
    {
        var before = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var entry in baseline)
        {
            before[entry.Owner] = entry.Count;
        }

        var grown = new List<CensusGrowth>();
        foreach (var entry in now)
        {
            var was = before.GetValueOrDefault(entry.Owner);
            if (entry.Count > was)
            {
                grown.Add(new CensusGrowth(entry.Owner, entry.Count, entry.Count - was));
            }
        }

        grown.Sort(static (a, b) => b.Growth.CompareTo(a.Growth));

        // A timer or two more of some owner is noise (a lazily started loop): only owners within a twentieth of the leader's growth count.
        var floor = grown.Count > 0 ? Math.Max(2, grown[0].Growth / 20) : 0;
        grown.RemoveAll(g => g.Growth < floor);
        return grown.Count > top ? grown[..top] : grown;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Count(Dictionary<OwnerKey, Group> groups, Delegate? callback, object? state)
    {
        if (state is Task task)
        {
            // Task.Delay, a task's timeout: the timer's callback is the runtime's; the owner is whoever awaits the task.
            var continuation = Accessors.Continuation(task);
            if (continuation is List<object?> { Count: > 0 } several)
            {
                continuation = several[0];
            }

            var via = task.GetType().Name.StartsWith("DelayPromise", StringComparison.Ordinal) ? Via.Delay : Via.TaskTimeout;
            if (continuation is Delegate { Target: { } target } action && !IsStateMachineBox(target.GetType()))
            {
                Add(groups, DelegateKey(action, via), action);
                return;
            }

            var awaiting = continuation is Delegate { Target: { } box } ? box
                : Fields.Value!.AwaitAction(continuation) is { Target: { } awaited } ? awaited
                : continuation;
            Add(groups, new OwnerKey(0, 0, awaiting?.GetType(), via), awaiting);
            return;
        }

        if (callback is null)
        {
            Add(groups, new OwnerKey(0, 0, null, Via.Callback), null);
            return;
        }

        if (state?.GetType().DeclaringType == typeof(PeriodicTimer))
        {
            var waiter = Fields.Value!.PeriodicWaiter(state);
            Add(groups, new OwnerKey(0, 0, waiter?.GetType(), Via.PeriodicTimer), waiter);
            return;
        }

        Add(groups, DelegateKey(callback, Via.Callback), callback);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static OwnerKey DelegateKey(Delegate callback, Via via)
    {
        // The code pointers identify the method without the cost of Delegate.Method per timer (measured: that lookup
        // is most of a census of 100,000 timers when each has its own delegate).
        try
        {
            return new OwnerKey(Accessors.MethodPointer(callback), Accessors.MethodPointerAux(callback), callback.Target?.GetType(), via);
        }
        catch (MissingFieldException)
        {
            return new OwnerKey(callback.Method.MethodHandle.Value, 0, callback.Target?.GetType(), via);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add(Dictionary<OwnerKey, Group> groups, OwnerKey key, object? representative)
    {
        if (groups.TryGetValue(key, out var group))
        {
            group.Count++;
        }
        else if (groups.Count < MaxOwners)
        {
            groups[key] = new Group(representative) { Count = 1 };
        }
        else
        {
            var other = new OwnerKey(-1, -1, null, Via.Other);
            if (groups.TryGetValue(other, out var rest))
            {
                rest.Count++;
            }
            else
            {
                groups[other] = new Group(null) { Count = 1 };
            }
        }
    }

    private static List<CensusEntry> Resolve(Dictionary<OwnerKey, Group> groups, int top)
    {
        // Several keys can name one owner (one method through different delegate targets): merged by name.
        var byName = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (key, group) in groups)
        {
            var name = OwnerNames.Of(key.Via, group.Representative);
            byName[name] = byName.GetValueOrDefault(name) + group.Count;
        }

        var entries = new List<CensusEntry>(byName.Count);
        foreach (var (name, count) in byName)
        {
            entries.Add(new CensusEntry(name, count));
        }

        entries.Sort(static (a, b) => b.Count != a.Count ? b.Count.CompareTo(a.Count) : string.CompareOrdinal(a.Owner, b.Owner));
        return entries.Count > top ? entries[..top] : entries;
    }

    internal static bool IsStateMachineBox(Type type) =>
        type.IsGenericType && type.GetGenericArguments() is { Length: > 0 } arguments && typeof(IAsyncStateMachine).IsAssignableFrom(arguments[^1]);

    /// <summary>How a timer or item reaches its owner, which the owner's name says.</summary>
    internal enum Via
    {
        Callback,
        Delay,
        TaskTimeout,
        PeriodicTimer,
        Item,
        Other,
    }

    /// <summary>A timer's callback and state, copied under its queue's lock and grouped after it.</summary>
    private readonly record struct TimerOwner(Delegate? Callback, object? State);

    private readonly record struct OwnerKey(nint Method, nint MethodAux, Type? Type, Via Via);

    private sealed class Group(object? representative)
    {
        public object? Representative { get; } = representative;

        public long Count { get; set; }
    }

    /// <summary>The fields an accessor cannot reach (their type is the runtime's internal timer), found once.</summary>
    private sealed class TimerFields(FieldInfo shortTimers, FieldInfo longTimers, FieldInfo next, FieldInfo? periodicCore, FieldInfo? periodicState, FieldInfo? awaitAction)
    {
        public FieldInfo Short { get; } = shortTimers;

        public FieldInfo Long { get; } = longTimers;

        public FieldInfo Next { get; } = next;

        // The literal names below keep these members in a trimmed build (the trimmer reads them); the analyzers see them.
        [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "PeriodicTimer's State and ManualResetValueTaskSourceCore<bool> are read by name; when trimmed away or renamed the owner is reported as unknown.")]
        public static TimerFields? Find()
        {
            var queue = Type.GetType(TimerQueueName);
            var timer = Type.GetType(TimerQueueTimerName);
            var shortTimers = queue?.GetField("_shortTimers", Private);
            var longTimers = queue?.GetField("_longTimers", Private);
            var next = timer?.GetField("_next", Private);
            if (shortTimers is null || longTimers is null || next is null)
            {
                _unavailable = "not available in this runtime: its timer queues are not the ones this census reads (the native build's may not be)";
                return null;
            }

            var state = typeof(PeriodicTimer).GetNestedType("State", BindingFlags.NonPublic);
            var core = state?.GetField("_mrvtsc", Private);
            var continuationState = core?.FieldType.GetField("_continuationState", Private);
            // An await under a SynchronizationContext or TaskScheduler continues through an AwaitTaskContinuation, whose
            // action is the state machine box's MoveNext.
            var awaitAction = Type.GetType(AwaitTaskContinuationName)?.GetField("m_action", Private);
            return new TimerFields(shortTimers, longTimers, next, core, continuationState, awaitAction);
        }

        /// <summary>The action of an AwaitTaskContinuation (or a subclass), else null.</summary>
        public Delegate? AwaitAction(object? continuation) =>
            continuation is not null && awaitAction?.DeclaringType is { } type && type.IsInstanceOfType(continuation) ? awaitAction.GetValue(continuation) as Delegate : null;

        /// <summary>The async method awaiting a PeriodicTimer's next tick (its box), or null when none waits now.</summary>
        public object? PeriodicWaiter(object? state) =>
            state is null || periodicCore is null || periodicState is null || periodicCore.DeclaringType != state.GetType()
                ? null
                : periodicCore.GetValue(state) is { } core ? periodicState.GetValue(core) : null;
    }

    /// <summary>The runtime's private members this census reads, by name; a missing one throws at the call, which the census reports.</summary>
    private static class Accessors
    {
        [UnsafeAccessor(UnsafeAccessorKind.StaticMethod, Name = "get_Instances")]
        [return: UnsafeAccessorType("System.Threading.TimerQueue[], System.Private.CoreLib")]
        private static extern object InstancesOf([UnsafeAccessorType(TimerQueueName)] object? queue);

        public static object[] Instances(object? none) => (object[])InstancesOf(none);

        [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_SharedLock")]
        public static extern Lock SharedLock([UnsafeAccessorType(TimerQueueName)] object queue);

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_timerCallback")]
        private static extern ref TimerCallback? CallbackOf([UnsafeAccessorType(TimerQueueTimerName)] object timer);

        public static Delegate? Callback(object timer) => CallbackOf(timer);

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_state")]
        private static extern ref object? StateOf([UnsafeAccessorType(TimerQueueTimerName)] object timer);

        public static object? State(object timer) => StateOf(timer);

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "m_continuationObject")]
        private static extern ref object? ContinuationOf(Task task);

        public static object? Continuation(Task task) => ContinuationOf(task);

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "m_action")]
        private static extern ref Delegate? ActionOf(Task task);

        public static Delegate? Action(Task task) => ActionOf(task);

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_methodPtr")]
        private static extern ref nint MethodPointerOf(Delegate callback);

        public static nint MethodPointer(Delegate callback) => MethodPointerOf(callback);

        [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_methodPtrAux")]
        private static extern ref nint MethodPointerAuxOf(Delegate callback);

        public static nint MethodPointerAux(Delegate callback) => MethodPointerAuxOf(callback);

        [UnsafeAccessor(UnsafeAccessorKind.StaticMethod, Name = "GetQueuedWorkItems")]
        public static extern IEnumerable<object> QueuedWorkItems([UnsafeAccessorType(ThreadPoolName)] object? pool);
    }
}

/// <summary>One census of the live timers: the owners, most timers first, and what it cost.</summary>
internal sealed record TimerCensus(
    bool Available,
    string? Unavailable,
    long ActiveTimers,
    long Walked,
    bool Truncated,
    double ElapsedMs,
    double LongestLockMs,
    IReadOnlyList<CensusEntry> Owners);

/// <summary>One census of the thread-pool queue: what the waiting work items run, most first.</summary>
internal sealed record QueueCensus(
    bool Available,
    string? Unavailable,
    long PendingWorkItems,
    long Read,
    bool Truncated,
    double ElapsedMs,
    IReadOnlyList<CensusEntry> Owners);

/// <summary>An owner and how many timers (or queued items) it has.</summary>
internal sealed record CensusEntry(string Owner, long Count);

/// <summary>An owner whose count grew since the baseline census: how many now, and by how many.</summary>
internal sealed record CensusGrowth(string Owner, long Count, long Growth);
