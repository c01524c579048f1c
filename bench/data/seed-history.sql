-- bench/data/seed-history.sql — history-listing data for bench/data/run.sh (run with psql against chatslices_databench,
-- after the service has applied its migrations).
--   1,000 users: `heavy` plus u001..u999.
--   100,000 sessions: 1,000 owned by `heavy`, 99,000 spread evenly over u001..u999 (99 each).
--   1,000,000 messages: 10 per session, alternating user/assistant, ~25 words each, one branch (each under the one
--   before it, the last the session's active leaf).
--   The rare word `zebracorn` is in one message of every 50th session (20 of heavy's sessions, 1,980 of the others).
-- FK triggers are skipped while loading (session_replication_role = replica): the rows are consistent by construction.
-- Secondary indexes of the two tables are dropped before the load and re-created after it from their own definitions,
-- so the end state is the schema the migrations made.
\set ON_ERROR_STOP on
\timing on
SET session_replication_role = replica;
SET maintenance_work_mem = '512MB';

CREATE TEMP TABLE saved_indexes AS
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename IN ('chat_sessions', 'chat_messages')
  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'));
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT indexname FROM saved_indexes LOOP EXECUTE format('DROP INDEX %I', r.indexname); END LOOP;
END $$;

INSERT INTO users (id, name, tier, created_at)
SELECT CASE WHEN g = 0 THEN 'heavy' ELSE 'u' || lpad(g::text, 3, '0') END, 'bench user ' || g, 'free', now() - interval '400 days'
FROM generate_series(0, 999) g;

-- Session n (1..100000): n <= 1000 belongs to heavy, the rest to u001..u999. Times spread over the last 365 days.
INSERT INTO chat_sessions (id, active_leaf_id, user_id, model, title, created_at, updated_at)
SELECT md5('session' || n)::uuid, md5('message' || n || '-10')::uuid,
       CASE WHEN n <= 1000 THEN 'heavy' ELSE 'u' || lpad((1 + (n - 1001) % 999)::text, 3, '0') END,
       CASE WHEN n % 3 = 0 THEN 'gpt-4o-mini' ELSE 'local-chat' END,
       'Conversation ' || n || ' about ' || (ARRAY['budgets', 'vectors', 'travel', 'recipes', 'contracts', 'latency', 'hiring', 'taxes'])[1 + n % 8],
       now() - interval '365 days' + (n * interval '315 seconds'),
       now() - interval '365 days' + (n * interval '315 seconds') + interval '30 minutes'
FROM generate_series(1, 100000) n;

INSERT INTO chat_messages (id, session_id, parent_id, user_id, role, content, model, status, prompt_tokens, completion_tokens, cost, created_at)
SELECT md5('message' || n || '-' || k)::uuid,
       md5('session' || n)::uuid,
       CASE WHEN k > 1 THEN md5('message' || n || '-' || (k - 1))::uuid END,
       CASE WHEN n <= 1000 THEN 'heavy' ELSE 'u' || lpad((1 + (n - 1001) % 999)::text, 3, '0') END,
       CASE WHEN k % 2 = 1 THEN 'user' ELSE 'assistant' END,
       CASE WHEN k = 5 AND n % 50 = 0 THEN 'the zebracorn appears here: ' ELSE '' END ||
       'Message ' || k || ' of conversation ' || n || ': ' ||
       (ARRAY['please summarise the quarterly budget and list the open questions for the finance team',
              'the vector index keeps recall high while latency stays low under concurrent load today',
              'book a train to the coast for the weekend and find a quiet hotel near the station',
              'a recipe with lentils, tomatoes, cumin and lemon that takes less than thirty minutes',
              'review the contract clauses on liability, termination and the renewal notice period',
              'we measured the p95 latency of the streaming endpoint before and after the change'])[1 + (n + k) % 6],
       CASE WHEN k % 2 = 1 THEN NULL ELSE 'local-chat' END,
       'complete',
       CASE WHEN k % 2 = 1 THEN NULL ELSE 120 + k END,
       CASE WHEN k % 2 = 1 THEN NULL ELSE 80 + k END,
       CASE WHEN k % 2 = 1 THEN NULL ELSE 0.00012 END,
       now() - interval '365 days' + (n * interval '315 seconds') + k * interval '1 minute'
FROM generate_series(1, 100000) n, generate_series(1, 10) k;

DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT indexdef FROM saved_indexes LOOP EXECUTE r.indexdef; END LOOP;
END $$;
RESET session_replication_role;
ANALYZE users;
ANALYZE chat_sessions;
ANALYZE chat_messages;
SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM chat_sessions) AS sessions,
       (SELECT count(*) FROM chat_messages) AS messages,
       (SELECT count(*) FROM chat_sessions WHERE user_id = 'heavy') AS heavy_sessions,
       (SELECT count(*) FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
         WHERE s.user_id = 'heavy' AND m.content LIKE '%zebracorn%') AS heavy_zebracorn_messages,
       (SELECT count(*) FROM chat_messages WHERE owner_search @@ owner_query('heavy', to_tsquery('simple', 'quarterly'))) AS heavy_quarterly_messages;
