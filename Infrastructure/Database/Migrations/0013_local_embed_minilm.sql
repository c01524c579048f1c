-- local-embed is now a sentence model (all-MiniLM-L6-v2) where it hashed words: vectors stored under that name by the
-- hashing embedder mean nothing to it. Its chunks go (the next turn that searches a document chunks and embeds it again
-- with the model, as for any embedding model it has no chunks of), and so do the cache entries looked up by them.
DELETE FROM chunks WHERE embedding_model = 'local-embed';
DELETE FROM semantic_cache WHERE embedding_model = 'local-embed';
