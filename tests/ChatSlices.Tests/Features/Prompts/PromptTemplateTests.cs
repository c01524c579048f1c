using ChatSlices.Infrastructure.Prompts;
using ChatSlices.Features.Prompts;

namespace ChatSlices.Tests.Features.Prompts;

public class PromptTemplateTests
{
    [Fact]
    public void Parse_ListsEachVariableOnce_InOrderOfFirstAppearance()
    {
        var parsed = PromptTemplate.Parse("Dear {name}, about {topic_2}: {name} asked {Topic_2}.");

        parsed.IsValid.Should().BeTrue();
        parsed.Variables.Should().Equal("name", "topic_2", "Topic_2");
    }

    [Fact]
    public void Parse_TreatsDoubledBracesAsLiteralBraces_NotVariables()
    {
        var parsed = PromptTemplate.Parse("""Reply as JSON like {{"task": "{task}"}} and keep }} and {{ as they are; {{not_a_var}}""");

        parsed.IsValid.Should().BeTrue();
        parsed.Variables.Should().Equal("task");
    }

    [Fact]
    public void Parse_OfContentWithoutBraces_HasNoVariables()
    {
        PromptTemplate.Parse("Plain text, nothing to fill.").Variables.Should().BeEmpty();
    }

    [Theory]
    [InlineData("Summarise this: {text", "Unclosed '{' at position 16")]
    [InlineData("{", "Unclosed '{' at position 0")]
    [InlineData("a {b {c}", "Unclosed '{' at position 2")]
    [InlineData("{{ fine }} but {this", "Unclosed '{' at position 15")]
    [InlineData("stray } here", "Unmatched '}' at position 6")]
    [InlineData("{a}}", "Unmatched '}' at position 3")]
    [InlineData("empty {} braces", "Invalid placeholder '{}' at position 6")]
    [InlineData("spaced { name } braces", "Invalid placeholder '{ name }' at position 7")]
    [InlineData("dashed {first-name}", "Invalid placeholder '{first-name}' at position 7")]
    public void Parse_ReportsTheFirstBraceError_WithItsPosition(string content, string error)
    {
        var parsed = PromptTemplate.Parse(content);

        parsed.IsValid.Should().BeFalse();
        parsed.Error.Should().StartWith(error);
    }

    [Fact]
    public void Render_FillsTheGivenVariables_UnescapesBraces_AndLeavesMissingOnesAsPlaceholders()
    {
        var rendered = PromptTemplate.Render("{greeting} {name}! {{literal}} {missing} and {missing} again, {other}.",
            new Dictionary<string, string> { ["greeting"] = "Hello", ["name"] = "Ada", ["unused"] = "x" });

        rendered.Text.Should().Be("Hello Ada! {literal} {missing} and {missing} again, {other}.");
        rendered.MissingVariables.Should().Equal("missing", "other");
    }

    [Fact]
    public void Render_InsertsValuesVerbatim_WithoutParsingThemAgain()
    {
        var rendered = PromptTemplate.Render("Echo: {v}", new Dictionary<string, string> { ["v"] = "{not_a_var} }} {{" });

        rendered.Text.Should().Be("Echo: {not_a_var} }} {{");
        rendered.MissingVariables.Should().BeEmpty();
    }

    [Fact]
    public void Render_NamesAreCaseSensitive()
    {
        PromptTemplate.Render("{Name}", new Dictionary<string, string> { ["name"] = "x" }).MissingVariables.Should().Equal("Name");
    }

    [Fact]
    public void RenderedLength_IsTheLengthRenderWouldProduce()
    {
        var values = new Dictionary<string, string> { ["a"] = "12345" };
        const string content = "{a}{a} {{x}} {b}";

        PromptTemplate.RenderedLength(content, values).Should().Be(PromptTemplate.Render(content, values).Text.Length);
    }

    [Fact]
    public void Render_OfInvalidContent_Throws()
    {
        var render = () => PromptTemplate.Render("{oops", null);

        render.Should().Throw<FormatException>().WithMessage("Unclosed '{' at position 0*");
    }
}
