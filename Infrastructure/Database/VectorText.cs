using System.Globalization;

namespace ChatSlices.Infrastructure.Database;

/// <summary>pgvector's text form (<c>[0.1,0.2]</c>), for arrays of vectors sent as <c>text[]</c> and cast in SQL.</summary>
public static class VectorText
{
    public static string Format(ReadOnlySpan<float> vector)
    {
        var parts = new string[vector.Length];
        for (var i = 0; i < vector.Length; i++) parts[i] = vector[i].ToString("R", CultureInfo.InvariantCulture);
        return "[" + string.Join(',', parts) + "]";
    }
}
