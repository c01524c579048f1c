-- pgvector is needed by retrieval and the semantic cache; creating it first makes a missing extension fail loudly at start-up.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE users (
    id           text PRIMARY KEY,            -- the token's sub
    name         text,
    email        text,
    tier         text NOT NULL DEFAULT 'free',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX users_created_at_idx ON users (created_at DESC);
