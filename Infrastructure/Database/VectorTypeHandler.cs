using System.Data;
using Dapper;
using Pgvector;

namespace ChatSlices.Infrastructure.Database;

/// <summary>
/// Pgvector's own Npgsql plugin does not load on Npgsql 8+, so vectors travel as <c>real[]</c>:
/// write <c>@embedding::real[]::vector</c> in SQL and read <c>embedding::real[]</c>.
/// </summary>
public sealed class VectorTypeHandler : SqlMapper.TypeHandler<Vector>
{
    public override void SetValue(IDbDataParameter parameter, Vector? value)
    {
        parameter.Value = value is null ? DBNull.Value : value.ToArray();
    }

    public override Vector Parse(object value) => value switch
    {
        float[] floats => new Vector(floats),
        _ => throw new DataException($"Cannot read a vector from {value.GetType().Name}; select it as embedding::real[]."),
    };
}
