using System.Globalization;
using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;

namespace ChatSlices.Features.Assistants;

/// <summary>An assistant as API.md shows it.</summary>
public sealed record AssistantView(
    Guid Id, string Name, string? Description, string? Instructions, string? Model, bool RequiresAuth, string? AvatarUrl,
    string? AvatarBgColor, string? AvatarTextColor, JsonElement Settings, DateTime CreatedAt, DateTime UpdatedAt)
{
    public const string Columns = """
        a.id, a.name, a.description, a.instructions, a.model, a.requires_auth,
        CASE WHEN a.avatar IS NULL THEN NULL ELSE '/v1/assistants/' || a.id || '/avatar' END AS avatar_url,
        a.avatar_bg_color, a.avatar_text_color, a.settings, a.created_at, a.updated_at
        """;
}

/// <summary>The writable fields of an assistant (create and update), with their checks.</summary>
public sealed record AssistantFields(
    string? Name = null, string? Description = null, string? Instructions = null, string? Model = null, bool? RequiresAuth = null,
    string? AvatarBgColor = null, string? AvatarTextColor = null, AssistantSettings? Settings = null)
{
    public void Validate(ValidationErrors errors, ModelCatalog catalog, bool creating)
    {
        if (creating) errors.Require(!string.IsNullOrWhiteSpace(Name), "name", "Required.");
        errors.Length(Name?.Trim(), "name", 1, 100);
        errors.Length(Description, "description", 0, 1000);
        errors.Length(Instructions, "instructions", 0, 20_000);
        errors.Require(Model is null || catalog.Find(Model, ModelKind.Chat) is not null, "model", ModelCatalog.UnknownModel(Model, ModelKind.Chat).Detail);
        errors.Require(AvatarBgColor is null || Color.Parse(AvatarBgColor) is not null, "avatar_bg_color", "Must be a hex color like #1E90FF.");
        errors.Require(AvatarTextColor is null || Color.Parse(AvatarTextColor) is not null, "avatar_text_color", "Must be a hex color like #FFFFFF.");
        if (Settings is { } settings)
        {
            errors.Range(settings.Temperature, "settings.temperature", 0.0, 2.0);
            errors.Range(settings.MaxTokens, "settings.max_tokens", 1, 8192);
            errors.Range(settings.Cache?.SimilarityThreshold, "settings.cache.similarity_threshold", 0.5, 1.0);
            errors.Require(settings.Cache?.TtlSeconds is null or >= 60, "settings.cache.ttl_seconds", "Must be at least 60.");
            errors.Require(settings.Cache?.Scope is null or CacheSettings.AssistantScope or CacheSettings.UserScope, "settings.cache.scope",
                "Must be assistant or user.");
        }
    }

    public Failure NameTaken() => new(StatusCodes.Status409Conflict, $"An assistant named '{Name?.Trim()}' exists already.", "name_taken");

    /// <summary>The text color to store: the given one, or black or white for contrast with a given background.</summary>
    public string? TextColorFor(string? background) =>
        AvatarTextColor ?? (background is null ? null : Color.Contrasting(background));
}

public static class Color
{
    public static (double R, double G, double B)? Parse(string value)
    {
        var hex = value.StartsWith('#') ? value[1..] : "";
        if (hex.Length == 3) hex = string.Concat(hex.Select(c => $"{c}{c}"));
        if (hex.Length != 6 || !int.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var rgb)) return null;
        return ((rgb >> 16 & 0xFF) / 255.0, (rgb >> 8 & 0xFF) / 255.0, (rgb & 0xFF) / 255.0);
    }

    /// <summary>Black on light backgrounds, white on dark ones (WCAG relative luminance; 0.179 is where contrast is equal).</summary>
    public static string? Contrasting(string background)
    {
        if (Parse(background) is not { } rgb) return null;
        static double Linear(double c) => c <= 0.03928 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4);
        var luminance = 0.2126 * Linear(rgb.R) + 0.7152 * Linear(rgb.G) + 0.0722 * Linear(rgb.B);
        return luminance > 0.179 ? "#000000" : "#FFFFFF";
    }
}
