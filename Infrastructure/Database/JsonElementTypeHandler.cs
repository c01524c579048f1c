using System.Data;
using System.Text.Json;
using Dapper;
using Npgsql;
using NpgsqlTypes;

namespace ChatSlices.Infrastructure.Database;

/// <summary>jsonb columns read as <see cref="JsonElement"/> (embedded as-is in responses) and written as jsonb.</summary>
public sealed class JsonElementTypeHandler : SqlMapper.TypeHandler<JsonElement>
{
    public override void SetValue(IDbDataParameter parameter, JsonElement value)
    {
        parameter.Value = value.GetRawText();
        if (parameter is NpgsqlParameter npgsql) npgsql.NpgsqlDbType = NpgsqlDbType.Jsonb;
    }

    public override JsonElement Parse(object value) => value switch
    {
        string text => JsonDocument.Parse(text).RootElement.Clone(),
        _ => throw new DataException($"Cannot read JSON from {value.GetType().Name}."),
    };
}
