using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Prompts;
using System.Text.Json;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;

namespace ChatSlices.Features.Prompts;

/// <summary>
/// A prompt as API.md shows it. Templates (<c>is_template</c>) belong to nobody and are readable by every signed-in caller.
/// Settable properties rather than a positional record: Npgsql reports <c>text[]</c> columns as <see cref="Array"/>, which
/// Dapper's constructor matching does not accept for <c>string[]</c>, while its property mapping does.
/// </summary>
public sealed record PromptView
{
    public Guid Id { get; init; }
    public string Title { get; init; } = "";
    public string Content { get; init; } = "";
    public string? Scenario { get; init; }
    public string? Description { get; init; }
    public JsonElement Metadata { get; init; }
    public bool IsTemplate { get; init; }
    public string[] Variables { get; init; } = [];
    public int UsageCount { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    public const string Columns = """
        p.id, p.title, p.content, p.scenario, p.description, p.metadata, p.is_template, p.variables, p.usage_count, p.created_at, p.updated_at
        """;

    /// <summary>The prompts a caller may read (and preview): their own and every template. Ownership is part of every query.</summary>
    public const string Visible = PromptUsage.Visible;

    /// <summary>The prompts a caller may change or delete: their own, and templates when they are an admin.</summary>
    public const string Writable = "(CASE WHEN p.is_template THEN @IsAdmin ELSE p.owner_id = @UserId END)";

    public static Failure TemplatesAreAdminOnly(string action) =>
        new(StatusCodes.Status403Forbidden, $"Only administrators can {action} templates.", "forbidden");
}

/// <summary>The writable fields of a prompt (create and update), with their checks. Text fields are trimmed, content is kept as sent.</summary>
public sealed record PromptFields(
    string? Title = null, string? Content = null, string? Scenario = null, string? Description = null, JsonElement? Metadata = null)
{
    public const int MaxTitle = 200, MaxContent = 20_000, MaxScenario = 100, MaxDescription = 2_000, MaxMetadata = 20_000;

    public void Validate(ValidationErrors errors, bool creating)
    {
        if (creating) errors.Require(!string.IsNullOrWhiteSpace(Title), "title", "Required.");
        errors.Length(Title?.Trim(), "title", 1, MaxTitle);
        if (creating) errors.Require(Content is not null, "content", "Required.");
        ValidateContent(errors, Content, "content");
        errors.Length(Scenario?.Trim(), "scenario", 0, MaxScenario);
        errors.Length(Description?.Trim(), "description", 0, MaxDescription);
        if (Metadata is { } metadata)
        {
            if (metadata.ValueKind != JsonValueKind.Object) errors.Add("metadata", "Must be a JSON object.");
            else if (!StorableJson.IsStorable(metadata)) errors.Add("metadata", StorableJson.Problem);
            else if (metadata.GetRawText().Length > MaxMetadata) errors.Add("metadata", $"Must be at most {MaxMetadata} characters of JSON.");
            else if (metadata.TryGetProperty("tags", out var tags)
                     && (tags.ValueKind != JsonValueKind.Array || tags.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String)))
                errors.Add("metadata.tags", "Must be an array of strings (GET /v1/prompts?tag= filters on it).");
        }
    }

    /// <summary>Content checks shared with the preview of unsaved content: 1–20,000 characters with a valid placeholder syntax.</summary>
    public static void ValidateContent(ValidationErrors errors, string? content, string field)
    {
        if (content is null) return;
        if (content.Trim().Length == 0) errors.Add(field, "Must not be empty.");
        else if (content.Length > MaxContent) errors.Add(field, $"Must be at most {MaxContent} characters.");
        else if (PromptTemplate.Parse(content).Error is { } error) errors.Add(field, error);
    }

    /// <summary>Scenario and description as stored: trimmed, and an empty one is null.</summary>
    public static string? Optional(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
