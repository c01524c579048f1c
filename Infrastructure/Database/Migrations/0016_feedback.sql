-- A user's rating of an assistant reply: one per user and message, replaced by a new rating, gone with its message (and
-- so with its session, whose messages cascade). The reply's session, assistant and model are copied in when the rating
-- is given (none of them changes afterwards; a deleted assistant leaves null, as on its sessions), so that the admin
-- list filters and orders on this table's own indexes.
CREATE TABLE message_feedback (
    message_id   uuid NOT NULL REFERENCES chat_messages (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id   uuid NOT NULL,
    assistant_id uuid REFERENCES assistants (id) ON DELETE SET NULL,
    model        text,
    rating       text NOT NULL CHECK (rating IN ('up', 'down')),
    comment      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id)
);

-- GET /v1/admin/feedback: newest first, alone or narrowed by assistant, model or rating (each with the date range).
CREATE INDEX message_feedback_updated_idx ON message_feedback (updated_at DESC);
CREATE INDEX message_feedback_assistant_idx ON message_feedback (assistant_id, updated_at DESC) WHERE assistant_id IS NOT NULL;
CREATE INDEX message_feedback_model_idx ON message_feedback (model, updated_at DESC);
CREATE INDEX message_feedback_rating_idx ON message_feedback (rating, updated_at DESC);
-- The user cascade.
CREATE INDEX message_feedback_user_idx ON message_feedback (user_id);
