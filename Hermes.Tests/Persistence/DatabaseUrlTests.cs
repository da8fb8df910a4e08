using Hermes.Persistence;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Hermes.Tests.Persistence;

public sealed class DatabaseUrlTests
{
    [Test]
    public void A_full_url_becomes_a_connection_string()
    {
        var b = DatabaseUrl.Parse("postgres://hermes:secret@db.example.com:6543/leads?sslmode=require");

        Assert.That(b.Host, Is.EqualTo("db.example.com"));
        Assert.That(b.Port, Is.EqualTo(6543));
        Assert.That(b.Username, Is.EqualTo("hermes"));
        Assert.That(b.Password, Is.EqualTo("secret"));
        Assert.That(b.Database, Is.EqualTo("leads"));
        Assert.That(b.SslMode, Is.EqualTo(SslMode.Require));
    }

    [Test]
    public void The_postgresql_scheme_and_default_port_are_accepted()
    {
        var b = DatabaseUrl.Parse("postgresql://u@localhost/db");

        Assert.That(b.Host, Is.EqualTo("localhost"));
        Assert.That(b.Port, Is.EqualTo(5432));
        Assert.That(b.Password, Is.Null);
    }

    [Test]
    public void User_password_and_database_are_url_decoded()
    {
        var b = DatabaseUrl.Parse("postgres://us%40er:p%40ss%3Aw%2Fo%23rd%25@h:5432/my%20db");

        Assert.That(b.Username, Is.EqualTo("us@er"));
        Assert.That(b.Password, Is.EqualTo("p@ss:w/o#rd%"));
        Assert.That(b.Database, Is.EqualTo("my db"));
    }

    [Test]
    public void An_at_sign_left_unencoded_in_the_password_still_splits_at_the_last_one()
    {
        var b = DatabaseUrl.Parse("postgres://user:p@ss@host/db");

        Assert.That(b.Password, Is.EqualTo("p@ss"));
        Assert.That(b.Host, Is.EqualTo("host"));
    }

    [TestCase("disable", SslMode.Disable)]
    [TestCase("allow", SslMode.Allow)]
    [TestCase("prefer", SslMode.Prefer)]
    [TestCase("require", SslMode.Require)]
    [TestCase("verify-ca", SslMode.VerifyCA)]
    [TestCase("verify-full", SslMode.VerifyFull)]
    public void Every_libpq_sslmode_is_honoured(string mode, SslMode expected) =>
        Assert.That(DatabaseUrl.Parse($"postgres://u:p@h/db?sslmode={mode}").SslMode, Is.EqualTo(expected));

    [Test]
    public void The_seed_pgbouncer_url_sets_what_transaction_pooling_needs()
    {
        var b = DatabaseUrl.Parse("postgresql://username:password@host:6543/database?pgbouncer=true&connect_timeout=15");

        Assert.That(b.Timeout, Is.EqualTo(15));
        Assert.That(b.MaxAutoPrepare, Is.Zero, "prepared statements do not survive transaction pooling");
        Assert.That(b.NoResetOnClose, Is.True, "DISCARD ALL on return would hit another client's session");
        Assert.That(DatabaseUrl.IsTransactionPooled(b), Is.True);
    }

    [Test]
    public void Without_pgbouncer_the_connection_is_not_marked_pooled()
    {
        var b = DatabaseUrl.Parse("postgres://u:p@h/db?connect_timeout=15");

        Assert.That(DatabaseUrl.IsTransactionPooled(b), Is.False);
        Assert.That(b.NoResetOnClose, Is.False);
    }

    [Test]
    public void Other_libpq_parameters_and_npgsql_keywords_are_honoured()
    {
        var b = DatabaseUrl.Parse("postgres://u:p@h/db?application_name=hermes-test&target_session_attrs=primary&sslrootcert=/etc/ca.pem&Maximum%20Pool%20Size=42&options=-c%20statement_timeout%3D5000");

        Assert.That(b.ApplicationName, Is.EqualTo("hermes-test"));
        Assert.That(b.RootCertificate, Is.EqualTo("/etc/ca.pem"));
        Assert.That(b.MaxPoolSize, Is.EqualTo(42));
        Assert.That(b.Options, Is.EqualTo("-c statement_timeout=5000"));
        Assert.That(b.ConnectionString, Does.Contain("Target Session Attributes=primary"));
    }

