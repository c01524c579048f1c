CREATE TABLE assistants (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    description       text,
    instructions      text,
    model             text,
    requires_auth     boolean NOT NULL DEFAULT false,
    settings          jsonb NOT NULL DEFAULT '{}',
    avatar            bytea,
    avatar_type       text,
    avatar_etag       text,
    avatar_bg_color   text,
    avatar_text_color text,
    knowledge_version int NOT NULL DEFAULT 1,  -- bumped when instructions or documents change: the cache scope moves on
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX assistants_name_idx ON assistants (lower(name));
CREATE INDEX assistants_public_idx ON assistants (created_at) WHERE NOT requires_auth;

ALTER TABLE chat_sessions ADD FOREIGN KEY (assistant_id) REFERENCES assistants (id) ON DELETE SET NULL;
CREATE INDEX chat_sessions_assistant_idx ON chat_sessions (assistant_id) WHERE assistant_id IS NOT NULL;
ALTER TABLE documents ADD FOREIGN KEY (assistant_id) REFERENCES assistants (id) ON DELETE CASCADE;

-- Answers an assistant gave, reusable for the same question (or a close one) within the same scope.
CREATE TABLE semantic_cache (
    id              uuid PRIMARY KEY,
    assistant_id    uuid NOT NULL REFERENCES assistants (id) ON DELETE CASCADE,
    scope_hash      text NOT NULL,
    question        text NOT NULL,
    question_hash   text NOT NULL,
    embedding_model text NOT NULL,
    embedding       vector NOT NULL,
    answer          text NOT NULL,
    sources         jsonb NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    UNIQUE (assistant_id, scope_hash, question_hash)
);
CREATE INDEX semantic_cache_expires_idx ON semantic_cache (expires_at);
-- HNSW indexes (cosine) per embedding model are made at start-up, as for chunks: see VectorIndexes.
