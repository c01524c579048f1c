-- The instances serving now, each with a lease it renews, and the replies being generated, each by its instance.
-- When an instance's lease lapses (kill -9, OOM, node loss) another instance stores its replies as interrupted
-- (instance_lost) and gives back their quota reservations: no reply stays "being generated" forever.
CREATE TABLE service_instances (
    id          uuid PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz NOT NULL
);

CREATE TABLE live_replies (
    message_id    uuid PRIMARY KEY,
    session_id    uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    instance_id   uuid NOT NULL,
    model         text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    quota_subject text,
    quota_day     date,
    quota_tokens  bigint
);

CREATE INDEX live_replies_instance ON live_replies (instance_id);
