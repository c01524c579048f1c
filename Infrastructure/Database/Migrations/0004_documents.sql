-- Uploaded PDFs: owned by exactly one session or one assistant (assistants arrive later; the column is ready).
CREATE TABLE documents (
    id           uuid PRIMARY KEY,
    session_id   uuid REFERENCES chat_sessions (id) ON DELETE CASCADE,
    assistant_id uuid,
    uploaded_by  text REFERENCES users (id) ON DELETE SET NULL,
    filename     text NOT NULL,
    mime_type    text NOT NULL,
    file_size    bigint NOT NULL,
    sha256       text NOT NULL,
    content      bytea NOT NULL,
    page_count   int NOT NULL,
    metadata     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((session_id IS NULL) <> (assistant_id IS NULL))
);
CREATE UNIQUE INDEX documents_session_sha256_idx ON documents (session_id, sha256) WHERE session_id IS NOT NULL;
CREATE UNIQUE INDEX documents_assistant_sha256_idx ON documents (assistant_id, sha256) WHERE assistant_id IS NOT NULL;
CREATE INDEX documents_assistant_idx ON documents (assistant_id, created_at) WHERE assistant_id IS NOT NULL;

CREATE TABLE document_pages (
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    page        int NOT NULL,
    text        text NOT NULL,
    PRIMARY KEY (document_id, page)
);

-- Chunks carry their owner (session or assistant) so that a search filters without joining documents.
-- One document is chunked once per embedding model; vectors of different models are never compared.
CREATE TABLE chunks (
    id              uuid PRIMARY KEY,
    document_id     uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    session_id      uuid,
    assistant_id    uuid,
    embedding_model text NOT NULL,
    ordinal         int NOT NULL,
    page_from       int NOT NULL,
    page_to         int NOT NULL,
    content         text NOT NULL,
    embedding       vector NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}',
    search          tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED,
    UNIQUE (document_id, embedding_model, ordinal)
);
CREATE INDEX chunks_session_idx ON chunks (session_id, embedding_model) WHERE session_id IS NOT NULL;
CREATE INDEX chunks_assistant_idx ON chunks (assistant_id, embedding_model) WHERE assistant_id IS NOT NULL;
CREATE INDEX chunks_search_idx ON chunks USING gin (search);
CREATE INDEX chunks_metadata_idx ON chunks USING gin (metadata jsonb_path_ops);
-- HNSW indexes (cosine) are made per embedding model at start-up, as partial expression indexes on
-- embedding::vector(dimensions): see VectorIndexes.