    [Test]
    public void Several_hosts_and_ipv6_addresses_are_kept()
    {
        Assert.That(DatabaseUrl.Parse("postgres://u:p@h1:5432,h2:5433/db").Host, Is.EqualTo("h1:5432,h2:5433"));
        var v6 = DatabaseUrl.Parse("postgres://u:p@[::1]:6000/db");
        Assert.That(v6.Host, Is.EqualTo("::1"));
        Assert.That(v6.Port, Is.EqualTo(6000));
    }

    [TestCase("mysql://u:p@h/db", "must start with postgres://")]
    [TestCase("h:5432/db", "must start with postgres://")]
    [TestCase("postgres://u:p@h:notaport/db", "port 'notaport'")]
    [TestCase("postgres://u:p@h:70000/db", "port '70000'")]
    [TestCase("postgres://u:p%zz@h/db", "not correctly URL-encoded")]
    [TestCase("postgres://u:p@h/db?sslmode=sometimes", "sslmode 'sometimes'")]
    [TestCase("postgres://u:p@h/db?connect_timeout=soon", "connect_timeout")]
    [TestCase("postgres://u:p@h/db?frobnicate=1", "'frobnicate'")]
    [TestCase("postgres://u:p@[::1/db", "closing ']'")]
    public void A_malformed_url_is_refused_with_the_setting_named(string url, string reason)
    {
        var error = Assert.Throws<HermesConfigurationException>(() => DatabaseUrl.Parse(url));

        Assert.That(error!.Message, Does.StartWith("DATABASE_URL is not a valid PostgreSQL URL"));
        Assert.That(error.Message, Does.Contain(reason));
    }

    [Test]
    public void The_password_never_appears_in_the_error()
    {
        var error = Assert.Throws<HermesConfigurationException>(() => DatabaseUrl.Parse("postgres://u:TopSecret@h:99999/db"));

        Assert.That(error!.Message, Does.Not.Contain("TopSecret"));
    }

    [Test]
    public void Neither_setting_present_names_both_keys()
    {
        var error = Assert.Throws<HermesConfigurationException>(() => HermesDatabase.FromConfiguration(Config()));

        Assert.That(error!.Message, Does.Contain("DATABASE_URL").And.Contain("ConnectionStrings:Hermes"));
    }

    [Test]
    public void The_url_wins_over_the_connection_string_and_the_app_name_is_set()
    {
        var database = HermesDatabase.FromConfiguration(
            Config(("DATABASE_URL", "postgres://u:p@from-url/db"), ("ConnectionStrings:Hermes", "Host=from-cs;Database=db")),
            "hermes-test");
        var b = new NpgsqlConnectionStringBuilder(database.ConnectionString);

        Assert.That(b.Host, Is.EqualTo("from-url"));
        Assert.That(b.ApplicationName, Is.EqualTo("hermes-test"));
        Assert.That(database.DirectConnectionString, Is.EqualTo(database.ConnectionString), "without PgBouncer the main connection can LISTEN");
    }

    [Test]
    public void A_pooled_url_listens_through_the_non_pooling_url_or_not_at_all()
    {
        var pooledOnly = HermesDatabase.FromConfiguration(Config(("DATABASE_URL", "postgres://u:p@pooler:6543/db?pgbouncer=true")));
        Assert.That(pooledOnly.IsTransactionPooled, Is.True);
        Assert.That(pooledOnly.DirectConnectionString, Is.Null);

        var withDirect = HermesDatabase.FromConfiguration(Config(
            ("DATABASE_URL", "postgres://u:p@pooler:6543/db?pgbouncer=true"),
            ("POSTGRES_URL_NON_POOLING", "postgres://u:p@direct:5432/db")));
        Assert.That(new NpgsqlConnectionStringBuilder(withDirect.DirectConnectionString).Host, Is.EqualTo("direct"));
    }

