using System.Runtime.InteropServices;
using System.Security.Claims;
using System.Text.Json;
using Carter;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.RateLimiting;
using ChatSlices.Infrastructure.Usage;
using MediatR;
using Microsoft.Extensions.Options;

namespace ChatSlices.Features.Embeddings;

/// <summary>
/// POST /v1/embeddings: OpenAI's embeddings format, served by the catalog's embedding models. The input's tokens count
/// against the caller's daily token quota and go into the usage ledger (kind <c>embedding</c>).
/// </summary>
public sealed class CreateEmbeddings : ICarterModule
{
    public const int MaxInputs = 2048;
    public const int MaxInputChars = 32_000;

    public sealed record Request(JsonElement? Input, string? Model, int? Dimensions, string? EncodingFormat, string? User);

    public sealed record Command(Request Body, ClaimsPrincipal User, Caller Caller) : IRequest<Outcome<Response>>, IValidated
    {
        /// <summary>The texts to embed: the one string, or each of the array's.</summary>
        public IReadOnlyList<string> Texts => StorableJson.OneOrMany(Body.Input) ?? [];

        public void Validate(ValidationErrors errors)
        {
            switch (Body.Input)
            {
                case null or { ValueKind: JsonValueKind.Null }:
                    errors.Add("input", "Required: a string or an array of strings.");
                    break;
                case { } input when !StorableJson.IsStorable(input):
                    errors.Add("input", StorableJson.Problem);
                    break;
                case { ValueKind: JsonValueKind.Array } many when many.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String):
                    errors.Add("input", "Send text: arrays of token ids are not supported.");
                    break;
                case { ValueKind: JsonValueKind.String or JsonValueKind.Array }:
                    var texts = Texts;
                    errors.Require(texts.Count is > 0 and <= MaxInputs, "input", $"Between 1 and {MaxInputs} texts.");
                    errors.Require(texts.All(t => t.Length is > 0 and <= MaxInputChars), "input", $"Each text must be 1 to {MaxInputChars} characters.");
                    break;
                default:
                    errors.Add("input", "Must be a string or an array of strings.");
                    break;
            }
            errors.Require(Body.EncodingFormat is null or "float" or "base64", "encoding_format", "Must be float or base64.");
            errors.Range(Body.Dimensions, "dimensions", 1, 8192);
            errors.Length(Body.User, "user", 1, 256);
        }
    }

    public sealed record Item(string Object, int Index, object Embedding);

    public sealed record Usage(int PromptTokens, int TotalTokens);

    public sealed record Response(string Object, IReadOnlyList<Item> Data, string Model, Usage Usage);

    public sealed class Handler(ModelCatalog catalog, ModelProviders providers, TokenQuota quota, UsageLedger ledger, IOptions<AiSettings> ai)
        : IRequestHandler<Command, Outcome<Response>>
    {
        public async Task<Outcome<Response>> Handle(Command command, CancellationToken ct)
        {
            var model = catalog.Require(command.Body.Model ?? ai.Value.EmbeddingModel, ModelKind.Embedding);
            if (model.Failure is { } unknown) return unknown;
            var spec = model.Value!;
            if (command.Body.Dimensions is { } wanted && wanted != spec.Dimensions)
                throw RequestValidationException.For("dimensions", $"Model {spec.Id} gives {spec.Dimensions} dimensions; leave dimensions out or send {spec.Dimensions}.");

            var texts = command.Texts;
            var counter = spec.Tokens();
            var tokens = texts.Sum(counter.Count);
            var reservation = await quota.ReserveAsync(command.Caller, tokens, ct);
            if (reservation.Failure is { } overQuota) return overQuota;
            long used = 0;
            try
            {
                var embeddings = await providers.Embedder(spec).GenerateAsync(texts, cancellationToken: ct);
                used = tokens;
                var base64 = command.Body.EncodingFormat == "base64";
                var data = embeddings.Select((e, i) => new Item("embedding", i,
                    base64 ? Convert.ToBase64String(MemoryMarshal.AsBytes(e.Vector.Span)) : e.Vector.ToArray())).ToList();
                return new Response("list", data, spec.Id, new Usage(tokens, tokens));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var error = ProviderError.From(e);
                return new Failure(error.HttpStatus, error.Message, error.Code);
            }
            finally
            {
                await ledger.RecordAsync(new UsageEntry(command.User.UserId(), UsageKind.Embedding, spec.Id, used, 0, spec.Cost(used, 0), Estimated: true),
                    reservation.Value, used);
            }
        }
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/embeddings").WithTags("Models").RequireAuthorization(AuthSetup.OptionalPolicy)
            .MapPost("", Endpoint)
            .WithName("CreateEmbeddings")
            .WithSummary("OpenAI-compatible embeddings of one text or many, by an embedding model of the catalog")
            .WithMetadata(new OpenAiErrorFormat())
            .Produces<Response>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

    private static async Task<IResult> Endpoint(Request body, ClaimsPrincipal user, IMediator mediator, HttpContext http, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(body, user, Caller.Of(http)), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value);
    }
}
