using System.Security.Cryptography;

namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// The console's one static file, its stylesheet (<see cref="ConsoleStylesheet"/>), compiled into the assembly (no
/// wwwroot, nothing to deploy beside the binary) and served with a content hash in its URL, so it can be cached for a year.
/// </summary>
internal static class ConsoleAssets
{
    public const string Path = ConsoleExtensions.PathPrefix + "/assets";

    private static readonly Lazy<(byte[] Bytes, string Hash)> Stylesheet = new(static () =>
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(ConsoleStylesheet.Css);
        return (bytes, Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]);
    });

    /// <summary>A small icon, so browsers asking for one get it rather than a 404.</summary>
    private const string Icon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#24292f"/><path d="M4 3h2v4h4V3h2v10h-2V9H6v4H4z" fill="#ffbf47"/></svg>
        """;

    public const string IconUrl = Path + "/icon.svg";

    /// <summary>The stylesheet's URL, changing whenever its content does.</summary>
    public static string StylesheetUrl => $"{Path}/console.{Stylesheet.Value.Hash}.css";

    public static void Map(WebApplication app)
    {
        app.MapGet(IconUrl, static (HttpContext http) =>
        {
            http.Response.Headers.CacheControl = "public, max-age=86400";
            return Results.Text(Icon, "image/svg+xml; charset=utf-8");
        }).ExcludeFromDescription();
        app.MapGet(Path + "/console.{hash}.css", static (string hash, HttpContext http) =>
        {
            var (bytes, current) = Stylesheet.Value;
            if (!string.Equals(hash, current, StringComparison.Ordinal))
            {
                return Results.NotFound();
            }

            http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            return Results.Bytes(bytes, "text/css; charset=utf-8");
        }).ExcludeFromDescription();
    }
}
