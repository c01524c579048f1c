using Carter;
using ChatSlices.Infrastructure.Auth;

namespace ChatSlices.Features.Feedback;

/// <summary>
/// Ratings of replies: a user's own under <c>/v1/chat/messages/{id}/feedback</c>, everyone's for admins under
/// <c>/v1/admin/feedback</c>; one group per prefix and policy.
/// </summary>
public sealed class FeedbackEndpoints : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var own = app.MapGroup("/v1/chat/messages").WithTags("Sessions").RequireAuthorization(AuthSetup.UserPolicy);
        own.MapPut("/{id:guid}/feedback", SetFeedback.Endpoint).WithName("SetFeedback")
            .WithSummary("Rate a reply in one of your sessions (up or down, with an optional comment); again to change it")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        own.MapGet("/{id:guid}/feedback", GetFeedback.Endpoint).WithName("GetFeedback").WithSummary("Your rating of a reply")
            .ProducesProblem(StatusCodes.Status404NotFound);
        own.MapDelete("/{id:guid}/feedback", DeleteFeedback.Endpoint).WithName("DeleteFeedback").WithSummary("Take your rating of a reply back")
            .ProducesProblem(StatusCodes.Status404NotFound);

        app.MapGroup("/v1/admin/feedback").WithTags("Admin").RequireAuthorization(AuthSetup.AdminPolicy)
            .MapGet("", ListFeedback.Endpoint).WithName("ListFeedback")
            .WithSummary("Users' ratings of replies, filtered by assistant, model, rating and dates, last given first")
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status403Forbidden);
    }
}
