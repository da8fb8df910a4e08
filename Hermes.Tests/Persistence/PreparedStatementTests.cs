using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Hermes.Tests.Persistence;

/// <summary>
/// On a direct connection the API's inserts end up as server-side prepared statements: after a few submissions,
/// PostgreSQL's own <c>pg_prepared_statements</c> on the API's pooled connections lists them.
/// </summary>
public sealed class PreparedStatementTests : DatabaseTest
{
    [Test]
    public async Task Repeated_submissions_run_as_prepared_statements_on_a_direct_connection()
    {
        await using var api = new HermesApiFactory(ConnectionString);
        using var client = api.CreateApiClient();
        // Npgsql prepares a statement on a connection after its fifth use there; the wake-up NOTIFYs sent beside the
        // submissions (OutboxNotifier) can make the pool spread them over two or three connections: 20 leave at
        // least five on one of them.
        for (var i = 0; i < 20; i++)
        {
            using var response = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm() with { Email = $"prepared{i}@example.com" }, JsonSerializerOptions.Web);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        // The pool hands out its idle connections before it opens new ones: six at once cover the few that served
        // the submissions one after another and the wake-up NOTIFYs sent beside them (OutboxNotifier).
        var dataSource = api.Services.GetRequiredService<NpgsqlDataSource>();
        var statements = new List<string>();
        var connections = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < 6; i++)
            {
                connections.Add(await dataSource.OpenConnectionAsync());
            }

            foreach (var connection in connections)
            {
                await using var command = new NpgsqlCommand("SELECT statement FROM pg_prepared_statements", connection);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    statements.Add(reader.GetString(0));
                }
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(statements, Has.Some.Contains("INSERT INTO hermes_leads"), string.Join("\n", statements));
            Assert.That(statements, Has.Some.Contains("INSERT INTO hermes_outbox"), string.Join("\n", statements));
            Assert.That(new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).NoResetOnClose, Is.True);
        });
    }
}
