-- Rollups kept current at ingest, so a report over a month of millions of messages sums a
-- few thousand rows instead of reading every message. Buckets are 15 minutes (created_at
-- rounded down to a multiple of 900 s): every time zone offset in use is a multiple of 15 min,
-- so any local day is a whole number of buckets.

-- Messages per bucket, brand, platform, direction and category ('' when unclassified), with
-- the sentiment sums the KPIs read (a message without a compound counts in n only).
CREATE TABLE rollup_volume (
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
    PRIMARY KEY (bucket, brand, platform, direction, category)
) WITHOUT ROWID;

-- Inbound messages that name a product or a topic, per bucket, brand, platform and their
-- ",name," lists.
CREATE TABLE rollup_tags (
    bucket   INTEGER NOT NULL,
    brand    TEXT    NOT NULL,
    platform TEXT    NOT NULL,
    products TEXT    NOT NULL,
    topics   TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (bucket, brand, platform, products, topics)
) WITHOUT ROWID;

INSERT INTO rollup_volume
SELECT created_at / 900 * 900, brand, platform, direction, coalesce(category, ''), count(*),
       total(compound), coalesce(sum(compound >= 0.05), 0),
       coalesce(sum(compound > -0.05 AND compound < 0.05), 0), coalesce(sum(compound <= -0.05), 0)
FROM messages
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO rollup_tags
SELECT created_at / 900 * 900, brand, platform, products, topics, count(*)
FROM messages
WHERE direction = 'inbound' AND (products <> ',' OR topics <> ',')
GROUP BY 1, 2, 3, 4, 5;

-- The backlog (actionable conversations whose customer waits) from the index alone.
CREATE INDEX conversations_backlog ON conversations (waiting_since, brand, platform, products)
    WHERE waiting_since IS NOT NULL AND actionable = 1;
