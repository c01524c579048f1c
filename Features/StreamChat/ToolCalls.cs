using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatSlices.Infrastructure.Mediation;

namespace ChatSlices.Features.StreamChat;

/// <summary>A tool call as OpenAI shows it (in <c>message.tool_calls</c>, and as stored with the reply that made it).</summary>
public sealed record ToolCall(string Id, string Type, ToolFunction Function);

public sealed record ToolFunction(string Name, string Arguments);

/// <summary>A tool's answer as a <c>tool</c> turn stores it: the call it answers and what the tool said.</summary>
public sealed record ToolAnswer(string ToolCallId, string Content);

/// <summary>The tool calls of a reply, put together from the pieces the model streams (by their index, in order).</summary>
public sealed class ToolCallBuilder
{
    private readonly SortedDictionary<int, (string? Id, string? Name, StringBuilder Arguments)> _calls = [];

    public bool Any => _calls.Count > 0;

    public void Add(ToolCallDelta delta)
    {
        var call = _calls.TryGetValue(delta.Index, out var known) ? known : (null, null, new StringBuilder());
        _calls[delta.Index] = (call.Id ?? delta.Id, call.Name ?? delta.Name, call.Arguments.Append(delta.Arguments));
    }

    public IReadOnlyList<ToolCall> Calls =>
        [.. _calls.Values.Select(c => new ToolCall(c.Id ?? "", "function", new ToolFunction(c.Name ?? "", c.Arguments.ToString())))];
}

/// <summary>
/// The checks of OpenAI's tool fields at the edge: <c>tools</c>, <c>tool_choice</c> and <c>parallel_tool_calls</c> offered,
/// the <c>tool_calls</c> of an assistant message, and each <c>tool</c> message answering a call of the assistant message before it.
/// </summary>
public static partial class ToolCallShapes
{
    public const int MaxTools = 128;

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();

    public static void ValidateOffer(ChatRequest request, ValidationErrors errors)
    {
        if (request.Tools is { ValueKind: not JsonValueKind.Null } tools) ValidateTools(tools, errors);
        if (request.ToolChoice is { ValueKind: not JsonValueKind.Null } choice)
        {
            errors.Require(request.OffersTools, "tool_choice", "tool_choice needs tools.");
            var named = choice.ValueKind == JsonValueKind.Object && Str(choice, "type") == "function"
                        && choice.TryGetProperty("function", out var function) && Str(function, "name") is { Length: > 0 };
            errors.Require(choice.ValueKind == JsonValueKind.String && choice.GetString() is "none" or "auto" or "required" || named,
                "tool_choice", "Must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": …}}.");
        }
        errors.Require(request.ParallelToolCalls is null || request.OffersTools, "parallel_tool_calls", "parallel_tool_calls needs tools.");
        errors.Require(!request.OffersTools || request.StreamFormat != "tokens", "tools",
            "stream_format tokens carries text only: ask for events or stream: false to get tool calls.");
    }

    private static void ValidateTools(JsonElement tools, ValidationErrors errors)
    {
        if (tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() > MaxTools)
        {
            errors.Add("tools", $"Must be an array of at most {MaxTools} tools.");
            return;
        }
        var i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var at = $"tools[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object || Str(tool, "type") != "function" || !tool.TryGetProperty("function", out var function)
                || function.ValueKind != JsonValueKind.Object)
            {
                errors.Add(at, "Must be {\"type\": \"function\", \"function\": {name, description?, parameters?, strict?}}.");
                continue;
            }
            errors.Require(Str(function, "name") is { } name && FunctionName().IsMatch(name), at + ".function.name",
                "Must be 1 to 64 letters, digits, underscores or dashes.");
            errors.Require(!function.TryGetProperty("parameters", out var parameters) || parameters.ValueKind == JsonValueKind.Object,
                at + ".function.parameters", "Must be a JSON Schema object.");
            errors.Require(!function.TryGetProperty("description", out var description) || description.ValueKind == JsonValueKind.String,
                at + ".function.description", "Must be a string.");
        }
    }

    /// <summary>The <c>tool_calls</c> of an assistant message: each with its id and the function's name and arguments.</summary>
    public static void ValidateCalls(JsonElement calls, string at, ValidationErrors errors)
    {
        if (calls.ValueKind != JsonValueKind.Array || calls.GetArrayLength() is 0 or > MaxTools)
        {
            errors.Add(at, $"Must be an array of 1 to {MaxTools} tool calls.");
            return;
        }
        var i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var valid = call.ValueKind == JsonValueKind.Object && Str(call, "id") is { Length: > 0 and <= 200 }
                        && (!call.TryGetProperty("type", out _) || Str(call, "type") == "function")
                        && call.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
                        && Str(function, "name") is { Length: > 0 and <= 64 } && Str(function, "arguments") is not null;
            errors.Require(valid, $"{at}[{i++}]", "Must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}.");
        }
    }

    /// <summary>
    /// Each <c>tool</c> message answers a call of the assistant message before it (other tool answers may come between).
    /// Tool messages at the very start answer the stored conversation's last reply; <see cref="ResolveTurn"/> checks those.
    /// </summary>
    public static void ValidateAnswers(IReadOnlyList<ChatTurn?> turns, string field, ValidationErrors errors)
    {
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i] is not { Role: "tool", ToolCallId: { } id }) continue;
            var caller = i - 1;
            while (caller >= 0 && turns[caller]?.Role == "tool") caller--;
            if (caller < 0) continue;
            errors.Require(turns[caller]!.CallIds().Contains(id), $"{field}[{i}].tool_call_id",
                $"Answers no tool call of the assistant message before it ({field}[{caller}]).");
        }
    }

    private static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
