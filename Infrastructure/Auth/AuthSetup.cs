using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Tokens;

namespace ChatSlices.Infrastructure.Auth;

public static class AuthSetup
{
    public const string AdminPolicy = "admin";
    public const string UserPolicy = "user";

    /// <summary>Guests allowed, but a token that is sent must be valid: an invalid one is 401, not a silent guest.</summary>
    public const string OptionalPolicy = "optional";

    private static readonly string[] AsymmetricAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    public static IServiceCollection AddChatSlicesAuth(this IServiceCollection services)
    {
        services.AddOptions<AuthSettings>().BindConfiguration(AuthSettings.Section);
        services.AddSingleton<UserDirectory>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<AuthSettings>, TimeProvider, ILoggerFactory>((jwt, settings, clock, logs) => Configure(jwt, settings.Value, clock, logs));

        services.AddAuthorizationBuilder()
            .AddPolicy(UserPolicy, p => p.RequireAuthenticatedUser())
            .AddPolicy(AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole("admin"))
            .AddPolicy(OptionalPolicy, p => p.RequireAssertion(ctx =>
                ctx.User.Identity?.IsAuthenticated == true
                || ctx.Resource is not HttpContext http
                || !http.Request.Headers.Authorization.Any()));
        return services;
    }

    /// <summary>Larger bearer tokens are refused before they are parsed.</summary>
    public const int MaxTokenBytes = 16 * 1024;

    private static void Configure(JwtBearerOptions jwt, AuthSettings settings, TimeProvider clock, ILoggerFactory logs)
    {
        jwt.MapInboundClaims = false;
        jwt.TokenHandlers.Clear();
        jwt.TokenHandlers.Add(new JsonWebTokenHandler { MapInboundClaims = false, MaximumTokenSizeInBytes = MaxTokenBytes });
        jwt.RequireHttpsMetadata = settings.RequireHttpsMetadata;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidAudience = settings.Audience,
            ClockSkew = TimeSpan.FromSeconds(30),
            NameClaimType = "name",
            RoleClaimType = "role",
        };

        if (!string.IsNullOrWhiteSpace(settings.Authority))
        {
            jwt.Authority = settings.Authority;
            jwt.TokenValidationParameters.ValidIssuer = settings.Issuer; // null: the discovery document's issuer
            jwt.TokenValidationParameters.ValidAlgorithms = AsymmetricAlgorithms;
            // As JwtBearer would build it (a 60 s timeout, at most 10 MB), with metadata that follows key rotation at once.
            var backchannel = new HttpClient { Timeout = jwt.BackchannelTimeout, MaxResponseContentBufferSize = 10 * 1024 * 1024 };
            jwt.MetadataAddress = settings.Authority.TrimEnd('/') + "/.well-known/openid-configuration";
            jwt.ConfigurationManager = new AuthorityMetadata(jwt.MetadataAddress,
                new HttpDocumentRetriever(backchannel) { RequireHttps = settings.RequireHttpsMetadata }, clock, logs.CreateLogger<AuthorityMetadata>());
        }
        else if (!string.IsNullOrWhiteSpace(settings.SigningKey))
        {
            jwt.TokenValidationParameters.ValidIssuer = settings.EffectiveIssuer;
            jwt.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(settings.SigningKey));
            jwt.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }

        jwt.Events = new JwtBearerEvents
        {
            OnMessageReceived = RefreshKeysForAnUnknownKid,
            OnTokenValidated = ctx =>
            {
                if (string.IsNullOrWhiteSpace(ctx.Principal?.UserId())) ctx.Fail("The token has no sub claim.");
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>
    /// With an authority: a token whose <c>kid</c> the cached keys do not hold may be signed with a key the authority has just
    /// rotated in. The metadata is fetched anew before the token is validated (at most once a minute, see
    /// <see cref="AuthorityMetadata"/>), so that the first such token is accepted.
    /// </summary>
    private static async Task RefreshKeysForAnUnknownKid(MessageReceivedContext ctx)
    {
        if (ctx.Options.ConfigurationManager is not AuthorityMetadata metadata) return;
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length > MaxTokenBytes + 7) return;
        string kid;
        try
        {
            kid = new JsonWebToken(header[7..].Trim()).Kid;
        }
        catch (ArgumentException)
        {
            return; // not a JWT: validation refuses it
        }
        if (string.IsNullOrEmpty(kid)) return;
        try
        {
            await metadata.RefreshForKeyAsync(kid, ctx.HttpContext.RequestAborted);
        }
        catch (InvalidOperationException)
        {
            // The authority cannot be reached: the handler meets the same when it validates.
        }
    }

    /// <summary>Records every authenticated caller in <c>users</c> (first sight creates the row).</summary>
    public static IApplicationBuilder UseUserDirectory(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (http.User.UserId() is not null)
            await http.RequestServices.GetRequiredService<UserDirectory>().EnsureAsync(http.User, http.RequestAborted);
        await next(http);
    });
}
