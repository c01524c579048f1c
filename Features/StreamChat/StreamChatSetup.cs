namespace ChatSlices.Features.StreamChat;

public static class StreamChatSetup
{
    /// <summary>The chat turn's steps; each is stateless and shared by every turn.</summary>
    public static IServiceCollection AddStreamChat(this IServiceCollection services)
    {
        services.AddSingleton<ResolveTurn>();
        services.AddSingleton<StoreTurn>();
        services.AddSingleton<Retriever>();
        services.AddSingleton<SemanticCache>();
        services.AddHostedService<SemanticCachePurger>();
        services.AddSingleton<RunModel>();
        services.AddSingleton<PrepareReply>();
        services.AddSingleton<TurnEvents>();
        services.AddSingleton<LiveStreams>();
        services.AddSingleton<SharedStreams>();
        services.AddSingleton<InstanceLease>();
        services.AddHostedService(sp => sp.GetRequiredService<InstanceLease>());
        services.AddSingleton<SessionTitles>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionTitles>());
        return services;
    }
}
