using System.Collections.Immutable;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.OpenApi;

namespace ChatSlices.Infrastructure.OpenApi;

/// <summary>The OpenAPI tags: the order the document lists them in, and one tag per operation.</summary>
public static class OpenApiTags
{
    /// <summary>The order of the reference's sections. A tag not listed here comes after these, by name.</summary>
    public static readonly ImmutableArray<string> Order =
        ["Chat", "Sessions", "Files", "Assistants", "Prompts", "Models", "Usage", "Users", "Admin", "Operations"];

    /// <summary>
    /// Files the endpoint under <paramref name="tag"/> alone: its group's tag is replaced, not added to (a route of
    /// another section mapped on a shared group, e.g. a session's files under "Files" rather than "Sessions").
    /// </summary>
    public static TBuilder WithOwnTag<TBuilder>(this TBuilder builder, string tag) where TBuilder : IEndpointConventionBuilder
    {
        builder.Finally(endpoint =>
        {
            foreach (var tags in endpoint.Metadata.OfType<ITagsMetadata>().ToList()) endpoint.Metadata.Remove(tags);
            endpoint.Metadata.Add(new TagsAttribute(tag));
        });
        return builder;
    }

    /// <summary>The document's tags in <see cref="Order"/>.</summary>
    public static ISet<OpenApiTag> Sorted(IEnumerable<OpenApiTag> tags) =>
        new SortedSet<OpenApiTag>(tags, Comparer<OpenApiTag>.Create((a, b) =>
            Rank(a) != Rank(b) ? Rank(a).CompareTo(Rank(b)) : string.CompareOrdinal(a.Name, b.Name)));

    private static int Rank(OpenApiTag tag) => Order.IndexOf(tag.Name ?? "") is >= 0 and var i ? i : Order.Length;
}
