-- Prompt library: a user's own prompts, and templates (is_template, no owner) that every signed-in caller can read.
-- pg_trgm backs the case-insensitive substring search (ILIKE) over title, content and description.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE prompts (
    id          uuid PRIMARY KEY,
    owner_id    text REFERENCES users (id) ON DELETE CASCADE,  -- null: a template
    title       text NOT NULL,
    content     text NOT NULL,
    scenario    text,
    description text,
    metadata    jsonb NOT NULL DEFAULT '{}',
    is_template boolean NOT NULL DEFAULT false,
    variables   text[] NOT NULL DEFAULT '{}',                   -- the {name} placeholders of content, parsed when saved
    usage_count int NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    search_text text GENERATED ALWAYS AS (title || E'\n' || content || E'\n' || coalesce(description, '')) STORED,
    CHECK (is_template = (owner_id IS NULL)),
    CHECK (jsonb_typeof(metadata) = 'object')
);

-- GET /v1/prompts: the caller's prompts and the templates, newest updated_at first.
CREATE INDEX prompts_owner_updated_idx ON prompts (owner_id, updated_at DESC) WHERE owner_id IS NOT NULL;
CREATE INDEX prompts_templates_updated_idx ON prompts (updated_at DESC) WHERE is_template;
CREATE INDEX prompts_scenario_idx ON prompts (scenario);
CREATE INDEX prompts_search_idx ON prompts USING gin (search_text gin_trgm_ops);
CREATE INDEX prompts_metadata_idx ON prompts USING gin (metadata jsonb_path_ops);  -- ?tag=: metadata @> '{"tags": [tag]}'

-- The templates the service ships with. Fixed ids, so that clients and later migrations can refer to them;
-- variables list the placeholders of content in order of first appearance.
INSERT INTO prompts (id, owner_id, title, content, scenario, description, metadata, is_template, variables) VALUES
(
    '01900000-0000-7000-8000-000000000001', NULL, 'Summarise',
    E'Summarise the following text in at most {max_words} words for {audience}. Keep the key facts, figures and decisions; leave out examples and repetition.\n\n{text}',
    'summarization', 'A short summary of any text for a given audience.',
    '{"tags": ["writing", "summary"]}', true, ARRAY['max_words', 'audience', 'text']
),
(
    '01900000-0000-7000-8000-000000000002', NULL, 'Translate',
    E'Translate the following text into {target_language}. Keep its meaning, tone and formatting, and reply with the translation only.\n\n{text}',
    'translation', 'Translation that keeps meaning, tone and formatting.',
    '{"tags": ["language", "translation"]}', true, ARRAY['target_language', 'text']
),
(
    '01900000-0000-7000-8000-000000000003', NULL, 'Explain like I''m new',
    E'Explain {topic} to someone who is new to it. Use plain words, one everyday analogy and a short example. Avoid jargon, or define each term the first time you use it.',
    'learning', 'A beginner-friendly explanation of a topic.',
    '{"tags": ["learning", "explanation"]}', true, ARRAY['topic']
),
(
    '01900000-0000-7000-8000-000000000004', NULL, 'Extract action items',
    E'List the action items in the following {source}. For each one give {{task, owner, due date}}, leaving out what is not stated, as a bulleted list. If there are none, say so.\n\n{text}',
    'productivity', 'The tasks, owners and due dates in meeting notes, emails or chats.',
    '{"tags": ["productivity", "meetings"]}', true, ARRAY['source', 'text']
);
