namespace Hermes.Domain;

/// <summary>
/// Why a delivery attempt failed, as <c>failure_class</c> stores it (migration <c>AutoRecovery</c>): an outage of the
/// receiver, which a later attempt can outlive, or something about the message or the answer, which sending the
/// same message again does not change. Only rows that failed with outages alone are recovered automatically.
/// </summary>
public static class FailureClasses
{
    /// <summary>No answer (refused, reset, DNS, TLS), no answer in time, or 502/503/504: the receiver or its path was down.</summary>
    public const string Outage = "outage";

    /// <summary>Any other failure: a 4xx, another 5xx, a 2xx that did not confirm, a worker error.</summary>
    public const string Content = "content";
}
