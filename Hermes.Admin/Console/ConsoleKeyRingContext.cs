using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace Hermes.Admin.OperatorConsole;

/// <summary>
/// The admin host's ASP.NET Core Data Protection key ring, in the table <c>hermes_console_keys</c> of the Hermes
/// database, so that a console cookie or antiforgery token issued by one admin replica opens on every other and
/// survives a restart. The table is created by the main migrations (<c>ConsoleKeyRing</c>) and granted to
/// <c>hermes_admin</c> only (SELECT, INSERT: the key manager adds keys and revocations, it never rewrites them). This
/// context only reads and appends keys; it never migrates. docs/security.md, "Console sessions".
/// </summary>
public sealed class ConsoleKeyRingContext(DbContextOptions<ConsoleKeyRingContext> options) : DbContext(options), IDataProtectionKeyContext
{
    public const string Table = "hermes_console_keys";

    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.Entity<DataProtectionKey>(static key =>
    {
        key.ToTable(Table);
        key.HasKey(static k => k.Id).HasName("pk_" + Table);
        key.Property(static k => k.Id).HasColumnName("id").UseIdentityByDefaultColumn();
        key.Property(static k => k.FriendlyName).HasColumnName("friendly_name");
        key.Property(static k => k.Xml).HasColumnName("xml");
    });
}
