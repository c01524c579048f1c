-- History search scoped by its caller (GET /v1/chat/history?q=): a message carries its session's owner, and one GIN
-- index answers "this user's messages with these words" without walking every user's posting list for the word.
CREATE EXTENSION IF NOT EXISTS btree_gin;
ALTER TABLE chat_messages ADD COLUMN user_id text;
UPDATE chat_messages m SET user_id = s.user_id FROM chat_sessions s WHERE s.id = m.session_id AND s.user_id IS NOT NULL;
CREATE INDEX chat_messages_user_search_idx ON chat_messages USING gin (user_id, search) WHERE user_id IS NOT NULL;
DROP INDEX chat_messages_search_idx;
