using Carter;
using ChatSlices.Infrastructure.Auth;

namespace ChatSlices.Features.Assistants;

// Inside the namespace: the namespace Features.ClearCache would hide its class's name.
using ChatSlices.Features.ClearCache;

/// <summary>
/// Every route under <c>/v1/assistants</c>: reads for everyone (private assistants for signed-in callers), writes for
/// admins, one group each. Clearing an assistant's cache is its own slice, mapped here with the other admin routes.
/// </summary>
public sealed class AssistantsEndpoints : ICarterModule
{
    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var reads = app.MapGroup("/v1/assistants").WithTags("Assistants").RequireAuthorization(AuthSetup.OptionalPolicy);
        reads.MapGet("", ListAssistants.Endpoint).WithName("ListAssistants").WithSummary("Assistants (guests see only public ones)");
        reads.MapGet("/{id:guid}", GetAssistant.Endpoint).WithName("GetAssistant").WithSummary("An assistant (401 for guests when it requires authentication)");
        reads.MapGet("/{id:guid}/avatar", GetAvatar.Endpoint).WithName("GetAssistantAvatar").WithSummary("The assistant's avatar image")
            .ProducesProblem(StatusCodes.Status404NotFound);

        var admin = app.MapGroup("/v1/assistants").WithTags("Assistants").RequireAuthorization(AuthSetup.AdminPolicy);
        admin.MapPost("", CreateAssistant.Endpoint).WithName("CreateAssistant").WithSummary("Create an assistant")
            .ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapPut("/{id:guid}", UpdateAssistant.Endpoint).WithName("UpdateAssistant").WithSummary("Change an assistant (fields left out stay)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapDelete("/{id:guid}", DeleteAssistant.Endpoint).WithName("DeleteAssistant").WithSummary("Delete an assistant with its avatar, documents and cache");
        admin.MapPost("/{id:guid}/avatar", UploadAvatar.Endpoint).WithName("UploadAssistantAvatar").WithSummary("Set the avatar (PNG, JPEG, GIF or WebP, ≤ 2 MB)").DisableAntiforgery()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity);
        admin.MapDelete("/{id:guid}/avatar", DeleteAvatar.Endpoint).WithName("DeleteAssistantAvatar").WithSummary("Remove the avatar");
        admin.MapPost("/{id:guid}/documents", AddKnowledge.Endpoint).WithName("AddAssistantDocument").WithSummary("Add a PDF to the assistant's knowledge").DisableAntiforgery()
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests).ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        admin.MapGet("/{id:guid}/documents", ListKnowledge.Endpoint).WithName("ListAssistantDocuments").WithSummary("The assistant's knowledge documents");
        admin.MapDelete("/{id:guid}/cache", ClearCache.Endpoint).WithName("ClearAssistantCache").WithSummary("Purge the assistant's semantic cache");
    }
}