    [TestCase("DATABASE_URL", "postgres://u:p@direct:5432/db", TestName = "A_direct_url_prepares_statements_and_skips_the_reset")]
    [TestCase("ConnectionStrings:Hermes", "Host=direct;Database=db;Username=u", TestName = "A_direct_connection_string_prepares_statements_and_skips_the_reset")]
    public void A_direct_connection_prepares_statements_and_skips_the_reset(string key, string value)
    {
        var database = HermesDatabase.FromConfiguration(Config((key, value)));
        var b = new NpgsqlConnectionStringBuilder(database.ConnectionString);

        Assert.Multiple(() =>
        {
            Assert.That(b.MaxAutoPrepare, Is.EqualTo(HermesDatabase.DirectMaxAutoPrepare));
            Assert.That(b.NoResetOnClose, Is.True);
            Assert.That(database.IsTransactionPooled, Is.False);
            Assert.That(database.DirectConnectionString, Is.EqualTo(database.ConnectionString), "a direct connection can LISTEN");
        });
    }

    [TestCase("DATABASE_URL", "postgres://u:p@direct:5432/db?Max%20Auto%20Prepare=0&No%20Reset%20On%20Close=false", TestName = "Preparation_and_reset_given_in_the_url_win")]
    [TestCase("ConnectionStrings:Hermes", "Host=direct;Database=db;Max Auto Prepare=0;No Reset On Close=false", TestName = "Preparation_and_reset_given_in_the_connection_string_win")]
    [TestCase("ConnectionStrings:Hermes", "Host=direct;Database=db;MaxAutoPrepare=0;NoResetOnClose=false", TestName = "Preparation_and_reset_given_as_synonyms_win")]
    public void Preparation_and_reset_given_explicitly_win(string key, string value)
    {
        var database = HermesDatabase.FromConfiguration(Config((key, value)));
        var b = new NpgsqlConnectionStringBuilder(database.ConnectionString);

        Assert.Multiple(() =>
        {
            Assert.That(b.MaxAutoPrepare, Is.Zero);
            Assert.That(b.NoResetOnClose, Is.False);
            Assert.That(database.IsTransactionPooled, Is.False);
        });
    }

    [Test]
    public void Turning_preparation_off_on_a_direct_connection_does_not_make_it_look_pooled()
    {
        var database = HermesDatabase.FromConfiguration(Config(("ConnectionStrings:Hermes", "Host=direct;Database=db;Max Auto Prepare=0")));

        Assert.Multiple(() =>
        {
            Assert.That(database.IsTransactionPooled, Is.False);
            Assert.That(database.DirectConnectionString, Is.Not.Null, "it can still LISTEN");
            Assert.That(new NpgsqlConnectionStringBuilder(database.ConnectionString).MaxAutoPrepare, Is.Zero);
        });
    }

    [Test]
    public void A_pooled_url_gets_no_prepared_statements()
    {
        var database = HermesDatabase.FromConfiguration(Config(("DATABASE_URL", "postgres://u:p@pooler:6543/db?pgbouncer=true")));

        Assert.That(new NpgsqlConnectionStringBuilder(database.ConnectionString).MaxAutoPrepare, Is.Zero);
    }

    [Test]
    public void A_bad_connection_string_is_refused_with_its_key_named()
    {
        var error = Assert.Throws<HermesConfigurationException>(() => HermesDatabase.FromConfiguration(Config(("ConnectionStrings:Hermes", "Hots=x;Nonsense"))));

        Assert.That(error!.Message, Does.StartWith("ConnectionStrings:Hermes is not a valid Npgsql connection string"));
    }

    [Test]
    public void Redaction_hides_the_password()
    {
        var redacted = HermesDatabase.Redact("Host=h;Port=5432;Database=d;Username=u;Password=TopSecret");

        Assert.That(redacted, Is.EqualTo("h:5432/d as u"));
    }

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(static v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
