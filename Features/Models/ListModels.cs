using Carter;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Auth;
using MediatR;

namespace ChatSlices.Features.Models;

/// <summary>GET /v1/models: the model catalog, in the shape of OpenAI's model list plus prices and limits.</summary>
public sealed class ListModels : ICarterModule
{
    public sealed record Query : IRequest<Response>;

    public sealed record Model(
        string Id, string Object, string OwnedBy, int ContextWindow, int MaxOutputTokens,
        decimal InputPricePerMillion, decimal OutputPricePerMillion, ModelKind Kind, int? Dimensions, bool Vision)
    {
        public static Model From(ModelSpec m) => new(m.Id, "model", m.OwnedBy, m.ContextWindow, m.MaxOutputTokens,
            m.InputPricePerMillion, m.OutputPricePerMillion, m.Kind, m.Dimensions, m.Vision);
    }

    public sealed record Response(string Object, IReadOnlyList<Model> Data);

    public sealed class Handler(ModelCatalog catalog) : IRequestHandler<Query, Response>
    {
        public Task<Response> Handle(Query query, CancellationToken ct) =>
            Task.FromResult(new Response("list", catalog.All.Select(Model.From).ToList()));
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/models").WithTags("Models").RequireAuthorization(AuthSetup.OptionalPolicy)
            .MapGet("", Endpoint)
            .WithName("ListModels")
            .WithSummary("The model catalog: chat and embedding models with limits and prices");

    private static async Task<Ok<Response>> Endpoint(IMediator mediator, CancellationToken ct) =>
        TypedResults.Ok(await mediator.Send(new Query(), ct));
}
