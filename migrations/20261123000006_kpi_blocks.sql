-- KPI blocks: the conversation columns the responsiveness, resolution and badge metrics read,
-- packed per UTC day, brand and platform, so a report over a month of conversations decodes a
-- few hundred blobs instead of walking hundreds of thousands of index entries. Triggers mark
-- the days a conversation write touches as dirty; `carepulse` rebuilds dirty days after
-- ingest (store::blocks), and a report reads dirty days from the conversations themselves, so
-- a stale block is never read.

-- When the conversation is resolved once every recorded instant has passed (KPI.md: the
-- earliest of marked and thanks, else the last brand reply when the brand spoke last and no
-- customer waits). As seen at an earlier `now` it can only be later or unresolved
-- (store::blocks explains why a report may key resolution by it).
ALTER TABLE conversations ADD COLUMN settled_resolution_at INTEGER GENERATED ALWAYS AS (
    CASE
        WHEN first_inbound_at IS NULL THEN NULL
        WHEN marked_resolved_at IS NOT NULL
             AND (thanks_resolved_at IS NULL OR marked_resolved_at <= thanks_resolved_at)
            THEN marked_resolved_at
        WHEN thanks_resolved_at IS NOT NULL THEN thanks_resolved_at
        WHEN last_outbound_at IS NOT NULL AND waiting_since IS NULL
             AND (last_inbound_at IS NULL OR last_outbound_at >= last_inbound_at)
             AND last_outbound_at = last_message_at
            THEN last_outbound_at
    END
) VIRTUAL;

CREATE INDEX conversations_settled ON conversations (settled_resolution_at)
    WHERE settled_resolution_at IS NOT NULL;

-- kind 1: conversations by the UTC day of their first inbound message; kind 2: by the UTC day
-- of settled_resolution_at. `data` is store::blocks' row encoding.
CREATE TABLE kpi_blocks (
    kind     INTEGER NOT NULL,
    day      INTEGER NOT NULL,
    brand    TEXT    NOT NULL,
    platform TEXT    NOT NULL,
    data     BLOB    NOT NULL,
    PRIMARY KEY (kind, day, brand, platform)
) WITHOUT ROWID;

-- UTC days (start instants) whose blocks no longer match the conversations.
CREATE TABLE kpi_blocks_dirty (
    day INTEGER PRIMARY KEY
);

-- (NOT EXISTS rather than INSERT OR IGNORE: a trigger's conflict clause gives way to the one of
-- the statement that fired it, and ingest's upsert would turn a repeated day into an error.)
CREATE TRIGGER conversations_blocks_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.first_inbound_at - ((NEW.first_inbound_at % 86400) + 86400) % 86400
    WHERE NEW.first_inbound_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.first_inbound_at - ((NEW.first_inbound_at % 86400) + 86400) % 86400);
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.settled_resolution_at - ((NEW.settled_resolution_at % 86400) + 86400) % 86400
    WHERE NEW.settled_resolution_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.settled_resolution_at - ((NEW.settled_resolution_at % 86400) + 86400) % 86400);
END;

CREATE TRIGGER conversations_blocks_update AFTER UPDATE ON conversations BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.first_inbound_at - ((OLD.first_inbound_at % 86400) + 86400) % 86400
    WHERE OLD.first_inbound_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.first_inbound_at - ((OLD.first_inbound_at % 86400) + 86400) % 86400);
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.settled_resolution_at - ((OLD.settled_resolution_at % 86400) + 86400) % 86400
    WHERE OLD.settled_resolution_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.settled_resolution_at - ((OLD.settled_resolution_at % 86400) + 86400) % 86400);
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.first_inbound_at - ((NEW.first_inbound_at % 86400) + 86400) % 86400
    WHERE NEW.first_inbound_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.first_inbound_at - ((NEW.first_inbound_at % 86400) + 86400) % 86400);
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.settled_resolution_at - ((NEW.settled_resolution_at % 86400) + 86400) % 86400
    WHERE NEW.settled_resolution_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.settled_resolution_at - ((NEW.settled_resolution_at % 86400) + 86400) % 86400);
END;

CREATE TRIGGER conversations_blocks_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.first_inbound_at - ((OLD.first_inbound_at % 86400) + 86400) % 86400
    WHERE OLD.first_inbound_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.first_inbound_at - ((OLD.first_inbound_at % 86400) + 86400) % 86400);
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.settled_resolution_at - ((OLD.settled_resolution_at % 86400) + 86400) % 86400
    WHERE OLD.settled_resolution_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.settled_resolution_at - ((OLD.settled_resolution_at % 86400) + 86400) % 86400);
END;

-- Every day with conversations starts dirty; the first refresh builds its blocks.
INSERT OR IGNORE INTO kpi_blocks_dirty (day)
SELECT DISTINCT first_inbound_at - ((first_inbound_at % 86400) + 86400) % 86400
FROM conversations WHERE first_inbound_at IS NOT NULL;
INSERT OR IGNORE INTO kpi_blocks_dirty (day)
SELECT DISTINCT settled_resolution_at - ((settled_resolution_at % 86400) + 86400) % 86400
FROM conversations WHERE settled_resolution_at IS NOT NULL;

-- Turnarounds are counted and ranked from the index alone (the rows of the few listed are read
-- afterwards).
DROP INDEX conversations_turnaround;
CREATE INDEX conversations_turnaround_cover ON conversations
    (last_inbound_at, first_inbound_at, category, opening_compound, brand, platform, products)
    WHERE closing_after_reply = 1 AND closing_compound >= 0.5;
