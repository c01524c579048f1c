// The openai npm client, as an application would use it: a tool-call round trip against ChatSlices, streamed and not.
// Reads CHATSLICES_BASE_URL (…/v1) and CHATSLICES_TOKEN; prints what it saw as one JSON object.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.CHATSLICES_BASE_URL, apiKey: process.env.CHATSLICES_TOKEN, maxRetries: 0 });
const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city now.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
}];
const question = { role: "user", content: "What is the weather in Paris?" };

async function streamed() {
  const stream = await client.chat.completions.create({ model: "fake-gpt", messages: [question], tools, stream: true });
  const calls = [];
  let finish = null;
  let pieces = 0;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    for (const piece of choice.delta.tool_calls ?? []) {
      const call = (calls[piece.index] ??= { id: "", name: "", arguments: "" });
      if (piece.id) call.id = piece.id;
      if (piece.function?.name) call.name = piece.function.name;
      if (piece.function?.arguments) { call.arguments += piece.function.arguments; pieces++; }
    }
    finish = choice.finish_reason ?? finish;
  }
  const messages = [question,
    { role: "assistant", content: null, tool_calls: calls.map(c => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) },
    ...calls.map(c => ({ role: "tool", tool_call_id: c.id, content: "18 degrees and sunny" }))];
  let answer = "";
  for await (const chunk of await client.chat.completions.create({ model: "fake-gpt", messages, tools, stream: true }))
    answer += chunk.choices[0]?.delta?.content ?? "";
  return { calls, finish, pieces, answer };
}

async function whole() {
  const first = await client.chat.completions.create({ model: "fake-gpt", messages: [question], tools, tool_choice: "auto" });
  const message = first.choices[0].message;
  const messages = [question, message, ...message.tool_calls.map(c => ({ role: "tool", tool_call_id: c.id, content: "18 degrees and sunny" }))];
  const second = await client.chat.completions.create({ model: "fake-gpt", messages, tools });
  return {
    calls: message.tool_calls.map(c => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })),
    finish: first.choices[0].finish_reason,
    answer: second.choices[0].message.content,
  };
}

console.log(JSON.stringify({ streamed: await streamed(), whole: await whole() }));
