-- Rollups kept current at ingest, so a report over a month of millions of messages sums a
-- few thousand rows instead of reading every message. Each message counts in a 15-minute
-- bucket (width 900: created_at rounded down to a multiple of 900 s; every time zone offset in
-- use is a multiple of 15 min, so any local day is a whole number of them) and in a UTC-day
-- bucket (width 86400), which serve the whole UTC days inside a window.

-- Messages per bucket, brand, platform, direction and category ('' when unclassified), with
-- the sentiment sums the KPIs read (a message without a compound counts in n only).
CREATE TABLE rollup_volume (
    width        INTEGER NOT NULL,
    bucket       INTEGER NOT NULL,
    brand        TEXT    NOT NULL,
    platform     TEXT    NOT NULL,
    direction    TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    compound_sum REAL    NOT NULL,
    positive     INTEGER NOT NULL,
    neutral      INTEGER NOT NULL,
    negative     INTEGER NOT NULL,
    PRIMARY KEY (width, bucket, brand, platform, direction, category)
) WITHOUT ROWID;

-- Inbound messages that name a product or a topic, per bucket, brand, platform and their
-- ",name," lists.
CREATE TABLE rollup_tags (
    width    INTEGER NOT NULL,
    bucket   INTEGER NOT NULL,
    brand    TEXT    NOT NULL,
    platform TEXT    NOT NULL,
    products TEXT    NOT NULL,
    topics   TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (width, bucket, brand, platform, products, topics)
) WITHOUT ROWID;

INSERT INTO rollup_volume
SELECT 900, created_at / 900 * 900, brand, platform, direction, coalesce(category, ''), count(*),
       total(compound), coalesce(sum(compound >= 0.05), 0),
       coalesce(sum(compound > -0.05 AND compound < 0.05), 0), coalesce(sum(compound <= -0.05), 0)
FROM messages
GROUP BY 2, 3, 4, 5, 6;

INSERT INTO rollup_tags
SELECT 900, created_at / 900 * 900, brand, platform, products, topics, count(*)
FROM messages
WHERE direction = 'inbound' AND (products <> ',' OR topics <> ',')
GROUP BY 2, 3, 4, 5, 6;
INSERT INTO rollup_volume
SELECT 86400, created_at / 86400 * 86400, brand, platform, direction, coalesce(category, ''), count(*),
       total(compound), coalesce(sum(compound >= 0.05), 0),
       coalesce(sum(compound > -0.05 AND compound < 0.05), 0), coalesce(sum(compound <= -0.05), 0)
FROM messages
GROUP BY 2, 3, 4, 5, 6;

INSERT INTO rollup_tags
SELECT 86400, created_at / 86400 * 86400, brand, platform, products, topics, count(*)
FROM messages
WHERE direction = 'inbound' AND (products <> ',' OR topics <> ',')
GROUP BY 2, 3, 4, 5, 6;

-- The backlog (actionable conversations whose customer waits) from the index alone.
CREATE INDEX conversations_backlog ON conversations (waiting_since, brand, platform, products)
    WHERE waiting_since IS NOT NULL AND actionable = 1;

-- Loyalty: authors of inbound praise or helpful-looking replies (a reply with compound >= 0.05),
-- with how many they wrote and the last one's instant. Loyalists need at least two in the
-- window, so only authors with n >= 2 active since the window's start are counted exactly,
-- from the two per-author indexes below.
CREATE TABLE author_activity (
    author  TEXT    PRIMARY KEY,
    n       INTEGER NOT NULL,
    last_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX author_activity_repeat ON author_activity (last_at) WHERE n >= 2;
INSERT INTO author_activity
SELECT author, count(*), max(created_at)
FROM messages
WHERE direction = 'inbound' AND (category = 'praise' OR (reply_to IS NOT NULL AND compound >= 0.05))
GROUP BY author;
CREATE INDEX messages_praise_by_author ON messages (author, created_at, platform, brand, products)
    WHERE direction = 'inbound' AND category = 'praise';
CREATE INDEX messages_helpful_by_author ON messages (author, created_at, platform, conversation_id, brand, products)
    WHERE direction = 'inbound' AND reply_to IS NOT NULL AND compound >= 0.05;

-- Superseded: the covering praise index serves success stories, and loyalty reads the
-- per-author indexes above. Fewer indexes make every insert cheaper.
DROP INDEX messages_praise;
DROP INDEX messages_helpful;
DROP INDEX messages_helpful_cover;

-- Conversations auto-resolved in a window (a brand reply last, nobody waiting), most of the
-- resolved ones, read from the index alone.
DROP INDEX conversations_auto;
CREATE INDEX conversations_auto_cover ON conversations (last_outbound_at, last_message_at, last_inbound_at, first_inbound_at, first_response_at, thanks_resolved_at, marked_resolved_at, replies, reopen_count, redirected, platform, brand, products, waiting_since)
    WHERE waiting_since IS NULL;
