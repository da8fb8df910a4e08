using Hermes.Bench.Worker;

// Usage: Hermes.Bench.Worker <worker.dll or native worker> [throughput|latency|after-drain [rows]|notify-cost|all|held-xmin|replicas [counts [rounds [rows]]]|sustained [minutes]|capacity]
// "all" is the delivery benchmarks; "capacity" the three capacity ones (docs/capacity.md), about 20 minutes.
if (args.Length < 1 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("Usage: Hermes.Bench.Worker <path to Hermes.Outbox.Worker.dll, or the native Hermes.Outbox.Worker> [throughput|latency|after-drain [rows]|notify-cost|all|held-xmin|replicas [counts [rounds [rows]]]|sustained [minutes]|capacity]");
    return 2;
}

var scenario = args.Length > 1 ? args[1] : "all";

// The scenario's own numbers, after its name (e.g. "sustained 10", "replicas 1 3 250000").
int Number(int index, int fallback) => args.Length > index ? int.Parse(args[index], System.Globalization.CultureInfo.InvariantCulture) : fallback;
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

if (scenario is "after-drain")
{
    await Scenarios.AfterDrainAsync(bench, Number(2, 250_000));
}

if (scenario is "notify-cost" or "all")
{
    await Scenarios.NotifyCostAsync(bench);
}

if (scenario is "held-xmin" or "capacity")
{
    await Scenarios.HeldXminAsync(bench);
}

if (scenario is "replicas" or "capacity")
{
    // replicas 1 3 250000: one replica, three rounds, a backlog of 250,000 ("capacity" takes the defaults).
    var replicas = scenario is "replicas";
    var counts = replicas && args.Length > 2 ? args[2].Split(',').Select(static c => int.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray() : [1, 2, 4];
    await Scenarios.ReplicasAsync(bench, counts, rows: replicas ? Number(4, 100_000) : 100_000, rounds: replicas ? Number(3, 2) : 2);
}

if (scenario is "sustained" or "capacity")
{
    await Scenarios.SustainedAsync(bench, Number(2, 10));
}

return 0;
