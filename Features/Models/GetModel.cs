using Carter;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using MediatR;

namespace ChatSlices.Features.Models;

/// <summary>GET /v1/models/{model}: one model of the catalog (OpenAI's retrieve-model route); ids may hold slashes (<c>org/name</c>).</summary>
public sealed class GetModel : ICarterModule
{
    public sealed record Query(string Id) : IRequest<ListModels.Model?>;

    public sealed class Handler(ModelCatalog catalog) : IRequestHandler<Query, ListModels.Model?>
    {
        public Task<ListModels.Model?> Handle(Query query, CancellationToken ct) =>
            Task.FromResult(catalog.All.FirstOrDefault(m => m.Id == query.Id) is { } model ? ListModels.Model.From(model) : null);
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/models").WithTags("Models").RequireAuthorization(AuthSetup.OptionalPolicy)
            .MapGet("/{**model}", Endpoint)
            .WithName("GetModel")
            .WithSummary("One model of the catalog, with its limits and prices")
            .ProducesProblem(StatusCodes.Status404NotFound);

    private static async Task<Results<Ok<ListModels.Model>, ProblemHttpResult>> Endpoint(string model, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Query(model), ct) is { } found ? TypedResults.Ok(found) : Failure.NotFound("Model").ToResult();
}
