-- The daily token quota, shared by every instance: one row per subject (user id, or 'ip:<address>' for guests) and
-- UTC day. Turns reserve their worst case before the model call and settle to what they used after it.
CREATE TABLE usage_daily (
    subject text NOT NULL,
    day     date NOT NULL,
    tokens  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, day)
);
