-- The backlog (actionable conversations whose customer waits) counted per brand and platform,
-- kept by triggers on every conversation write, so a report reads a few rows instead of
-- counting hundreds of thousands of waiting conversations. It is exact for a report at or after
-- the latest waiting instant; a report of the past counts the conversations.
CREATE TABLE backlog_counts (
    brand    TEXT    NOT NULL,
    platform TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (brand, platform)
) WITHOUT ROWID;

INSERT INTO backlog_counts (brand, platform, n)
SELECT brand, platform, count(*) FROM conversations
WHERE waiting_since IS NOT NULL AND actionable = 1 GROUP BY brand, platform;

-- (Plain statements rather than an upsert: a trigger's conflict handling gives way to the one
-- of the statement that fired it.)
CREATE TRIGGER conversations_backlog_insert AFTER INSERT ON conversations
WHEN NEW.waiting_since IS NOT NULL AND NEW.actionable = 1 BEGIN
    INSERT INTO backlog_counts (brand, platform, n) SELECT NEW.brand, NEW.platform, 0
    WHERE NOT EXISTS (SELECT 1 FROM backlog_counts WHERE brand = NEW.brand AND platform = NEW.platform);
    UPDATE backlog_counts SET n = n + 1 WHERE brand = NEW.brand AND platform = NEW.platform;
END;

CREATE TRIGGER conversations_backlog_update_old AFTER UPDATE ON conversations
WHEN OLD.waiting_since IS NOT NULL AND OLD.actionable = 1 BEGIN
    UPDATE backlog_counts SET n = n - 1 WHERE brand = OLD.brand AND platform = OLD.platform;
END;

CREATE TRIGGER conversations_backlog_update_new AFTER UPDATE ON conversations
WHEN NEW.waiting_since IS NOT NULL AND NEW.actionable = 1 BEGIN
    INSERT INTO backlog_counts (brand, platform, n) SELECT NEW.brand, NEW.platform, 0
    WHERE NOT EXISTS (SELECT 1 FROM backlog_counts WHERE brand = NEW.brand AND platform = NEW.platform);
    UPDATE backlog_counts SET n = n + 1 WHERE brand = NEW.brand AND platform = NEW.platform;
END;

CREATE TRIGGER conversations_backlog_delete AFTER DELETE ON conversations
WHEN OLD.waiting_since IS NOT NULL AND OLD.actionable = 1 BEGIN
    UPDATE backlog_counts SET n = n - 1 WHERE brand = OLD.brand AND platform = OLD.platform;
END;
