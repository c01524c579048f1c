using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;

namespace ChatSlices.Infrastructure.RateLimiting;

/// <summary>Who is limited: a user by <c>sub</c> (in their tier), a guest by client address (in the guest tier).</summary>
public readonly record struct Caller(string Subject, string Tier)
{
    public static Caller Of(HttpContext http) => Of(http.User, http.Connection.RemoteIpAddress?.ToString());

    public static Caller Of(ClaimsPrincipal user, string? clientAddress) => user.UserId() is { } id
        ? new Caller(id, user.IsAdmin() ? RateLimitSettings.Admin : user.Tier())
        : new Caller("ip:" + (clientAddress ?? "unknown"), RateLimitSettings.Guest);
}
