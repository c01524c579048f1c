namespace ChatSlices.Infrastructure.Endpoints;

/// <summary>Carter's module idea: each feature maps its own routes; <see cref="EndpointModules.MapEndpointModules"/> finds them all.</summary>
public interface IEndpointModule
{
    static abstract void Map(IEndpointRouteBuilder app);
}
