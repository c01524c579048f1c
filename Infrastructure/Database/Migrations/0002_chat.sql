CREATE TABLE chat_sessions (
    id             uuid PRIMARY KEY,
    user_id        text REFERENCES users (id) ON DELETE CASCADE,  -- null: a guest session, readable by its id
    application_id text,
    assistant_id   uuid,
    model          text NOT NULL,
    title          text,
    archived_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX chat_sessions_user_updated_idx ON chat_sessions (user_id, updated_at DESC);

CREATE TABLE chat_messages (
    id                uuid PRIMARY KEY,
    session_id        uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content           text NOT NULL,
    model             text,
    status            text NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'interrupted', 'error')),
    error             text,
    finish_reason     text,
    prompt_tokens     int,
    completion_tokens int,
    cost              numeric(18, 8),
    usage_estimated   boolean NOT NULL DEFAULT false,
    sources           jsonb NOT NULL DEFAULT '[]',
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    search            tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED
);

CREATE INDEX chat_messages_session_created_idx ON chat_messages (session_id, created_at);
CREATE INDEX chat_messages_search_idx ON chat_messages USING gin (search);
