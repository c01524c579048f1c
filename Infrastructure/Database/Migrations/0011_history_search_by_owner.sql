-- History search scoped by its caller (GET /v1/chat/history?q=). A message's words are stored and indexed together with
-- its owner (owner_search), so one GIN index answers "this user's messages with these words" from that user's postings
-- alone: a word common to every user is not walked for all of them (as the old index on search was), and a rare one is
-- found without reading the caller's other messages. A message carries its session's owner; guest sessions (no owner)
-- have no history and no owner_search.
ALTER TABLE chat_messages ADD COLUMN user_id text;

-- Each word prefixed with 16 hex digits of md5(owner), its positions kept (phrase searches and ranking): keys of one
-- length that need no escaping in a tsquery. Two owners sharing a prefix only add candidates, which the query's join to
-- the caller's sessions removes. Words over 2,000 bytes (the prefix must fit in a word's 2,046) are left out: no search
-- names one, as q is at most 500 characters. Words never hold a space, so " '" starts each one in the text form.
CREATE FUNCTION owner_lexemes(owner text, search tsvector) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    prefix text := left(md5(owner), 16) || ':';
    too_long text[] := ARRAY(SELECT w FROM unnest(tsvector_to_array(search)) w WHERE octet_length(w) > 2000);
    kept tsvector := CASE WHEN cardinality(too_long) = 0 THEN search ELSE ts_delete(search, too_long) END;
BEGIN
    IF length(kept) = 0 THEN RETURN kept; END IF;
    RETURN ('''' || prefix || substr(replace(kept::text, ' ''', ' ''' || prefix), 2))::tsvector;
END $$;

-- The same prefix on every word of a query, its operators kept: owner_search @@ owner_query(owner, q) holds exactly when
-- the message's own words match q.
CREATE FUNCTION owner_query(owner text, query tsquery) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(query::text, '''((?:[^'']|'''')*)''', '''' || left(md5(owner), 16) || ':\1''', 'g')::tsquery;

-- Stored, not an index expression: a phrase search rechecks its candidates, which then reads the column instead of
-- computing the words again. It replaces search (and its index), which nothing else read.
ALTER TABLE chat_messages
    DROP COLUMN search,
    ADD COLUMN owner_search tsvector GENERATED ALWAYS AS (owner_lexemes(user_id, to_tsvector('simple', content))) STORED;
UPDATE chat_messages m SET user_id = s.user_id FROM chat_sessions s WHERE s.id = m.session_id AND s.user_id IS NOT NULL;
CREATE INDEX chat_messages_owner_search_idx ON chat_messages USING gin (owner_search);
