-- Covering indexes for the KPI engine's aggregates, so a report reads indexes only.
-- Message aggregates: one index range per (direction, platform, category), already in
-- GROUP BY order, with the columns the sums and the filters read.
CREATE INDEX messages_kpi ON messages (direction, platform, category, created_at, compound, brand, products, topics);
-- Conversations started in a window: responsiveness and the badge.
CREATE INDEX conversations_kpi_start ON conversations (first_inbound_at, actionable, first_response_at, brand, platform, products, reply_waits) WHERE first_inbound_at IS NOT NULL;
-- Loyalty: praise and helpful replies of the trailing 30 days without reading the rows.
CREATE INDEX messages_praise_cover ON messages (created_at, author, platform, brand, products, compound, engagement) WHERE direction = 'inbound' AND category = 'praise';
CREATE INDEX messages_helpful_cover ON messages (created_at, author, platform, conversation_id, brand, products) WHERE direction = 'inbound' AND reply_to IS NOT NULL AND compound >= 0.05;
