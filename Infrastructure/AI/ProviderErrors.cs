using System.ClientModel;
using System.Net.Sockets;
using Microsoft.SemanticKernel;

namespace ChatSlices.Infrastructure.AI;

/// <summary>A provider failure as the client is told about it: a stable code and a message without internals.</summary>
public sealed record ProviderError(string Code, string Message, int HttpStatus)
{
    public static ProviderError FirstTokenTimeout(double seconds) =>
        new("provider_timeout", $"The model did not start answering within {seconds:0.#} s.", StatusCodes.Status504GatewayTimeout);

    public static ProviderError ReplyTimeout(double seconds) =>
        new("provider_timeout", $"The model did not finish within {seconds:0.#} s.", StatusCodes.Status504GatewayTimeout);

    public static ProviderError From(Exception exception) => exception switch
    {
        // Semantic Kernel wraps the SDK's failures; the inner one (or the status it kept) tells what happened.
        HttpOperationException { InnerException: ClientResultException or HttpRequestException or IOException } wrapped => From(wrapped.InnerException!),
        HttpOperationException { StatusCode: { } status } => FromStatus((int)status),
        ClientResultException { Status: 0, InnerException: { } transport } => From(transport),
        ClientResultException { Status: > 0 } failed => FromStatus(failed.Status),
        HttpRequestException { InnerException: SocketException } => new("provider_unavailable",
            "The model provider cannot be reached.", StatusCodes.Status503ServiceUnavailable),
        HttpRequestException or IOException => new("provider_connection_lost",
            "The connection to the model provider broke off.", StatusCodes.Status502BadGateway),
        _ => Unexpected,
    };

    private static readonly ProviderError Unexpected =
        new("provider_error", "The model provider returned an unexpected answer.", StatusCodes.Status502BadGateway);

    private static ProviderError FromStatus(int status) => status switch
    {
        401 or 403 => new("provider_auth_failed", "The model provider rejected this service's credentials.", StatusCodes.Status502BadGateway),
        429 => new("provider_rate_limited", "The model provider is rate limiting requests; retry later.", StatusCodes.Status503ServiceUnavailable),
        404 => new("provider_model_not_found", "The model provider does not know this model.", StatusCodes.Status502BadGateway),
        400 or 422 => new("provider_bad_request", "The model provider refused the request (the prompt may be too long).", StatusCodes.Status502BadGateway),
        >= 500 => new("provider_unavailable", "The model provider failed; retry later.", StatusCodes.Status503ServiceUnavailable),
        _ => Unexpected,
    };
}
