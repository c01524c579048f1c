using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>
/// The <c>openai</c> npm client, unchanged (tests/NodeClient, installed by test.sh with <c>npm ci</c>), runs a tool-call round
/// trip against the service, streamed and not: Node's reading of the wire format, not only .NET's.
/// </summary>
public class NodeClientTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private const string Arguments = """{"city": "Paris"}""";

    [Fact]
    public async Task TheOpenAiNpmClient_ToolCallRoundTrip_StreamedAndNot()
    {
        // The fake model calls the tool, and answers once it has the tool's result.
        api.Upstream.ScriptFor = body => body["messages"]!.AsArray().Last()!["role"]!.GetValue<string>() == "tool"
            ? new FakeScript { Chunks = ["It is", " 18 degrees."] }
            : new FakeScript { Chunks = [], ToolCalls = [new FakeToolCall("call_node_1", "get_weather", Arguments)], ArgumentPieces = 3 };

        var seen = JsonNode.Parse(await RunNodeAsync("tool-round-trip.mjs"))!;

        foreach (var way in new[] { "streamed", "whole" })
        {
            var run = seen[way]!;
            run["finish"]!.GetValue<string>().Should().Be("tool_calls", way);
            run["calls"]!.AsArray().Should().ContainSingle(way);
            run["calls"]![0]!["id"]!.GetValue<string>().Should().Be("call_node_1");
            run["calls"]![0]!["name"]!.GetValue<string>().Should().Be("get_weather");
            run["calls"]![0]!["arguments"]!.GetValue<string>().Should().Be(Arguments);
            run["answer"]!.GetValue<string>().Should().Be("It is 18 degrees.");
        }
        seen["streamed"]!["pieces"]!.GetValue<int>().Should().Be(3, "the arguments come in the pieces the model sent");
        var answered = api.Upstream.Requests.Where(r => r.Body["messages"]!.AsArray().Last()!["role"]!.GetValue<string>() == "tool").ToList();
        answered.Should().HaveCount(2);
        foreach (var request in answered)
        {
            var messages = request.Body["messages"]!.AsArray();
            messages[^2]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>().Should().Be(Arguments);
            messages[^1]!["tool_call_id"]!.GetValue<string>().Should().Be("call_node_1");
            request.Body["tools"]![0]!["function"]!["name"]!.GetValue<string>().Should().Be("get_weather");
        }
    }

    private async Task<string> RunNodeAsync(string script)
    {
        var folder = NodeClientFolder();
        File.Exists(Path.Combine(folder, "node_modules", "openai", "package.json")).Should().BeTrue("test.sh installs the openai npm client (npm ci in tests/NodeClient)");
        var start = new ProcessStartInfo("node", script) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["CHATSLICES_BASE_URL"] = new Uri(api.ServerAddress, "/v1").ToString();
        start.Environment["CHATSLICES_TOKEN"] = Tokens.For("node-client-user");
        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        node.ExitCode.Should().Be(0, await errors);
        return await output;
    }

    private static string NodeClientFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tests", "NodeClient", "package.json"))) return Path.Combine(dir.FullName, "tests", "NodeClient");
        throw new DirectoryNotFoundException("tests/NodeClient is not above the test assembly.");
    }
}
