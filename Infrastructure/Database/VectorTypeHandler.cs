using System.Data;
using Dapper;
using Pgvector;

namespace ChatSlices.Infrastructure.Database;

/// <summary>
/// Dapper's side of pgvector (Pgvector.Dapper is not served): a <see cref="Vector"/> parameter goes to Npgsql as it
/// is, and Npgsql's pgvector plugin (<c>UseVector()</c> in <see cref="DatabaseSetup"/>) writes and reads the type.
/// </summary>
public sealed class VectorTypeHandler : SqlMapper.TypeHandler<Vector?>
{
    public override void SetValue(IDbDataParameter parameter, Vector? value) => parameter.Value = value is null ? DBNull.Value : value;

    public override Vector? Parse(object value) => (Vector)value;
}
