using System.Reflection;
using MediatR;

namespace ChatSlices.Infrastructure.Mediation;

/// <summary>MediatR 5.1.0 has no DI extension package here, so handlers are found by one assembly scan.</summary>
public static class MediatorSetup
{
    public static IServiceCollection AddMediator(this IServiceCollection services, Assembly assembly)
    {
        services.AddScoped<ServiceFactory>(sp => sp.GetRequiredService);
        services.AddScoped<IMediator, Mediator>();
        services.AddTransient(typeof(IPipelineBehavior<,>), typeof(ValidationBehavior<,>));

        foreach (var type in assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false }))
        {
            foreach (var handler in type.GetInterfaces().Where(IsRequestHandler))
                services.AddTransient(handler, type);
        }
        return services;
    }

    private static bool IsRequestHandler(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IRequestHandler<,>);
}
