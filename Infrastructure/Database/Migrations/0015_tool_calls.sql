-- OpenAI's tool calling and end-user id on stored turns (issue 20).
-- tool_calls: on an assistant reply, the calls it made ([{id, type, function: {name, arguments}}]); on a 'tool' turn
-- (the tools' answers a client sent back), the answers ([{tool_call_id, content}]): a session continued by its id
-- replays both to the model. end_user: OpenAI's `user` field of the request, on the user's (or tool) turn.
ALTER TABLE chat_messages
    ADD COLUMN tool_calls jsonb,
    ADD COLUMN end_user text,
    DROP CONSTRAINT chat_messages_role_check,
    ADD CONSTRAINT chat_messages_role_check CHECK (role IN ('system', 'user', 'assistant', 'tool'));
