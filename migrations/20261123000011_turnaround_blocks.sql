-- Turnaround blocks: kind 4 of `kpi_blocks` holds, per UTC day of the last inbound message,
-- brand and platform, how many turnarounds closed that day and the quickest of them
-- (store::blocks), so a month's report reads a few hundred small blobs instead of walking the
-- turnaround index twice. Triggers mark the day of a conversation that closes (or closed) on
-- a happy customer message as dirty.
CREATE TRIGGER conversations_turnaround_insert AFTER INSERT ON conversations
WHEN NEW.closing_after_reply = 1 AND NEW.closing_compound >= 0.5 AND NEW.last_inbound_at IS NOT NULL BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.last_inbound_at - ((NEW.last_inbound_at % 86400) + 86400) % 86400
    WHERE NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.last_inbound_at - ((NEW.last_inbound_at % 86400) + 86400) % 86400);
END;

CREATE TRIGGER conversations_turnaround_update AFTER UPDATE ON conversations
WHEN (OLD.closing_after_reply = 1 AND OLD.closing_compound >= 0.5)
  OR (NEW.closing_after_reply = 1 AND NEW.closing_compound >= 0.5) BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.last_inbound_at - ((OLD.last_inbound_at % 86400) + 86400) % 86400
    WHERE OLD.last_inbound_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.last_inbound_at - ((OLD.last_inbound_at % 86400) + 86400) % 86400);
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.last_inbound_at - ((NEW.last_inbound_at % 86400) + 86400) % 86400
    WHERE NEW.last_inbound_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.last_inbound_at - ((NEW.last_inbound_at % 86400) + 86400) % 86400);
END;

CREATE TRIGGER conversations_turnaround_delete AFTER DELETE ON conversations
WHEN OLD.closing_after_reply = 1 AND OLD.closing_compound >= 0.5 AND OLD.last_inbound_at IS NOT NULL BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.last_inbound_at - ((OLD.last_inbound_at % 86400) + 86400) % 86400
    WHERE NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.last_inbound_at - ((OLD.last_inbound_at % 86400) + 86400) % 86400);
END;

-- Every day with a turnaround gets its block at the next refresh.
INSERT OR IGNORE INTO kpi_blocks_dirty (day)
SELECT DISTINCT last_inbound_at - ((last_inbound_at % 86400) + 86400) % 86400
FROM conversations INDEXED BY conversations_turnaround_cover
WHERE closing_after_reply = 1 AND closing_compound >= 0.5 AND last_inbound_at IS NOT NULL;
