-- carepulse schema. Instants are Unix seconds (UTC). Products and topics are stored as
-- ",name,name," so that a filter is a LIKE on one column.

CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY,
    platform           TEXT    NOT NULL,
    external_id        TEXT    NOT NULL,
    brand              TEXT    NOT NULL,
    author             TEXT    NOT NULL,
    direction          TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    created_at         INTEGER NOT NULL,
    text               TEXT    NOT NULL,
    reply_to           TEXT,
    conversation_ref   TEXT,
    url                TEXT,
    engagement         INTEGER,
    customer           TEXT,
    conversation_id    INTEGER NOT NULL,
    category           TEXT,
    confidence         REAL,
    complaint_score    REAL,
    compound           REAL,
    pos                REAL,
    neu                REAL,
    neg                REAL,
    products           TEXT    NOT NULL DEFAULT ',',
    topics             TEXT    NOT NULL DEFAULT ',',
    redirect           INTEGER NOT NULL DEFAULT 0,
    classifier_version TEXT,
    ingested_at        INTEGER NOT NULL,
    UNIQUE (platform, external_id)
);
-- Volumes by window, with the columns reports group by, so a day is read from the index alone.
CREATE INDEX messages_by_time ON messages (created_at, brand, platform, direction, category);
CREATE INDEX messages_by_parent ON messages (platform, reply_to) WHERE reply_to IS NOT NULL;
CREATE INDEX messages_by_ref ON messages (platform, conversation_ref) WHERE conversation_ref IS NOT NULL;
CREATE INDEX messages_by_conversation ON messages (conversation_id);

-- One row per conversation with the facts every KPI needs, kept current at ingest.
CREATE TABLE conversations (
    id                  INTEGER PRIMARY KEY,
    platform            TEXT    NOT NULL,
    brand               TEXT    NOT NULL,
    customer            TEXT    NOT NULL,
    gap_key             TEXT,
    started_at          INTEGER NOT NULL,
    first_inbound_at    INTEGER,
    first_inbound_url   TEXT,
    first_response_at   INTEGER,
    last_message_at     INTEGER NOT NULL,
    last_inbound_at     INTEGER,
    last_outbound_at    INTEGER,
    waiting_since       INTEGER,
    inbound_count       INTEGER NOT NULL,
    outbound_count      INTEGER NOT NULL,
    replies             INTEGER NOT NULL,
    reopen_count        INTEGER NOT NULL,
    thanks_resolved_at  INTEGER,
    marked_resolved_at  INTEGER,
    actionable          INTEGER NOT NULL,
    category            TEXT,
    opening_compound    REAL,
    closing_compound    REAL,
    closing_after_reply INTEGER NOT NULL,
    redirected          INTEGER NOT NULL,
    products            TEXT    NOT NULL,
    topics              TEXT    NOT NULL,
    reply_waits         TEXT    NOT NULL
);
CREATE INDEX conversations_by_start ON conversations (first_inbound_at) WHERE first_inbound_at IS NOT NULL;
CREATE INDEX conversations_by_gap_key ON conversations (gap_key, last_message_at) WHERE gap_key IS NOT NULL;
CREATE INDEX conversations_waiting ON conversations (waiting_since) WHERE waiting_since IS NOT NULL;
CREATE INDEX conversations_by_last ON conversations (last_message_at);

-- Where each source left off; advanced in the same transaction as the messages it covers.
CREATE TABLE source_cursors (
    source     TEXT PRIMARY KEY,
    cursor     TEXT,
    updated_at INTEGER NOT NULL
);

-- Scheduled work, exactly once per (job, slot): digests, alert checks.
CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT    NOT NULL,
    slot        INTEGER NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'posted', 'failed', 'skipped')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    UNIQUE (job, slot)
);

-- Posts waiting to be delivered to chat, retried with backoff until they land.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    job_run_id   INTEGER REFERENCES job_runs (id),
    channel      TEXT    NOT NULL,
    post         TEXT    NOT NULL,
    attachments  BLOB,
    created_at   INTEGER NOT NULL,
    next_try_at  INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    delivered_at INTEGER
);
CREATE INDEX outbox_due ON outbox (next_try_at) WHERE delivered_at IS NULL;

-- Small persisted state (alert cooldowns and the like), JSON per key.
CREATE TABLE kv_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
