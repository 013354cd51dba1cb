-- Helpful replies, exact: an author's kept helpful instants now count only positive replies in
-- another customer's conversation (KPI.md, loyalists), recorded when a conversation's facts are
-- written, instead of every positive reply. Far fewer authors are loyalty candidates, so the
-- report looks up far fewer messages. Rebuilt from all messages, as `store::rollups` does.
DELETE FROM author_activity;
INSERT INTO author_activity (author, n, last_at, praise_1, praise_2, praise_3, helpful_1, helpful_2)
SELECT author, count(*), max(created_at),
       max(CASE WHEN pr = 1 THEN created_at END), max(CASE WHEN pr = 2 THEN created_at END),
       max(CASE WHEN pr = 3 THEN created_at END), max(CASE WHEN hr = 1 THEN created_at END),
       max(CASE WHEN hr = 2 THEN created_at END)
FROM (SELECT author, created_at,
             CASE WHEN praise THEN row_number() OVER (PARTITION BY author, praise ORDER BY created_at DESC) END AS pr,
             CASE WHEN helpful THEN row_number() OVER (PARTITION BY author, helpful ORDER BY created_at DESC) END AS hr
      FROM (SELECT m.author AS author, m.created_at AS created_at, m.category = 'praise' AS praise,
                   coalesce(m.reply_to IS NOT NULL AND m.compound >= 0.05 AND m.author <> c.customer, 0) AS helpful
            FROM messages m LEFT JOIN conversations c ON c.id = m.conversation_id
            WHERE m.direction = 'inbound'
              AND (m.category = 'praise' OR (m.reply_to IS NOT NULL AND m.compound >= 0.05))))
WHERE pr IS NOT NULL OR hr IS NOT NULL
GROUP BY author;
