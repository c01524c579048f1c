using System.Security.Claims;

namespace ChatSlices.Infrastructure.Auth;

/// <summary>The claims of API.md "Authentication", read from the validated token.</summary>
public static class CallerClaims
{
    public static readonly string[] Tiers = ["free", "pro", "enterprise"];

    public static string? UserId(this ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true ? user.FindFirstValue("sub") : null;

    public static string RequiredUserId(this ClaimsPrincipal user) =>
        user.UserId() ?? throw new InvalidOperationException("This route requires an authenticated caller.");

    public static string Tier(this ClaimsPrincipal user) =>
        user.FindFirstValue("tier") is { } tier && Tiers.Contains(tier) ? tier : "free";

    public static string? ApplicationId(this ClaimsPrincipal user) =>
        user.FindFirstValue("azp") ?? user.FindFirstValue("client_id");

    public static bool IsAdmin(this ClaimsPrincipal user) => user.IsInRole("admin");
}
