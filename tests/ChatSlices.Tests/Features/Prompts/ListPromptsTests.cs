using System.Net;
using System.Text.Json;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Tests.Features.Prompts;

/// <summary>
/// The list over seeded rows with known dates: 25 prompts of "lister" (five named ones, the newest, and 20 fillers), one of
/// "stranger", and the 4 shipped templates (created when the database was migrated, so newer than all of them).
/// </summary>
public class ListPromptsTests : IClassFixture<ListPromptsTests.SeededApi>
{
    public sealed class SeededApi : ApiFactory
    {
        public static readonly DateTime Day0 = new(2020, 1, 1, 12, 0, 0, DateTimeKind.Utc);

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await using var conn = new NpgsqlConnection(ConnectionString);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO users (id) VALUES ('lister'), ('stranger');
                INSERT INTO prompts (id, owner_id, title, content, scenario, description, metadata, variables, created_at, updated_at)
                SELECT gen_random_uuid(), 'lister', 'Filler ' || i, 'filler text', 'filler', NULL, '{}', '{}',
                       @day0 + (i || ' hours')::interval, @day0 + (i || ' hours')::interval
                FROM generate_series(1, 20) i;
                INSERT INTO prompts (id, owner_id, title, content, scenario, description, metadata, variables, created_at, updated_at)
                SELECT gen_random_uuid(), owner, title, content, scenario, description, metadata::jsonb, vars::text[],
                       @day0 + (h || ' hours')::interval, @day0 + (h || ' hours')::interval
                FROM (VALUES
                    ('lister', 'Alpha Report', 'Quarterly numbers for {team}', 'reporting', NULL, '{"tags": ["work"]}', '{team}', 21),
                    ('lister', 'Bravo email', 'Write an EMAIL to {person}', 'email', NULL, '{"tags": ["work", "email"]}', '{person}', 22),
                    ('lister', 'Charlie', 'Nothing special', 'misc', 'Mentions a Zebra here', '{"tags": ["Work"]}', '{}', 23),
                    ('lister', 'Percent', 'Give 100% effort', 'misc', NULL, '{}', '{}', 24),
                    ('lister', 'Hundreds', 'Give 1000 effort', 'misc', NULL, '{}', '{}', 25),
                    ('stranger', 'Stranger report', 'Zebra quarterly EMAIL', 'reporting', 'not yours', '{"tags": ["work", "email"]}', '{}', 30)
                ) AS v(owner, title, content, scenario, description, metadata, vars, h);
                """, conn);
            cmd.Parameters.AddWithValue("day0", Day0);
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private static readonly string[] TemplatesNewestFirst = ["Extract action items", "Explain like I'm new", "Translate", "Summarise"];
    private static readonly string[] NamedNewestFirst = ["Hundreds", "Percent", "Charlie", "Bravo email", "Alpha Report"];

    private readonly HttpClient _client;

    public ListPromptsTests(SeededApi api) => _client = api.UserClient("lister");

    private async Task<JsonElement> ListAsync(string query = "") =>
        await (await _client.GetAsync("/v1/prompts" + query)).ShouldBeJsonAsync(HttpStatusCode.OK);

    private static List<string> Titles(JsonElement page) => page.GetProperty("items").EnumerateArray().Select(p => p.Str("title")).ToList();

    private static IEnumerable<string> Fillers(int from, int to) => Enumerable.Range(to, from - to + 1).Reverse().Select(i => $"Filler {i}");

    [Fact]
    public async Task FirstPage_IsTwentyOfTheCallersPromptsAndTheTemplates_NewestFirst_WithTheExactTotal()
    {
        var page = await ListAsync();

        page.GetProperty("total").GetInt64().Should().Be(29);
        page.GetProperty("page").GetInt32().Should().Be(1);
        page.GetProperty("page_size").GetInt32().Should().Be(20);
        Titles(page).Should().Equal([.. TemplatesNewestFirst, .. NamedNewestFirst, .. Fillers(20, 10)]);
        page.EnumerateObject().Select(p => p.Name).Should().Equal("items", "total", "page", "page_size");
        page.GetProperty("items")[0].EnumerateObject().Select(p => p.Name).Should().Equal(
            "id", "title", "content", "scenario", "description", "metadata", "is_template", "variables", "usage_count", "created_at", "updated_at");
    }

    [Fact]
    public async Task Paging_ContinuesWhereThePreviousPageEnded_AndAPageBeyondTheEndIsEmptyWithTheTotal()
    {
        Titles(await ListAsync("?page=2")).Should().Equal(Fillers(9, 1));
        Titles(await ListAsync("?include_templates=false&page=3&page_size=10")).Should().Equal(Fillers(5, 1));
        (await ListAsync("?page_size=100")).GetProperty("items").GetArrayLength().Should().Be(29);

        var beyond = await ListAsync("?page=4&page_size=10");
        beyond.GetProperty("items").GetArrayLength().Should().Be(0);
        beyond.GetProperty("total").GetInt64().Should().Be(29);
        beyond.GetProperty("page").GetInt32().Should().Be(4);
        beyond.GetProperty("page_size").GetInt32().Should().Be(10);
    }

    [Theory]
    [InlineData("page=0", "page")]
    [InlineData("page=-1", "page")]
    [InlineData("page=abc", "page")]
    [InlineData("page=1.5", "page")]
    [InlineData("page_size=0", "page_size")]
    [InlineData("page_size=101", "page_size")]
    [InlineData("page_size=ten", "page_size")]
    [InlineData("include_templates=maybe", "include_templates")]
    public async Task InvalidQueryValues_Are422_NamingTheField(string query, string field)
    {
        var problem = await (await _client.GetAsync("/v1/prompts?" + query)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Should().Equal(field);
    }

    [Fact]
    public async Task IncludeTemplatesFalse_ListsOnlyTheCallersOwnPrompts()
    {
        var page = await ListAsync("?include_templates=false");

        page.GetProperty("total").GetInt64().Should().Be(25);
        page.GetProperty("items").EnumerateArray().Should().OnlyContain(p => !p.GetProperty("is_template").GetBoolean());
        Titles(page).Should().StartWith(NamedNewestFirst);
        (await ListAsync("?include_templates=true")).GetProperty("total").GetInt64().Should().Be(29);
    }

    [Fact]
    public async Task Scenario_FiltersExactly_OverOwnPromptsAndTemplates()
    {
        Titles(await ListAsync("?scenario=reporting")).Should().Equal("Alpha Report");
        Titles(await ListAsync("?scenario=misc")).Should().Equal("Hundreds", "Percent", "Charlie");
        Titles(await ListAsync("?scenario=translation")).Should().Equal("Translate");
        (await ListAsync("?scenario=translation&include_templates=false")).GetProperty("total").GetInt64().Should().Be(0);
        (await ListAsync("?scenario=report")).GetProperty("total").GetInt64().Should().Be(0);
    }

    [Fact]
    public async Task Search_IsCaseInsensitive_OverTitleContentAndDescription_AndOnlyTheCallersPrompts()
    {
        Titles(await ListAsync("?search=bravo")).Should().Equal("Bravo email");            // title
        Titles(await ListAsync("?search=QUARTERLY")).Should().Equal("Alpha Report");      // content
        Titles(await ListAsync("?search=zebra")).Should().Equal("Charlie");               // description; the stranger's is not listed
        Titles(await ListAsync("?search=Email")).Should().Equal("Extract action items", "Bravo email"); // "emails" in its description
        Titles(await ListAsync("?search=action%20ITEMS")).Should().Equal("Extract action items");
        Titles(await ListAsync("?search=action%20items&include_templates=false")).Should().BeEmpty();
        (await ListAsync("?search=nowhere-to-be-found")).GetProperty("total").GetInt64().Should().Be(0);
    }

    [Fact]
    public async Task Search_MatchesWildcardCharactersLiterally()
    {
        Titles(await ListAsync("?search=100%25")).Should().Equal("Percent");
        Titles(await ListAsync("?search=filler_text")).Should().BeEmpty();
        (await ListAsync("?search=filler%20text")).GetProperty("total").GetInt64().Should().Be(20);
    }

    [Fact]
    public async Task Tag_FiltersOnMetadataTags_Exactly()
    {
        Titles(await ListAsync("?tag=work")).Should().Equal("Bravo email", "Alpha Report");
        Titles(await ListAsync("?tag=email")).Should().Equal("Bravo email");
        Titles(await ListAsync("?tag=Work")).Should().Equal("Charlie");
        Titles(await ListAsync("?tag=translation")).Should().Equal("Translate");
        (await ListAsync("?tag=translation&include_templates=false")).GetProperty("total").GetInt64().Should().Be(0);
        (await ListAsync("?tag=nothing")).GetProperty("total").GetInt64().Should().Be(0);
    }

    [Fact]
    public async Task Filters_Combine()
    {
        Titles(await ListAsync("?tag=work&scenario=email&search=write")).Should().Equal("Bravo email");
        Titles(await ListAsync("?tag=work&scenario=reporting&search=write")).Should().BeEmpty();
        var page = await ListAsync("?scenario=filler&search=FILLER&page=2&page_size=15");
        page.GetProperty("total").GetInt64().Should().Be(20);
        Titles(page).Should().Equal(Fillers(5, 1));
    }
}
