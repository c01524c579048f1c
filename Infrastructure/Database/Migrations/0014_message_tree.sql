-- Conversations as trees: each message has its parent (null for a session's first), a session its active leaf. The
-- active branch is the path from the root to that leaf; a regenerated reply or an edited turn is a sibling of the one
-- it replaces, and the old branch stays reachable. Deleting a message deletes its subtree.
ALTER TABLE chat_messages ADD COLUMN parent_id uuid REFERENCES chat_messages (id) ON DELETE CASCADE;
ALTER TABLE chat_sessions
    ADD COLUMN active_leaf_id uuid,
    -- Per-session settings used by every later turn that does not send its own.
    ADD COLUMN system_prompt text,
    ADD COLUMN temperature double precision,
    ADD COLUMN max_tokens int,
    -- A title the user set (create, rename, patch) is never replaced by a generated one.
    ADD COLUMN title_by_user boolean NOT NULL DEFAULT false;

-- A title the model writes after a session's first reply is in the caller's usage.
ALTER TABLE usage_ledger DROP CONSTRAINT usage_ledger_kind_check,
    ADD CONSTRAINT usage_ledger_kind_check CHECK (kind IN ('chat', 'preview', 'embedding', 'title'));

-- A reply being generated knows its user turn: a reply stored for a lost instance hangs under it too.
ALTER TABLE live_replies ADD COLUMN parent_id uuid;

-- Existing conversations become single branches: each message under the one before it, the last one active.
UPDATE chat_messages m SET parent_id = chain.parent_id
FROM (SELECT id, lag(id) OVER (PARTITION BY session_id ORDER BY created_at, id) AS parent_id FROM chat_messages) chain
WHERE chain.id = m.id AND chain.parent_id IS NOT NULL;
UPDATE chat_sessions s SET active_leaf_id = last.id
FROM (SELECT DISTINCT ON (session_id) session_id, id FROM chat_messages ORDER BY session_id, created_at DESC, id DESC) last
WHERE last.session_id = s.id;

-- Children of a message (siblings, subtrees, the walk down to a branch's newest leaf); a session's first messages.
CREATE INDEX chat_messages_parent_idx ON chat_messages (parent_id, created_at);
CREATE INDEX chat_messages_roots_idx ON chat_messages (session_id, created_at) WHERE parent_id IS NULL;
