namespace Hermes.Tests.Environments;

[NonParallelizable]
public sealed class WorkerEntryPointTests
{
    [TestCase("--help")]
    [TestCase("run", "--help")]
    [TestCase("--urls", "http://127.0.0.1:0", "-h")]
    public async Task Help_lists_the_verbs_and_never_starts_the_worker(params string[] args)
    {
        var original = Console.Out;
        using var output = new StringWriter();
        Console.SetOut(output);
        int code;
        try
        {
            var run = Hermes.Outbox.Worker.Program.Main(args);
            var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20)));
            Assert.That(finished, Is.SameAs(run), "help returned at once instead of hosting the worker");
            code = await run;
        }
        finally
        {
            Console.SetOut(original);
        }

        Assert.That(code, Is.Zero);
        Assert.That(output.ToString(), Does.Contain("replay").And.Contain("migrate").And.Contain("local-postgres"));
    }
}
