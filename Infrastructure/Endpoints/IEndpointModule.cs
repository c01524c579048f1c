namespace ChatSlices.Infrastructure.Endpoints;

/// <summary>
/// The in-house module scan that Carter replaced. Nothing new maps through it; it goes once the last module has moved
/// to Carter. New routes: implement <c>Carter.ICarterModule</c>.
/// </summary>
public interface IEndpointModule
{
    static abstract void Map(IEndpointRouteBuilder app);
}
