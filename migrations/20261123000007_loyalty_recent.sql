-- Loyalty candidates, sharper: each author's three latest inbound praise instants and two
-- latest helpful-looking reply instants (a reply with compound >= 0.05). An author can have 3
-- praise messages in a window only if the third latest is in or after its start, and 2 helpful
-- replies only if the second latest is: a report counts exactly only those authors.
ALTER TABLE author_activity ADD COLUMN praise_1 INTEGER;
ALTER TABLE author_activity ADD COLUMN praise_2 INTEGER;
ALTER TABLE author_activity ADD COLUMN praise_3 INTEGER;
ALTER TABLE author_activity ADD COLUMN helpful_1 INTEGER;
ALTER TABLE author_activity ADD COLUMN helpful_2 INTEGER;

DELETE FROM author_activity;
INSERT INTO author_activity (author, n, last_at, praise_1, praise_2, praise_3, helpful_1, helpful_2)
SELECT author, count(*), max(created_at),
       max(CASE WHEN pr = 1 THEN created_at END), max(CASE WHEN pr = 2 THEN created_at END),
       max(CASE WHEN pr = 3 THEN created_at END), max(CASE WHEN hr = 1 THEN created_at END),
       max(CASE WHEN hr = 2 THEN created_at END)
FROM (SELECT author, created_at,
             CASE WHEN category = 'praise' THEN row_number() OVER (PARTITION BY author, category = 'praise' ORDER BY created_at DESC) END AS pr,
             CASE WHEN reply_to IS NOT NULL AND compound >= 0.05 THEN row_number() OVER (PARTITION BY author, reply_to IS NOT NULL AND compound >= 0.05 ORDER BY created_at DESC) END AS hr
      FROM messages
      WHERE direction = 'inbound' AND (category = 'praise' OR (reply_to IS NOT NULL AND compound >= 0.05)))
GROUP BY author;

DROP INDEX author_activity_repeat;
CREATE INDEX author_activity_praise_3 ON author_activity (praise_3) WHERE praise_3 IS NOT NULL;
CREATE INDEX author_activity_helpful_2 ON author_activity (helpful_2) WHERE helpful_2 IS NOT NULL;
