using System.Reflection;

namespace ChatSlices.Infrastructure.Endpoints;

public static class EndpointModules
{
    public static IEndpointRouteBuilder MapEndpointModules(this IEndpointRouteBuilder app, Assembly assembly)
    {
        var map = typeof(EndpointModules).GetMethod(nameof(MapModule), BindingFlags.NonPublic | BindingFlags.Static)!;
        foreach (var module in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false } && t.IsAssignableTo(typeof(IEndpointModule))))
            map.MakeGenericMethod(module).Invoke(null, [app]);
        return app;
    }

    private static void MapModule<T>(IEndpointRouteBuilder app) where T : IEndpointModule => T.Map(app);
}
