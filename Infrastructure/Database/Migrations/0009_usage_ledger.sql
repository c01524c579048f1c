-- The usage ledger: what every model call and every ingestion spent, row by row, for the usage report
-- (GET /v1/tokens/usage). It is billing history, so nothing refers to the sessions, messages or documents it was spent
-- on: deleting or resetting a session, or deleting a file, leaves its usage where it is.
CREATE TABLE usage_ledger (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           text,                                   -- the signed-in caller; NULL for a guest
    kind              text NOT NULL CHECK (kind IN ('chat', 'preview', 'embedding')),
    model             text NOT NULL,
    prompt_tokens     bigint NOT NULL DEFAULT 0,              -- embedding: the input tokens
    completion_tokens bigint NOT NULL DEFAULT 0,
    cost              numeric(18, 8) NOT NULL DEFAULT 0,
    estimated         boolean NOT NULL DEFAULT false,         -- counted by the service's estimate, not reported by the provider
    session_id        uuid,                                   -- chat: the turn's session; embedding: the session of an uploaded file
    message_id        uuid,                                   -- chat: the stored reply
    document_id       uuid,                                   -- embedding: the document
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The report reads one user's rows in a time range, and only these columns: from the index alone.
CREATE INDEX usage_ledger_user_created_idx ON usage_ledger (user_id, created_at)
    INCLUDE (kind, model, prompt_tokens, completion_tokens, cost) WHERE user_id IS NOT NULL;

-- History is kept: every reply stored so far (the report's source until now) becomes a chat row at its own time.
INSERT INTO usage_ledger (user_id, kind, model, prompt_tokens, completion_tokens, cost, estimated, session_id, message_id, created_at)
SELECT s.user_id, 'chat', coalesce(m.model, s.model), coalesce(m.prompt_tokens, 0), coalesce(m.completion_tokens, 0),
       coalesce(m.cost, 0), m.usage_estimated, m.session_id, m.id, m.created_at
FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
WHERE m.role = 'assistant'
ORDER BY m.created_at;
