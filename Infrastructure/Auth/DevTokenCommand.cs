using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatSlices.Infrastructure.Auth;

/// <summary><c>dotnet run -- token --sub alice [--role admin] [--tier pro] [--name ..] [--email ..] [--minutes 60]</c></summary>
public static class DevTokenCommand
{
    /// <summary>The service's configuration as the command sees it: Development unless an environment is named.</summary>
    public static IConfiguration Configuration()
    {
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")
            ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environments.Development;
        return new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
    }

    public static int Run(IConfiguration configuration, IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var settings = configuration.GetSection(AuthSettings.Section).Get<AuthSettings>() ?? new AuthSettings();
        if (string.IsNullOrWhiteSpace(settings.SigningKey))
        {
            error.WriteLine("No Auth:SigningKey is configured, so no token can be minted here (with Auth:Authority, ask your identity provider).");
            return 2;
        }

        var options = ParseOptions(args);
        if (options is null || !options.TryGetValue("sub", out var sub) || sub.Count != 1)
        {
            error.WriteLine("usage: token --sub USER [--role ROLE]... [--tier free|pro|enterprise] [--name NAME] [--email EMAIL] [--azp APP] [--minutes N]");
            return 2;
        }

        var claims = new Dictionary<string, object> { ["sub"] = sub[0] };
        foreach (var name in new[] { "name", "email", "tier", "azp" })
            if (options.TryGetValue(name, out var values)) claims[name] = values[0];
        if (options.TryGetValue("role", out var roles)) claims["role"] = roles.Count == 1 ? roles[0] : roles.ToArray();
        var minutes = options.TryGetValue("minutes", out var m) && int.TryParse(m[0], out var parsed) && parsed > 0 ? parsed : 60;

        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.EffectiveIssuer,
            Audience = settings.Audience,
            Claims = claims,
            Expires = DateTime.UtcNow.AddMinutes(minutes),
            SigningCredentials = new SigningCredentials(
                new SymmetricSecurityKey(Encoding.UTF8.GetBytes(settings.SigningKey)), SecurityAlgorithms.HmacSha256),
        });
        output.WriteLine(token);
        return 0;
    }

    private static Dictionary<string, List<string>>? ParseOptions(IReadOnlyList<string> args)
    {
        var options = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Count; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count) return null;
            var name = args[i][2..];
            if (!options.TryGetValue(name, out var values)) options[name] = values = [];
            values.Add(args[i + 1]);
        }
        return options;
    }
}
