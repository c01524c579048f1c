-- Chunks re-embedded from a document without custom metadata were given JSON null, which no search's
-- `metadata @> '{}'` matches: they become the empty object they were at upload.
UPDATE chunks SET metadata = '{}'::jsonb WHERE metadata = 'null'::jsonb;
