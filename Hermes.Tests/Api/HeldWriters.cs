using System.Net;
using Hermes.Persistence.Submissions;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Api;

/// <summary>
/// The API's group-commit writers held still: a lock on <c>hermes_outbox</c> lets their lead INSERTs pass and makes
/// their outbox INSERTs wait, so the submissions sent meanwhile queue up and form the next transaction together.
/// </summary>
internal sealed class HeldWriters(SubmissionStore writer, NpgsqlConnection connection, NpgsqlTransaction transaction, List<Task<HttpResponseMessage>> first)
    : IAsyncDisposable
{
    private List<HttpResponseMessage>? _first;

    /// <summary>
    /// Locks <c>hermes_outbox</c> and submits one lead per writer (<paramref name="submit"/>), returning once every
    /// writer is waiting for the lock; disposing lets them go.
    /// </summary>
    public static async Task<HeldWriters> HoldAsync(SubmissionStore writer, NpgsqlDataSource dataSource, int writers, Func<Task<HttpResponseMessage>> submit)
    {
        var connection = await dataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("LOCK TABLE hermes_outbox IN EXCLUSIVE MODE", connection, transaction))
        {
            await command.ExecuteNonQueryAsync();
        }

        // One at a time: two sent together could be taken by one writer as one batch.
        var first = new List<Task<HttpResponseMessage>>();
        for (var held = 1; held <= writers; held++)
        {
            first.Add(submit());
            var waiting = held;
            await DatabaseTest.WaitUntilAsync(
                async () =>
                {
                    await using var count = dataSource.CreateCommand(
                        "SELECT count(*) FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = 'hermes_outbox'::regclass AND NOT granted");
                    return (long)(await count.ExecuteScalarAsync())! == waiting;
                },
                $"writer {waiting} waits for the lock on hermes_outbox");
        }

        return new HeldWriters(writer, connection, transaction, first);
    }

    /// <summary>The writers' own first submissions, answered once they are let go.</summary>
    public List<HttpResponseMessage> First => _first ?? throw new InvalidOperationException("Not let go yet.");

    /// <summary>Sends the submissions in order, each queued before the next is sent; lets the writers go; returns the answers in order.</summary>
    public async Task<List<HttpResponseMessage>> QueueAsync(IReadOnlyList<Func<Task<HttpResponseMessage>>> submissions)
    {
        var sent = new List<Task<HttpResponseMessage>>();
        foreach (var submit in submissions)
        {
            sent.Add(submit());
            var expected = sent.Count;
            await DatabaseTest.WaitUntilAsync(() => Task.FromResult(writer.Queued == expected), $"submission {expected} queued behind the held writers");
        }

        await LetGoAsync();
        return [.. await Task.WhenAll(sent)];
    }

    private async Task LetGoAsync()
    {
        if (_first is not null)
        {
            return;
        }

        await transaction.RollbackAsync();
        _first = [.. await Task.WhenAll(first)];
        Assert.That(_first.Select(r => r.StatusCode), Is.All.EqualTo(HttpStatusCode.Created), "the held writers' own submissions");
    }

    public async ValueTask DisposeAsync()
    {
        await LetGoAsync();
        await transaction.DisposeAsync();
        await connection.DisposeAsync();
    }
}
