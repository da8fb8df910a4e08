using System.Net.Http.Json;
using Hermes.Api.Admin;
using Hermes.Tests.Faults;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Api;

/// <summary>
/// The public API (no admin key) must not even load what only the admin surface uses: Razor Pages, antiforgery and
/// data protection (the console) and the OpenAPI generator together cost it about 15 MiB resident under load
/// (bench/RESULTS.md, "The public API, piece by piece"). Read from the real API process's memory map after it has
/// stored a lead and served its OpenAPI document; the same process with an admin key maps them, so the check can see them.
/// </summary>
public sealed class PublicApiFootprintTests : DatabaseTest
{
    private static readonly string[] AdminOnly =
    [
        "Microsoft.AspNetCore.Mvc.RazorPages.dll",
        "Microsoft.AspNetCore.Antiforgery.dll",
        "Microsoft.AspNetCore.DataProtection.dll",
        "Microsoft.AspNetCore.OpenApi.dll",
        "Microsoft.OpenApi.dll",
        "Microsoft.AspNetCore.Mvc.ApiExplorer.dll",
    ];

    [Test]
    public async Task The_public_api_process_maps_nothing_of_the_console_or_the_openapi_generator()
    {
        var mapped = await MappedAfterUseAsync(adminKey: null);
        Assert.That(mapped.Intersect(AdminOnly), Is.Empty);
    }

    [Test]
    public async Task With_an_admin_key_the_same_process_maps_them()
    {
        var mapped = await MappedAfterUseAsync(adminKey: "footprint-test-key-0123456789abcdef");
        Assert.That(mapped, Is.SupersetOf(new[] { "Microsoft.AspNetCore.Mvc.RazorPages.dll", "Microsoft.AspNetCore.OpenApi.dll" }));
    }

    /// <summary>The file names mapped by an API process that has stored a lead and served <c>/openapi/v1.json</c>.</summary>
    private async Task<HashSet<string>> MappedAfterUseAsync(string? adminKey)
    {
        var environment = new Dictionary<string, string> { ["ConnectionStrings__Hermes"] = ConnectionString };
        if (adminKey is not null)
        {
            environment[AdminApiKeys.ConfigurationKey] = adminKey;
        }

        var before = await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox");
        await using var api = ChildProcess.Start("api", ChildProcess.HostAssembly("Hermes.Api"), environment);
        var address = await api.WaitListeningAsync(TimeSpan.FromSeconds(60));
        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        using (var stored = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm()))
        {
            Assert.That((int)stored.StatusCode, Is.EqualTo(201), await stored.Content.ReadAsStringAsync());
        }

        using (var document = await client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative)))
        {
            Assert.That((int)document.StatusCode, Is.EqualTo(200));
        }

        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(before + 1), "the lead and its outbox row are stored");
        return [.. (await File.ReadAllLinesAsync($"/proc/{api.Id}/maps"))
            .Select(static line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(static fields => fields.Length >= 6)
            .Select(static fields => Path.GetFileName(fields[5]))];
    }
}
