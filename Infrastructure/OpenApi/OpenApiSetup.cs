using ChatSlices.Infrastructure.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace ChatSlices.Infrastructure.OpenApi;

public static class OpenApiSetup
{
    /// <summary>The name of the bearer security scheme in the document (Scalar preselects it).</summary>
    public const string BearerScheme = "Bearer";

    public static IServiceCollection AddChatSlicesOpenApi(this IServiceCollection services) => services.AddOpenApi(options =>
    {
        // Slices nest types called Request/Response: name schemas after the full type so they do not collide.
        options.CreateSchemaReferenceId = type =>
            type.Type.IsNested && type.Type.DeclaringType is { } owner
                ? owner.Name + type.Type.Name
                : Microsoft.AspNetCore.OpenApi.OpenApiOptions.CreateDefaultSchemaReferenceId(type);

        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "ChatSlices API",
                Version = "v1",
                Description = "Streaming LLM chat with sessions, documents, assistants and cost control.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A JWT from your identity provider (or `dotnet run -- token --sub you` in development).",
            };
            // Collected from the operations in the order routes were mapped: listed instead in OpenApiTags.Order.
            document.Tags = OpenApiTags.Sorted(document.Tags ?? new HashSet<OpenApiTag>());
            return Task.CompletedTask;
        });

        // The statuses that come from the pipeline rather than from an endpoint's own results.
        options.AddOperationTransformer((operation, context, _) =>
        {
            var description = context.Description;
            var metadata = description.ActionDescriptor.EndpointMetadata;
            operation.Responses ??= new OpenApiResponses();
            var policies = metadata.OfType<IAuthorizeData>().Select(a => a.Policy).ToHashSet();
            if (policies.Count > 0 && !metadata.OfType<IAllowAnonymous>().Any())
            {
                operation.Security ??= [];
                // An optional-auth route works without a token: the empty requirement is the "no token" alternative.
                if (policies.Contains(AuthSetup.OptionalPolicy)) operation.Security.Add(new OpenApiSecurityRequirement());
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
                operation.Responses.TryAdd("401", new OpenApiResponse { Description = "Missing, invalid or expired bearer token" });
            }
            if (policies.Contains(AuthSetup.AdminPolicy))
                operation.Responses.TryAdd("403", new OpenApiResponse { Description = "The token has no admin role" });
            if (description.SupportedRequestFormats.Any(f => f.MediaType == "application/json"))
            {
                operation.Responses.TryAdd("400", new OpenApiResponse { Description = "The body is not valid JSON" });
                operation.Responses.TryAdd("422", new OpenApiResponse { Description = "Field errors, keyed by field name" });
            }
            if (description.RelativePath?.StartsWith("v1/", StringComparison.Ordinal) == true)
            {
                operation.Responses.TryAdd("429", new OpenApiResponse { Description = "Rate limit or token quota reached (see Retry-After)" });
                operation.Responses.TryAdd("503", new OpenApiResponse { Description = "The database is unavailable (see Retry-After)" });
            }
            return Task.CompletedTask;
        });
    });
}
