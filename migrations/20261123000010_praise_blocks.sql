-- Praise blocks: kind 3 of `kpi_blocks` holds, per UTC day, brand and platform, the inbound
-- praise messages with the highest success-story score (store::blocks), so a month's success
-- stories rank a few hundred candidates instead of every praise message. Triggers mark the day
-- of a praise message inserted, relabelled or deleted as dirty, like the conversation triggers.
CREATE TRIGGER messages_praise_insert AFTER INSERT ON messages
WHEN NEW.direction = 'inbound' AND NEW.category = 'praise' BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.created_at - ((NEW.created_at % 86400) + 86400) % 86400
    WHERE NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.created_at - ((NEW.created_at % 86400) + 86400) % 86400);
END;

CREATE TRIGGER messages_praise_update
AFTER UPDATE OF direction, category, created_at, compound, engagement, brand, platform ON messages
WHEN (OLD.direction = 'inbound' AND OLD.category = 'praise')
  OR (NEW.direction = 'inbound' AND NEW.category = 'praise') BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.created_at - ((OLD.created_at % 86400) + 86400) % 86400
    WHERE NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.created_at - ((OLD.created_at % 86400) + 86400) % 86400);
    INSERT INTO kpi_blocks_dirty (day) SELECT NEW.created_at - ((NEW.created_at % 86400) + 86400) % 86400
    WHERE NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = NEW.created_at - ((NEW.created_at % 86400) + 86400) % 86400);
END;

CREATE TRIGGER messages_praise_delete AFTER DELETE ON messages
WHEN OLD.direction = 'inbound' AND OLD.category = 'praise' BEGIN
    INSERT INTO kpi_blocks_dirty (day) SELECT OLD.created_at - ((OLD.created_at % 86400) + 86400) % 86400
    WHERE NOT EXISTS (SELECT 1 FROM kpi_blocks_dirty WHERE day = OLD.created_at - ((OLD.created_at % 86400) + 86400) % 86400);
END;

-- Every day with praise gets its block at the next refresh.
INSERT OR IGNORE INTO kpi_blocks_dirty (day)
SELECT DISTINCT created_at - ((created_at % 86400) + 86400) % 86400
FROM messages INDEXED BY messages_praise_cover
WHERE direction = 'inbound' AND category = 'praise';
