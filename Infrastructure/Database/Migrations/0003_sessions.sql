-- Title search for GET /v1/chat/history?q= (message text is indexed by chat_messages.search).
ALTER TABLE chat_sessions
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(title, ''))) STORED;
CREATE INDEX chat_sessions_search_idx ON chat_sessions USING gin (search);
CREATE INDEX chat_sessions_user_created_idx ON chat_sessions (user_id, created_at);

-- Idempotency-Key for non-streaming turns: one row per (user, key), answered from here for 24 hours.
CREATE TABLE idempotency_keys (
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       text NOT NULL CHECK (status IN ('in_flight', 'done')),
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
