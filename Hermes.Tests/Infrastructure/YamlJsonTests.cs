namespace Hermes.Tests.Infrastructure;

/// <summary>The YAML reader the deploy and monitoring tests stand on types scalars as the shipped tools do.</summary>
public sealed class YamlJsonTests
{
    [Test]
    public void Plain_scalars_are_typed_and_quoted_ones_stay_strings()
    {
        var json = YamlJson.Parse("""
            port: 8080
            negative: -3
            ratio: 0.25
            dot: .
            enabled: true
            legacy: yes
            off_switch: off
            nothing: ~
            empty:
            quoted_port: "8080"
            quoted_bool: 'true'
            duration: 5m
            list: [1, "2", three]
            """);

        Assert.That(json.ToJsonString(), Is.EqualTo(
            """{"port":8080,"negative":-3,"ratio":0.25,"dot":".","enabled":true,"legacy":true,"off_switch":false,"nothing":null,"empty":null,"quoted_port":"8080","quoted_bool":"true","duration":"5m","list":[1,"2","three"]}"""));
        Assert.That(json["port"]!.GetValue<int>(), Is.EqualTo(8080), "numbers read like parsed JSON numbers");
    }

    [Test]
    public void Anchors_aliases_and_merge_keys_are_resolved()
    {
        var json = YamlJson.Parse("""
            x-environment: &environment
              A: "1"
              B: "2"
            services:
              api:
                environment:
                  <<: *environment
                  B: "3"
              worker:
                environment: *environment
            """);

        Assert.Multiple(() =>
        {
            Assert.That(json["services"]!["api"]!["environment"]!.ToJsonString(), Is.EqualTo("""{"A":"1","B":"3"}"""), "a key beside the merge wins");
            Assert.That(json["services"]!["worker"]!["environment"]!.ToJsonString(), Is.EqualTo("""{"A":"1","B":"2"}"""));
        });
    }

    [Test]
    public void An_empty_document_is_an_empty_object() => Assert.That(YamlJson.Parse("# nothing\n"), Is.Empty);

    [Test]
    public void The_shipped_compose_file_merges_the_shared_environment_into_each_service()
    {
        var compose = YamlJson.Read(Deploy.RepositoryFiles.PathOf("docker-compose.yml"));
        var shared = compose["x-hermes-environment"]!.AsObject();
        var migrate = compose["services"]!["migrate"]!["environment"]!.AsObject();

        Assert.That(shared.Select(static pair => pair.Key), Is.SubsetOf(migrate.Select(static pair => pair.Key)));
        Assert.That(migrate["OTEL_SERVICE_NAME"]!.GetValue<string>(), Is.EqualTo("hermes-migrate"));
    }
}
