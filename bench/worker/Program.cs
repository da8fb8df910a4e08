using Hermes.Bench.Worker;

// Usage: Hermes.Bench.Worker <worker.dll> [throughput|latency|notify-cost|all]
if (args.Length < 1 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("Usage: Hermes.Bench.Worker <path to Hermes.Outbox.Worker.dll> [throughput|latency|notify-cost|all]");
    return 2;
}

var scenario = args.Length > 1 ? args[1] : "all";
await using var bench = await BenchEnvironment.StartAsync(args[0]);
Console.WriteLine(bench.Describe());
if (scenario is "throughput" or "all")
{
    await Scenarios.ThroughputAsync(bench);
}

if (scenario is "latency" or "all")
{
    await Scenarios.LatencyAsync(bench);
}

if (scenario is "notify-cost" or "all")
{
    await Scenarios.NotifyCostAsync(bench);
}

return 0;
