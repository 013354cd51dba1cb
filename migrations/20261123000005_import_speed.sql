-- Conversations whose stored facts lag their messages: ingest records the stored
-- conversations a batch continues here (in the batch's transaction) and a finishing pass
-- recomputes each once and deletes its row. Live ingest finishes in the same transaction;
-- a file import finishes at its end; a killed import is finished at the next start.
CREATE TABLE conversations_dirty (
    id INTEGER PRIMARY KEY
);
