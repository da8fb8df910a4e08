using Hermes.Domain;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// Which failed attempts are outages (<see cref="FailureClasses"/>), pure: no answer at all (refused, reset, DNS, TLS),
/// no answer within the request timeout, or a gateway's 502, 503 or 504. Every other failure is about the message or
/// the answer (any 4xx, a 500 from the workflow, a redirect, a 2xx that did not confirm, a worker error) and is never
/// replayed automatically.
/// </summary>
public static class OutageAnswers
{
    public static string Classify(WebhookResultKind kind, int? statusCode) => kind switch
    {
        WebhookResultKind.ConnectionFailed or WebhookResultKind.TimedOut => FailureClasses.Outage,
        WebhookResultKind.Answered when statusCode is 502 or 503 or 504 => FailureClasses.Outage,
        _ => FailureClasses.Content,
    };
}
