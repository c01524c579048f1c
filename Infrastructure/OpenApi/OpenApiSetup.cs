using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;

namespace ChatSlices.Infrastructure.OpenApi;

public static class OpenApiSetup
{
    private const string BearerScheme = "Bearer";

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
            return Task.CompletedTask;
        });

        // Routes that authorize (required or optional) advertise the bearer scheme and their 401.
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (!metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<IAllowAnonymous>().Any()) return Task.CompletedTask;
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
            operation.Responses ??= new OpenApiResponses();
            operation.Responses.TryAdd("401", new OpenApiResponse { Description = "Missing, invalid or expired bearer token" });
            return Task.CompletedTask;
        });
    });
}
