using System.Net;
using System.Text.Json.Nodes;

namespace Hermes.Tests.Kubernetes;

/// <summary>A pod (or an address outside the cluster) that may send or receive a connection.</summary>
public sealed record Endpoint(string Name, string? Namespace, IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, int> Ports, IPAddress Address)
{
    public bool InCluster => Namespace is not null;

    public override string ToString() => Name;
}

/// <summary>
/// NetworkPolicy (networking.k8s.io/v1) evaluated as the API documents it: a pod selected by no policy of a type is
/// open in that direction; a pod selected by some is open only to what one of their rules allows; a connection needs
/// the sender's egress and the receiver's ingress. Peers: podSelector (the policy's namespace), namespaceSelector
/// (namespaces by their labels, here kubernetes.io/metadata.name), both (pods in those namespaces), ipBlock (cidr minus
/// except). Ports: number or the receiving pod's named port, protocol (TCP by default), endPort.
/// </summary>
public sealed class NetworkPolicyModel(IReadOnlyList<JsonObject> policies)
{
    public bool Allows(Endpoint from, Endpoint to, int port, string protocol = "TCP") =>
        Allowed(from, to, port, protocol, "Egress", from) && Allowed(from, to, port, protocol, "Ingress", to);

    private bool Allowed(Endpoint from, Endpoint to, int port, string protocol, string direction, Endpoint subject)
    {
        if (!subject.InCluster)
        {
            return true;
        }

        var selecting = policies.Where(p => Namespace(p) == subject.Namespace && Types(p).Contains(direction) && Selects(p["spec"]!["podSelector"], subject.Labels)).ToList();
        if (selecting.Count == 0)
        {
            return true;
        }

        var peer = direction == "Egress" ? to : from;
        var rulesKey = direction == "Egress" ? "egress" : "ingress";
        var peersKey = direction == "Egress" ? "to" : "from";
        return selecting.Any(p => (p["spec"]![rulesKey]?.AsArray() ?? []).Any(rule =>
            PeersMatch(rule![peersKey]?.AsArray(), peer, Namespace(p)) && PortsMatch(rule["ports"]?.AsArray(), to, port, protocol)));
    }

    private static string Namespace(JsonObject policy) => policy["metadata"]!["namespace"]!.GetValue<string>();

    // policyTypes as the API server defaults it: Ingress always, Egress when the policy has egress rules.
    private static IReadOnlyList<string> Types(JsonObject policy) =>
        policy["spec"]!["policyTypes"]?.AsArray().Select(static t => t!.GetValue<string>()).ToList()
        ?? (policy["spec"]!["egress"] is null ? ["Ingress"] : ["Ingress", "Egress"]);

    private static bool PeersMatch(JsonArray? peers, Endpoint peer, string policyNamespace)
    {
        if (peers is null || peers.Count == 0)
        {
            return true;
        }

        return peers.Any(p =>
        {
            if (p!["ipBlock"] is { } block)
            {
                return InBlock(peer.Address, block["cidr"]!.GetValue<string>())
                    && !(block["except"]?.AsArray() ?? []).Any(e => InBlock(peer.Address, e!.GetValue<string>()));
            }

            if (!peer.InCluster)
            {
                return false;
            }

            var namespaceSelector = p["namespaceSelector"];
            var podSelector = p["podSelector"];
            var namespaceMatches = namespaceSelector is null
                ? peer.Namespace == policyNamespace
                : Selects(namespaceSelector, new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = peer.Namespace! });
            return namespaceMatches && (podSelector is null || Selects(podSelector, peer.Labels));
        });
    }

    private static bool PortsMatch(JsonArray? ports, Endpoint to, int port, string protocol)
    {
        if (ports is null || ports.Count == 0)
        {
            return true;
        }

        return ports.Any(p =>
        {
            if ((p!["protocol"]?.GetValue<string>() ?? "TCP") != protocol)
            {
                return false;
            }

            var value = p["port"];
            if (value is null)
            {
                return true;
            }

            int number;
            if (value.GetValueKind() == System.Text.Json.JsonValueKind.String)
            {
                if (!to.Ports.TryGetValue(value.GetValue<string>(), out number))
                {
                    return false;
                }
            }
            else
            {
                number = value.GetValue<int>();
            }

            var end = p["endPort"]?.GetValue<int>() ?? number;
            return port >= number && port <= end;
        });
    }

    /// <summary>A LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist); empty selects all.</summary>
    public static bool Selects(JsonNode? selector, IReadOnlyDictionary<string, string> labels)
    {
        if (selector is null)
        {
            return true;
        }

        foreach (var (key, value) in selector["matchLabels"]?.AsObject() ?? [])
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value!.GetValue<string>())
            {
                return false;
            }
        }

        foreach (var expression in selector["matchExpressions"]?.AsArray() ?? [])
        {
            var key = expression!["key"]!.GetValue<string>();
            var values = expression["values"]?.AsArray().Select(static v => v!.GetValue<string>()).ToList() ?? [];
            var has = labels.TryGetValue(key, out var actual);
            var ok = expression["operator"]!.GetValue<string>() switch
            {
                "In" => has && values.Contains(actual!),
                "NotIn" => !has || !values.Contains(actual!),
                "Exists" => has,
                "DoesNotExist" => !has,
                var other => throw new NotSupportedException($"selector operator {other}"),
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool InBlock(IPAddress address, string cidr)
    {
        var network = IPNetwork.Parse(cidr);
        return network.Contains(address);
    }
}
