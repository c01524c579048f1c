using Carter;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.RateLimiting;

namespace ChatSlices.Features.Prompts;

/// <summary>
/// API.md "Prompts": a signed-in caller's prompt library. Own prompts are private (another user's is 404); templates are
/// readable by everyone signed in and created, changed and deleted by admins only (403 for others).
/// </summary>
public sealed class PromptsEndpoints : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var prompts = app.MapGroup("/v1/prompts").WithTags("Prompts").RequireAuthorization(AuthSetup.UserPolicy);
        prompts.MapPost("", CreatePrompt.Endpoint).WithName("CreatePrompt")
            .WithSummary("Save a prompt; {name} placeholders become its variables ({{ and }} are literal braces); is_template needs admin")
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        prompts.MapGet("", ListPrompts.Endpoint).WithName("ListPrompts")
            .WithSummary("The caller's prompts and the templates: filtered by scenario, tag and search (title, content, description), paged, newest first")
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        prompts.MapPost("/preview", PreviewPrompt.Endpoint).WithName("PreviewPrompt").WithMetadata(new ModelCallRoute())
            .WithSummary("Fill a stored or given prompt with variables and, when none is missing, try it on a model")
            .ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        prompts.MapGet("/{id:guid}", GetPrompt.Endpoint).WithName("GetPrompt").WithSummary("A prompt of the caller's, or a template");
        prompts.MapPut("/{id:guid}", UpdatePrompt.Endpoint).WithName("UpdatePrompt")
            .WithSummary("Change a prompt (fields left out stay; an empty scenario or description clears it); templates need admin")
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        prompts.MapDelete("/{id:guid}", DeletePrompt.Endpoint).WithName("DeletePrompt")
            .WithSummary("Delete a prompt; templates need admin")
            .ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
    }
}
