-- Indexes for the KPI engine's reads: conversations resolved in a window (thanks, marked, or
-- auto: last brand reply with no customer waiting), turnarounds closed in a window, praise
-- messages and helpful replies of a window.
CREATE INDEX conversations_thanks ON conversations (thanks_resolved_at) WHERE thanks_resolved_at IS NOT NULL;
CREATE INDEX conversations_marked ON conversations (marked_resolved_at) WHERE marked_resolved_at IS NOT NULL;
CREATE INDEX conversations_auto ON conversations (last_outbound_at) WHERE waiting_since IS NULL;
CREATE INDEX conversations_turnaround ON conversations (last_inbound_at) WHERE closing_after_reply = 1 AND closing_compound >= 0.5;
CREATE INDEX messages_praise ON messages (created_at, author, platform, brand) WHERE direction = 'inbound' AND category = 'praise';
CREATE INDEX messages_helpful ON messages (created_at) WHERE direction = 'inbound' AND reply_to IS NOT NULL AND compound >= 0.05;
