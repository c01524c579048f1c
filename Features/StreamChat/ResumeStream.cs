using System.Globalization;
using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.Extensions.Options;
using FromQueryAttribute = Microsoft.AspNetCore.Mvc.FromQueryAttribute;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// <c>GET /v1/chat/streams/{message_id}</c>: a reply's stream again, from the event after <c>Last-Event-ID</c> (header, or
/// <c>?last_event_id=</c>), then live until <c>done</c>; SSE, or NDJSON with <c>Accept: application/x-ndjson</c>.
/// <c>POST /v1/chat/streams/{message_id}/cancel</c>: the stop button. Only the stream's owner (a guest's: whoever has
/// the reply's id) finds it, on the instance that runs it or, with Redis, on any; an unknown, expired or another's
/// stream is 404.
/// </summary>
public static class ResumeStream
{
    /// <summary>Mapped on <see cref="StreamChat"/>'s <c>/v1/chat</c> group.</summary>
    public static void Map(RouteGroupBuilder chat)
    {
        chat.MapGet("/streams/{id:guid}", Endpoint).WithName("ResumeStream")
            .WithSummary("Resume a reply's event stream after Last-Event-ID (SSE or NDJSON), live until done")
            .Produces(StatusCodes.Status200OK, contentType: EventStream.SseContentType, additionalContentTypes: [EventStream.NdjsonContentType])
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        chat.MapPost("/streams/{id:guid}/cancel", Cancel).WithName("CancelStream")
            .WithSummary("Stop a reply being generated (its text so far is stored as interrupted)")
            .ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static async Task<IResult> Endpoint(Guid id, ClaimsPrincipal user, LiveStreams live, SharedStreams shared,
        IOptions<ChatSettings> settings, HttpContext http, [FromQuery(Name = "last_event_id")] string? lastEventId = null)
    {
        var after = http.Request.Headers["Last-Event-ID"].FirstOrDefault() ?? lastEventId;
        long last = 0;
        if (after is not null && (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out last)))
            throw RequestValidationException.For("last_event_id", "Must be the id of an event of this stream (a whole number).");

        IAsyncEnumerable<StreamEvent> events;
        long produced;
        if (live.Find(id, user.UserId()) is { } stream) (events, produced) = (stream.ReadAsync(last), stream.Produced);
        else if (await shared.FindAsync(id, user.UserId()) is { } remote) (events, produced) = (remote.ReadAsync(last), remote.Produced);
        else return Failure.NotFound("Stream").ToResult();
        if (last > produced)
            throw RequestValidationException.For("last_event_id", $"This stream has {produced} events so far; {last} is none of them.");

        http.RequestServices.GetRequiredService<ChatMetrics>().StreamResumed();
        await EventStream.WriteAsync(http, events, EventStream.WantsNdjson(http.Request),
            TimeSpan.FromSeconds(settings.Value.HeartbeatSeconds), TimeSpan.FromSeconds(settings.Value.StreamWriteTimeoutSeconds));
        return Results.Empty;
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Cancel(Guid id, ClaimsPrincipal user, LiveStreams live, SharedStreams shared)
    {
        if (live.Find(id, user.UserId()) is { } stream) stream.Cancel();
        else if (await shared.FindAsync(id, user.UserId()) is not null) shared.Cancel(id);
        else return Failure.NotFound("Stream").ToResult();
        return TypedResults.NoContent();
    }
}
