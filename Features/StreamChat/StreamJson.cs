using System.Text.Json.Serialization;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Source-generated serialisation of what streams carry per chunk (the chat events, the OpenAI chunks): no reflection
/// on the hot path. Names as the HTTP JSON options give them (snake_case).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SessionStarted))]
[JsonSerializable(typeof(SourcesFound))]
[JsonSerializable(typeof(TextDelta))]
[JsonSerializable(typeof(ToolCallDelta))]
[JsonSerializable(typeof(UsageReported))]
[JsonSerializable(typeof(ChatFailed))]
[JsonSerializable(typeof(Done))]
[JsonSerializable(typeof(ChatCompletions.Chunk))]
[JsonSerializable(typeof(ChatCompletions.ErrorChunk))]
internal sealed partial class StreamJson : JsonSerializerContext;
