using System.Net.Http.Json;
using Hermes.ServiceDefaults;
using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Monitoring;

namespace Hermes.Tests.Api;

/// <summary>
/// Nothing on the submission path may block a thread-pool thread: under load the pool would add a thread every half
/// second and every request queued behind the blocked ones would wait for it (issue: p99 508 ms at four connections).
/// <see cref="ThreadPoolBlocking"/> counts the threads the runtime added for that reason; first proven on deliberately
/// blocked threads in this process, then read from the real API process's <c>/metrics</c> after a load.
/// </summary>
public sealed class ThreadPoolBlockingTests : DatabaseTest
{
    [Test]
    [NonParallelizable]
    public async Task The_counter_sees_pool_threads_blocked_by_sleeps_and_by_synchronous_waits_on_tasks()
    {
        ThreadPoolBlocking.Start();
        var starvation = ThreadPoolBlocking.Starvation;
        var cooperative = ThreadPoolBlocking.CooperativeBlocking;

        // More sleepers than the pool has threads: what blocking I/O or a lock held across I/O looks like.
        using (var release = new ManualResetEventSlim())
        {
            var sleepers = Enumerable.Range(0, ThreadPool.ThreadCount + 4).Select(_ => Task.Run(() => release.Wait(TimeSpan.FromSeconds(10)))).ToArray();
            await WaitUntilAsync(() => Task.FromResult(ThreadPoolBlocking.Starvation > starvation), "a thread is added for starvation", TimeSpan.FromSeconds(10));
            release.Set();
            await Task.WhenAll(sleepers);
        }

        // Then synchronous waits on tasks on more pool threads than there are: what sync-over-async looks like.
        var waiters = Enumerable.Range(0, ThreadPool.ThreadCount + 4).Select(_ => Task.Run(() => Task.Delay(3000).Wait())).ToArray();
        await WaitUntilAsync(() => Task.FromResult(ThreadPoolBlocking.CooperativeBlocking > cooperative), "a thread is added for a blocking Task.Wait", TimeSpan.FromSeconds(10));
        await Task.WhenAll(waiters);
        Assert.Multiple(() =>
        {
            Assert.That(ThreadPoolBlocking.Starvation, Is.GreaterThan(starvation), "threads added for starvation");
            Assert.That(ThreadPoolBlocking.CooperativeBlocking, Is.GreaterThan(cooperative), "threads added for a blocking Task.Wait");
        });
    }

    [Test]
    public async Task The_api_process_adds_no_thread_for_blocking_while_it_serves_concurrent_submissions()
    {
        await using var api = ChildProcess.Start("api", ChildProcess.HostAssembly("Hermes.Api"), new Dictionary<string, string>
        {
            ["ConnectionStrings__Hermes"] = ConnectionString,
            ["Intake__RateLimit__PermitLimit"] = "1000000",
        });
        var address = await api.WaitListeningAsync(TimeSpan.FromSeconds(60));
        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };

        // Warm: the first requests build the model, JIT the path and open connections, serially.
        for (var i = 0; i < 20; i++)
        {
            using var warm = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm());
            Assert.That((int)warm.StatusCode, Is.EqualTo(201), await warm.Content.ReadAsStringAsync());
        }

        var before = await BlockedInjectionsAsync(client);
        const int Lanes = 32;
        const int PerLane = 60;
        var statuses = await Task.WhenAll(Enumerable.Range(0, Lanes).Select(async _ =>
        {
            var answered = new List<int>();
            for (var i = 0; i < PerLane; i++)
            {
                using var response = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm());
                answered.Add((int)response.StatusCode);
            }

            return answered;
        }));
        var after = await BlockedInjectionsAsync(client);

        Assert.Multiple(async () =>
        {
            Assert.That(statuses.SelectMany(static s => s), Has.All.EqualTo(201));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(20 + (Lanes * PerLane)));
            Assert.That(after.Starvation - before.Starvation, Is.Zero, "threads added for starvation during the load");
            Assert.That(after.Cooperative - before.Cooperative, Is.Zero, "threads added for a blocking wait on a task during the load");
        });
    }

    private static async Task<(long Starvation, long Cooperative)> BlockedInjectionsAsync(HttpClient client)
    {
        var metrics = Exposition.Parse(await client.GetStringAsync(new Uri(HermesTelemetryExtensions.MetricsPath, UriKind.Relative)));
        long Read(string reason)
        {
            var value = metrics.Value("hermes_runtime_thread_pool_blocked_injections_total", ("reason", reason));
            Assert.That(value, Is.Not.Null, $"the API's /metrics carries the {reason} count");
            return (long)value!.Value;
        }

        return (Read("starvation"), Read("cooperative_blocking"));
    }
}
