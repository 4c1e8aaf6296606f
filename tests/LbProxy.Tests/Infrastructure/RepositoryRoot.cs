namespace LbProxy.Tests.Infrastructure;

internal static class RepositoryRoot
{
    /// <summary>The clone this test runs from: the nearest parent of the test binaries that holds LbProxy.sln.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "LbProxy.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("LbProxy.sln not found above " + AppContext.BaseDirectory);
    }
}
