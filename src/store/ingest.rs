//! Batched, idempotent ingest: dedupe on (platform, external id), thread new messages into
//! conversations (`kpi::threading::plan`), insert them, merge conversations the batch joined,
//! recompute the facts of every touched conversation, and advance the source's cursor, all in
//! one write transaction. A crash anywhere leaves the previous state; a re-run skips what is
//! already stored.

use std::collections::{BTreeSet, HashMap, HashSet};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{join_names, split_names, Store, StoreError};
use crate::kpi::threading::{
    self, ConversationSpan, FactMessage, PlanContext, PlanMessage, Target, ThreadingRules,
};
use crate::model::{Category, Classification, ConversationFacts, Direction, NewMessage, Platform};

/// A message ready to store: what the source gave, what `classify` said, and whether an
/// outbound reply redirects the customer to another channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifiedMessage {
    pub message: NewMessage,
    pub classification: Classification,
    pub redirect: bool,
    /// Shared by every message of a batch (the same labeler labelled them).
    pub classifier_version: std::sync::Arc<str>,
}

/// The care rules ingest needs.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestRules {
    pub threading: ThreadingRules,
    pub auto_resolve_after: i64,
}

impl Default for IngestRules {
    fn default() -> Self {
        IngestRules {
            threading: ThreadingRules::default(),
            auto_resolve_after: 24 * 3600,
        }
    }
}

/// What one call stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    pub inserted: usize,
    pub duplicates: usize,
}

impl std::ops::AddAssign for IngestOutcome {
    fn add_assign(&mut self, o: Self) {
        self.inserted += o.inserted;
        self.duplicates += o.duplicates;
    }
}

// Ingest's multi-row writes say `OR FAIL`: a constraint error then stops the statement without
// undoing its earlier rows, so SQLite keeps no statement journal (a copy of every page the
// statement changes). Nothing is lost: any error aborts the whole transaction.

/// SQLite allows 32,766 bound values per statement; rows per INSERT stay well below.
const ROWS_PER_INSERT: usize = 200;
/// Conversations per facts upsert (28 values each).
const FACTS_PER_UPSERT: usize = 100;
const KEYS_PER_LOOKUP: usize = 250;
/// Conversations per span update (5 values each).
const SPANS_PER_UPDATE: usize = 250;

fn customer_of(m: &NewMessage) -> Option<&str> {
    match m.direction {
        Direction::Inbound => Some(m.author.as_str()),
        Direction::Outbound => m.customer.as_deref(),
    }
}

fn is_unlinked(m: &NewMessage) -> bool {
    m.reply_to.is_none() && m.conversation_ref.is_none()
}

impl Store {
    /// Stores a batch (any platforms, any order) and, when given, moves `source`'s cursor in
    /// the same transaction.
    pub async fn ingest(
        &self,
        batch: Vec<ClassifiedMessage>,
        cursor: Option<(&str, Option<&str>)>,
        rules: &IngestRules,
        now: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.map_err(e))?;
        let mut outcome = IngestOutcome::default();
        for (p, msgs) in by_platform(batch) {
            outcome += ingest_platform(&mut tx, p, msgs, rules, now)
                .await
                .map_err(|e| self.map_err(e))?;
        }
        finish_dirty(&mut tx, rules)
            .await
            .map_err(|e| self.map_err(e))?;
        if let Some((source, value)) = cursor {
            sqlx::query("INSERT INTO source_cursors (source, cursor, updated_at) VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at")
                .bind(source)
                .bind(value)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        }
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(outcome)
    }

    /// Recomputes the facts of conversations a killed import left behind (a no-op, without
    /// taking the write lock, when there are none). Call before reading facts.
    pub async fn finish_pending(&self, rules: &IngestRules) -> Result<usize, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        finish_pending_on(&mut conn, rules)
            .await
            .map_err(|e| self.map_err(e))
    }

    /// Starts a bulk import: batches share transactions of about `rows_per_commit` rows and
    /// the facts of conversations continued across batches are recomputed once, by
    /// `Import::finish`. Leftovers of an earlier killed import are finished first.
    pub async fn begin_import(
        &self,
        rules: &IngestRules,
        rows_per_commit: usize,
        now: i64,
    ) -> Result<Import, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(|e| self.map_err(e))?;
        // Dropped without `finish` (an error, a kill), the connection closes, which rolls back
        // the open transaction.
        conn.close_on_drop();
        finish_pending_on(&mut conn, rules)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(Import {
            store: self.clone(),
            conn,
            in_tx: false,
            rules: rules.clone(),
            rows_per_commit: rows_per_commit.max(1),
            rows_in_tx: 0,
            now,
        })
    }

    /// Marks a conversation resolved from chat at `at`; returns false if there is no such one.
    pub async fn mark_resolved(
        &self,
        conversation_id: i64,
        at: i64,
        rules: &IngestRules,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.map_err(e))?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations WHERE id = ?")
            .bind(conversation_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        if exists.is_none() {
            return Ok(false);
        }
        let mut marks = HashMap::new();
        marks.insert(conversation_id, Some(at));
        let mut gap_keys = HashMap::new();
        let key: Option<String> =
            sqlx::query_scalar("SELECT gap_key FROM conversations WHERE id = ?")
                .bind(conversation_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        gap_keys.insert(conversation_id, key);
        recompute(&mut tx, &[conversation_id], &marks, &gap_keys, rules)
            .await
            .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(true)
    }
}

/// A bulk import in progress (see `Store::begin_import`). Dropping it without `finish` rolls
/// back the open transaction; committed batches stay, and their conversations are finished
/// by the next `Store::finish_pending` or import.
pub struct Import {
    store: Store,
    /// One connection for the whole import, its transactions begun and committed by hand: a
    /// connection handed back to the pool at each commit is not idle yet when the next batch
    /// begins, so the pool opened a second one, with a page cache of its own (30 MB more).
    conn: PoolConnection<Sqlite>,
    in_tx: bool,
    rules: IngestRules,
    rows_per_commit: usize,
    rows_in_tx: usize,
    now: i64,
}

impl Import {
    /// Stores one batch (any platforms, any order); commits when the transaction is full.
    pub async fn ingest(
        &mut self,
        batch: Vec<ClassifiedMessage>,
    ) -> Result<IngestOutcome, StoreError> {
        let n = batch.len();
        let outcome = self
            .ingest_inner(batch)
            .await
            .map_err(|e| self.store.map_err(e))?;
        self.rows_in_tx += n;
        if self.rows_in_tx >= self.rows_per_commit {
            self.commit().await?;
        }
        Ok(outcome)
    }

    async fn ingest_inner(
        &mut self,
        batch: Vec<ClassifiedMessage>,
    ) -> Result<IngestOutcome, sqlx::Error> {
        if !self.in_tx {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *self.conn)
                .await?;
            self.in_tx = true;
        }
        let mut outcome = IngestOutcome::default();
        for (p, msgs) in by_platform(batch) {
            outcome += ingest_platform(&mut self.conn, p, msgs, &self.rules, self.now).await?;
        }
        Ok(outcome)
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        if self.in_tx {
            sqlx::query("COMMIT")
                .execute(&mut *self.conn)
                .await
                .map_err(|e| self.store.map_err(e))?;
            self.in_tx = false;
        }
        self.rows_in_tx = 0;
        Ok(())
    }

    /// Commits what is pending, closes the import's connection and recomputes the facts of
    /// every conversation the import continued across batches. Returns how many conversations
    /// were recomputed.
    pub async fn finish(mut self) -> Result<usize, StoreError> {
        self.commit().await?;
        let Import {
            store, conn, rules, ..
        } = self;
        conn.close().await.map_err(|e| store.map_err(e))?;
        store.finish_pending(&rules).await
    }
}

/// The batch split by platform, in platform order, each part in batch order. A batch of one
/// platform (a file import) is passed on as it is, without a copy.
fn by_platform(mut batch: Vec<ClassifiedMessage>) -> Vec<(Platform, Vec<ClassifiedMessage>)> {
    // A stable sort keeps each platform's messages in batch order, in place.
    batch.sort_by_key(|m| m.message.platform);
    let mut parts = Vec::new();
    while let Some(last) = batch.last().map(|m| m.message.platform) {
        let start = batch.partition_point(|m| m.message.platform < last);
        let part = if start == 0 {
            std::mem::take(&mut batch)
        } else {
            batch.split_off(start)
        };
        parts.push((last, part));
    }
    parts.reverse();
    parts
}

async fn ingest_platform(
    conn: &mut SqliteConnection,
    platform: Platform,
    msgs: Vec<ClassifiedMessage>,
    rules: &IngestRules,
    now: i64,
) -> Result<IngestOutcome, sqlx::Error> {
    let total = msgs.len();
    // Dedupe within the batch, then against the store.
    let mut seen = HashSet::new();
    let msgs: Vec<ClassifiedMessage> = msgs
        .into_iter()
        .filter(|m| seen.insert(m.message.external_id.clone()))
        .collect();
    let ids: Vec<&str> = msgs
        .iter()
        .map(|m| m.message.external_id.as_str())
        .collect();
    let stored: HashSet<String> =
        lookup_pairs(conn, "external_id, 0", "external_id", platform, &ids, false)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    let fresh: Vec<ClassifiedMessage> = msgs
        .into_iter()
        .filter(|m| !stored.contains(&m.message.external_id))
        .collect();
    let outcome = IngestOutcome {
        inserted: fresh.len(),
        duplicates: total - fresh.len(),
    };
    if fresh.is_empty() {
        return Ok(outcome);
    }

    // Look up what the new messages link to, and what links to them.
    let in_batch: HashSet<&str> = fresh
        .iter()
        .map(|m| m.message.external_id.as_str())
        .collect();
    let parent_ids: Vec<&str> = fresh
        .iter()
        .filter_map(|m| m.message.reply_to.as_deref())
        .filter(|p| !in_batch.contains(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let refs: Vec<&str> = fresh
        .iter()
        .filter_map(|m| m.message.conversation_ref.as_deref())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let new_ids: Vec<&str> = fresh
        .iter()
        .map(|m| m.message.external_id.as_str())
        .collect();
    let mut ctx = PlanContext {
        parents: lookup_pairs(
            conn,
            "external_id, conversation_id",
            "external_id",
            platform,
            &parent_ids,
            false,
        )
        .await?
        .into_iter()
        .collect(),
        refs: lookup_pairs(
            conn,
            "conversation_ref, min(conversation_id)",
            "conversation_ref",
            platform,
            &refs,
            true,
        )
        .await?
        .into_iter()
        .collect(),
        children: lookup_pairs(
            conn,
            "reply_to, conversation_id",
            "reply_to",
            platform,
            &new_ids,
            false,
        )
        .await?,
        spans: Vec::new(),
    };
    let mut linked: BTreeSet<i64> = ctx.parents.values().copied().collect();
    linked.extend(ctx.refs.values().copied());
    linked.extend(ctx.children.iter().map(|(_, c)| *c));
    let mut spans = load_spans_by_id(conn, &linked.iter().copied().collect::<Vec<_>>()).await?;

    // Stored conversations of the same customers near the batch in time.
    let gap = rules.threading.gap;
    let mut keys: BTreeSet<String> = spans.iter().filter_map(|s| s.gap_key.clone()).collect();
    let plan_msgs: Vec<PlanMessage> = fresh
        .iter()
        .map(|m| {
            let gap_key = if is_unlinked(&m.message) {
                customer_of(&m.message).map(|c| threading::gap_key(platform, &m.message.brand, c))
            } else {
                None
            };
            if let Some(k) = &gap_key {
                keys.insert(k.clone());
            }
            PlanMessage {
                external_id: m.message.external_id.clone(),
                created_at: m.message.created_at.timestamp(),
                reply_to: m.message.reply_to.clone(),
                conversation_ref: m.message.conversation_ref.clone(),
                gap_key,
            }
        })
        .collect();
    let t_min = plan_msgs
        .iter()
        .map(|m| m.created_at)
        .min()
        .unwrap_or(0)
        .min(spans.iter().map(|s| s.started_at).min().unwrap_or(i64::MAX));
    let t_max = plan_msgs
        .iter()
        .map(|m| m.created_at)
        .max()
        .unwrap_or(0)
        .max(
            spans
                .iter()
                .map(|s| s.last_message_at)
                .max()
                .unwrap_or(i64::MIN),
        );
    let key_list: Vec<&str> = keys.iter().map(String::as_str).collect();
    for chunk in key_list.chunks(KEYS_PER_LOOKUP) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, gap_key, started_at, last_message_at FROM conversations WHERE gap_key IN (",
        );
        let mut sep = q.separated(", ");
        for k in chunk {
            sep.push_bind(*k);
        }
        q.push(") AND last_message_at >= ")
            .push_bind(t_min.saturating_sub(gap));
        q.push(" AND started_at <= ")
            .push_bind(t_max.saturating_add(gap));
        for row in q
            .build()
            .persistent(chunk.len() == KEYS_PER_LOOKUP)
            .fetch_all(&mut *conn)
            .await?
        {
            let id: i64 = row.get(0);
            if !linked.contains(&id) {
                linked.insert(id);
                spans.push(ConversationSpan {
                    id,
                    gap_key: row.get(1),
                    started_at: row.get(2),
                    last_message_at: row.get(3),
                });
            }
        }
    }
    ctx.spans = spans;
    let plan = threading::plan(&plan_msgs, &ctx, gap);

    // New conversation ids: this transaction holds the write lock, so max(id) is stable.
    let max_id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM conversations")
        .fetch_one(&mut *conn)
        .await?;
    let base = max_id.unwrap_or(0) + 1;
    let resolve = |t: Target| match t {
        Target::Existing(id) => id,
        Target::New(n) => base + n as i64,
    };

    // Carry explicit resolution marks and gap keys over merges.
    let mut marks: HashMap<i64, Option<i64>> = HashMap::new();
    let mut gap_keys: HashMap<i64, Option<String>> = HashMap::new();
    for (n, k) in plan.new_conversations.iter().enumerate() {
        gap_keys.insert(base + n as i64, k.clone());
    }
    let touched_existing: Vec<i64> = linked.iter().copied().collect();
    for chunk in touched_existing.chunks(KEYS_PER_LOOKUP) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, marked_resolved_at, gap_key FROM conversations WHERE id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        for row in q
            .build()
            .persistent(chunk.len() == KEYS_PER_LOOKUP)
            .fetch_all(&mut *conn)
            .await?
        {
            marks.insert(row.get(0), row.get(1));
            gap_keys.insert(row.get(0), row.get(2));
        }
    }
    for (from, into) in &plan.merges {
        let into = resolve(*into);
        sqlx::query("UPDATE OR FAIL messages SET conversation_id = ? WHERE conversation_id = ?")
            .bind(into)
            .bind(from)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM conversations WHERE id = ?")
            .bind(from)
            .execute(&mut *conn)
            .await?;
        let m = marks.remove(from).flatten();
        let e = marks.entry(into).or_insert(None);
        *e = (*e).max(m);
        let k = gap_keys.remove(from).flatten();
        let e = gap_keys.entry(into).or_insert(None);
        if e.is_none() {
            *e = k;
        }
    }

    // Insert the new messages with their conversation. Ids are given here (the write lock
    // makes max(id) stable) so the facts of conversations made only of this batch's messages
    // are computed from memory instead of being read back.
    let max_msg: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM messages")
        .fetch_one(&mut *conn)
        .await?;
    let msg_base = max_msg.unwrap_or(0) + 1;
    for (chunk_i, chunk) in fresh.chunks(ROWS_PER_INSERT).enumerate() {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT OR FAIL INTO messages (id, platform, external_id, brand, author, direction, created_at, text, reply_to, conversation_ref, url, engagement, customer, conversation_id, category, confidence, complaint_score, compound, pos, neu, neg, products, topics, redirect, classifier_version, ingested_at) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut b, (i, m)| {
            let row = chunk_i * ROWS_PER_INSERT + i;
            let conv = resolve(plan.assignments[row]);
            let c = &m.classification;
            let n = &m.message;
            b.push_bind(msg_base + row as i64)
                .push_bind(platform.as_str())
                .push_bind(n.external_id.as_str())
                .push_bind(n.brand.as_str())
                .push_bind(n.author.as_str())
                .push_bind(n.direction.as_str())
                .push_bind(n.created_at.timestamp())
                .push_bind(n.text.as_str())
                .push_bind(n.reply_to.as_deref())
                .push_bind(n.conversation_ref.as_deref())
                .push_bind(n.url.as_deref())
                .push_bind(n.engagement)
                .push_bind(n.customer.as_deref())
                .push_bind(conv)
                .push_bind(c.category.as_str())
                .push_bind(c.confidence)
                .push_bind(c.complaint_score)
                .push_bind(c.sentiment.compound)
                .push_bind(c.sentiment.pos)
                .push_bind(c.sentiment.neu)
                .push_bind(c.sentiment.neg)
                .push_bind(join_names(&c.products))
                .push_bind(join_names(&c.topics))
                .push_bind(m.redirect)
                .push_bind(m.classifier_version.as_ref())
                .push_bind(now);
        });
        q.build()
            .persistent(chunk.len() == ROWS_PER_INSERT)
            .execute(&mut *conn)
            .await?;
    }
    super::rollups::add_messages(conn, platform, &fresh).await?;

    // Facts of every conversation the batch touched: conversations made only of this batch's
    // messages from memory; stored ones the batch continues get their span, resolution mark
    // and gap key now (threading of later batches reads them) and are recorded as dirty, for
    // `finish_dirty` to recompute once from all their messages.
    let mut stored_side: BTreeSet<i64> = plan
        .assignments
        .iter()
        .filter_map(|t| match t {
            Target::Existing(id) => Some(*id),
            Target::New(_) => None,
        })
        .collect();
    stored_side.extend(plan.merges.iter().map(|(_, t)| resolve(*t)));
    let mut groups: HashMap<i64, Vec<FactMessage>> = HashMap::new();
    let known: HashMap<i64, (i64, i64)> = ctx
        .spans
        .iter()
        .map(|s| (s.id, (s.started_at, s.last_message_at)))
        .collect();
    let mut new_spans: HashMap<i64, (i64, i64)> = HashMap::new();
    for (from, into) in &plan.merges {
        let into = resolve(*into);
        if let (Some(&(fs, fe)), Some(&own)) = (known.get(from), known.get(&into)) {
            let e = new_spans.entry(into).or_insert(own);
            e.0 = e.0.min(fs);
            e.1 = e.1.max(fe);
        }
    }
    // The batch's messages are stored: their fields move into the facts' messages (the text
    // and the rest are freed here instead of being copied).
    for (row, m) in fresh.into_iter().enumerate() {
        let conv = resolve(plan.assignments[row]);
        let at = m.message.created_at.timestamp();
        if stored_side.contains(&conv) {
            if let Some(&own) = known.get(&conv) {
                let e = new_spans.entry(conv).or_insert(own);
                e.0 = e.0.min(at);
                e.1 = e.1.max(at);
            }
            continue;
        }
        let ClassifiedMessage {
            message: n,
            classification: c,
            redirect,
            ..
        } = m;
        groups.entry(conv).or_default().push(FactMessage {
            id: msg_base + row as i64,
            platform,
            brand: n.brand,
            author: n.author,
            customer: n.customer,
            direction: n.direction,
            created_at: at,
            url: n.url,
            category: Some(c.category),
            compound: Some(c.sentiment.compound),
            products: c.products,
            topics: c.topics,
            redirect,
            reply: n.reply_to.is_some(),
        });
    }
    let mut fresh_ids: Vec<i64> = groups.keys().copied().collect();
    fresh_ids.sort_unstable();
    write_facts(conn, &fresh_ids, groups, &marks, &gap_keys, rules).await?;
    // A stored-side conversation without a row (a new one that absorbed stored ones) is
    // computed now: later batches need its row.
    let (deferred, now_ids): (Vec<i64>, Vec<i64>) = stored_side
        .into_iter()
        .partition(|id| known.contains_key(id));
    recompute(conn, &now_ids, &marks, &gap_keys, rules).await?;
    for chunk in deferred.chunks(SPANS_PER_UPDATE) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "WITH v (id, started_at, last_message_at, marked_resolved_at, gap_key) AS (",
        );
        q.push_values(chunk.iter(), |mut b, id| {
            let (start, end) = new_spans
                .get(id)
                .or(known.get(id))
                .copied()
                .unwrap_or_default();
            b.push_bind(*id)
                .push_bind(start)
                .push_bind(end)
                .push_bind(marks.get(id).copied().flatten())
                .push_bind(gap_keys.get(id).cloned().flatten());
        });
        q.push(") UPDATE OR FAIL conversations SET started_at = v.started_at, last_message_at = v.last_message_at, marked_resolved_at = v.marked_resolved_at, gap_key = v.gap_key FROM v WHERE conversations.id = v.id");
        q.build()
            .persistent(chunk.len() == SPANS_PER_UPDATE)
            .execute(&mut *conn)
            .await?;
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT OR IGNORE INTO conversations_dirty (id) ");
        q.push_values(chunk.iter(), |mut b, id| {
            b.push_bind(*id);
        });
        q.build()
            .persistent(chunk.len() == SPANS_PER_UPDATE)
            .execute(&mut *conn)
            .await?;
    }
    Ok(outcome)
}

/// `Store::finish_pending` on a given connection.
async fn finish_pending_on(
    conn: &mut SqliteConnection,
    rules: &IngestRules,
) -> Result<usize, sqlx::Error> {
    let any: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations_dirty LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let n = finish_dirty(&mut tx, rules).await?;
    tx.commit().await?;
    Ok(n)
}

/// Recomputes the facts of every conversation recorded in `conversations_dirty` from all its
/// messages, once, and clears the table. Returns how many were recomputed.
pub(crate) async fn finish_dirty(
    conn: &mut SqliteConnection,
    rules: &IngestRules,
) -> Result<usize, sqlx::Error> {
    let mut after = i64::MIN;
    let mut done = 0;
    loop {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM conversations_dirty WHERE id > ? ORDER BY id LIMIT ?",
        )
        .bind(after)
        .bind(KEYS_PER_LOOKUP as i64)
        .fetch_all(&mut *conn)
        .await?;
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            break;
        };
        let mut marks = HashMap::with_capacity(ids.len());
        let mut gap_keys = HashMap::with_capacity(ids.len());
        let rows = sqlx::query(
            "SELECT id, marked_resolved_at, gap_key FROM conversations WHERE id BETWEEN ? AND ? AND id IN (SELECT id FROM conversations_dirty WHERE id BETWEEN ? AND ?)",
        )
        .bind(first)
        .bind(last)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            marks.insert(row.get::<i64, _>(0), row.get::<Option<i64>, _>(1));
            gap_keys.insert(row.get::<i64, _>(0), row.get::<Option<String>, _>(2));
        }
        recompute(conn, &ids, &marks, &gap_keys, rules).await?;
        done += ids.len();
        after = last;
    }
    if done > 0 {
        sqlx::query("DELETE FROM conversations_dirty")
            .execute(&mut *conn)
            .await?;
    }
    Ok(done)
}

/// `SELECT {columns} FROM messages WHERE platform = ? AND {key} IN (keys...)`, in chunks,
/// as (text, integer) pairs. `group_by_key` groups rows by the key, for aggregate columns.
async fn lookup_pairs(
    conn: &mut SqliteConnection,
    columns: &str,
    key: &str,
    platform: Platform,
    keys: &[&str],
    group_by_key: bool,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in keys.chunks(KEYS_PER_LOOKUP) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {columns} FROM messages WHERE platform = "));
        q.push_bind(platform.as_str())
            .push(format!(" AND {key} IN ("));
        let mut sep = q.separated(", ");
        for k in chunk {
            sep.push_bind(*k);
        }
        q.push(")");
        if group_by_key {
            q.push(format!(" GROUP BY {key}"));
        }
        for row in q
            .build()
            .persistent(chunk.len() == KEYS_PER_LOOKUP)
            .fetch_all(&mut *conn)
            .await?
        {
            out.push((row.get(0), row.get(1)));
        }
    }
    Ok(out)
}

async fn load_spans_by_id(
    conn: &mut SqliteConnection,
    ids: &[i64],
) -> Result<Vec<ConversationSpan>, sqlx::Error> {
    let mut out = Vec::new();
    for chunk in ids.chunks(KEYS_PER_LOOKUP) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, gap_key, started_at, last_message_at FROM conversations WHERE id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        for row in q
            .build()
            .persistent(chunk.len() == KEYS_PER_LOOKUP)
            .fetch_all(&mut *conn)
            .await?
        {
            out.push(ConversationSpan {
                id: row.get(0),
                gap_key: row.get(1),
                started_at: row.get(2),
                last_message_at: row.get(3),
            });
        }
    }
    Ok(out)
}

/// Reloads the messages of `ids` and rewrites their conversation rows.
pub(crate) async fn recompute(
    conn: &mut SqliteConnection,
    ids: &[i64],
    marks: &HashMap<i64, Option<i64>>,
    gap_keys: &HashMap<i64, Option<String>>,
    rules: &IngestRules,
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(KEYS_PER_LOOKUP) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT conversation_id, id, platform, brand, author, customer, direction, created_at, url, category, compound, products, topics, redirect, reply_to IS NOT NULL FROM messages WHERE conversation_id IN (",
        );
        let mut sep = q.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        q.push(")");
        let mut groups: HashMap<i64, Vec<FactMessage>> = HashMap::new();
        for row in q
            .build()
            .persistent(chunk.len() == KEYS_PER_LOOKUP)
            .fetch_all(&mut *conn)
            .await?
        {
            let platform: String = row.get(2);
            let direction: String = row.get(6);
            let category: Option<String> = row.get(9);
            let fm = FactMessage {
                id: row.get(1),
                platform: platform.parse().unwrap_or(Platform::X),
                brand: row.get(3),
                author: row.get(4),
                customer: row.get(5),
                direction: direction.parse().unwrap_or(Direction::Inbound),
                created_at: row.get(7),
                url: row.get(8),
                category: category.and_then(|c| c.parse::<Category>().ok()),
                compound: row.get(10),
                products: split_names(row.get::<&str, _>(11)),
                topics: split_names(row.get::<&str, _>(12)),
                redirect: row.get(13),
                reply: row.get(14),
            };
            groups.entry(row.get(0)).or_default().push(fm);
        }
        write_facts(conn, chunk, groups, marks, gap_keys, rules).await?;
    }
    Ok(())
}

/// Computes the facts of the conversations `ids` (in that order) from their messages in
/// `groups` and upserts their rows. Ids without messages are left alone.
async fn write_facts(
    conn: &mut SqliteConnection,
    ids: &[i64],
    mut groups: HashMap<i64, Vec<FactMessage>>,
    marks: &HashMap<i64, Option<i64>>,
    gap_keys: &HashMap<i64, Option<String>>,
    rules: &IngestRules,
) -> Result<(), sqlx::Error> {
    let mut facts: Vec<(ConversationFacts, Option<String>)> = Vec::with_capacity(groups.len());
    let mut helpful: Vec<(String, i64)> = Vec::new();
    for &id in ids {
        let Some(mut msgs) = groups.remove(&id) else {
            continue;
        };
        let mark = marks.get(&id).copied().flatten();
        let f = threading::compute_facts(
            id,
            &mut msgs,
            mark,
            &rules.threading,
            rules.auto_resolve_after,
        );
        helpful.extend(
            threading::helpful_replies(&f.customer, &msgs).map(|(a, t)| (a.to_string(), t)),
        );
        facts.push((f, gap_keys.get(&id).cloned().flatten()));
    }
    super::rollups::add_helpful(conn, &helpful).await?;
    for chunk in facts.chunks(FACTS_PER_UPSERT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT OR FAIL INTO conversations (id, platform, brand, customer, gap_key, started_at, first_inbound_at, first_inbound_url, first_response_at, last_message_at, last_inbound_at, last_outbound_at, waiting_since, inbound_count, outbound_count, replies, reopen_count, thanks_resolved_at, marked_resolved_at, actionable, category, opening_compound, closing_compound, closing_after_reply, redirected, products, topics, reply_waits) ",
        );
        q.push_values(chunk.iter(), |mut b, (f, key)| {
            b.push_bind(f.id)
                .push_bind(f.platform.map(Platform::as_str).unwrap_or("x"))
                .push_bind(f.brand.clone())
                .push_bind(f.customer.clone())
                .push_bind(key.clone())
                .push_bind(f.started_at)
                .push_bind(f.first_inbound_at)
                .push_bind(f.first_inbound_url.clone())
                .push_bind(f.first_response_at)
                .push_bind(f.last_message_at)
                .push_bind(f.last_inbound_at)
                .push_bind(f.last_outbound_at)
                .push_bind(f.waiting_since)
                .push_bind(f.inbound_count)
                .push_bind(f.outbound_count)
                .push_bind(f.replies)
                .push_bind(f.reopen_count)
                .push_bind(f.thanks_resolved_at)
                .push_bind(f.marked_resolved_at)
                .push_bind(f.actionable)
                .push_bind(f.category.map(Category::as_str))
                .push_bind(f.opening_compound)
                .push_bind(f.closing_compound)
                .push_bind(f.closing_after_reply)
                .push_bind(f.redirected)
                .push_bind(join_names(&f.products))
                .push_bind(join_names(&f.topics))
                .push_bind(
                    f.reply_waits
                        .iter()
                        .map(|w| w.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                );
        });
        q.push(
            " ON CONFLICT (id) DO UPDATE SET platform = excluded.platform, brand = excluded.brand, customer = excluded.customer, gap_key = excluded.gap_key, started_at = excluded.started_at, first_inbound_at = excluded.first_inbound_at, first_inbound_url = excluded.first_inbound_url, first_response_at = excluded.first_response_at, last_message_at = excluded.last_message_at, last_inbound_at = excluded.last_inbound_at, last_outbound_at = excluded.last_outbound_at, waiting_since = excluded.waiting_since, inbound_count = excluded.inbound_count, outbound_count = excluded.outbound_count, replies = excluded.replies, reopen_count = excluded.reopen_count, thanks_resolved_at = excluded.thanks_resolved_at, marked_resolved_at = excluded.marked_resolved_at, actionable = excluded.actionable, category = excluded.category, opening_compound = excluded.opening_compound, closing_compound = excluded.closing_compound, closing_after_reply = excluded.closing_after_reply, redirected = excluded.redirected, products = excluded.products, topics = excluded.topics, reply_waits = excluded.reply_waits",
        );
        q.build()
            .persistent(chunk.len() == FACTS_PER_UPSERT)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rollups::tests::{messages, T0};

    /// A batch splits into one part per platform, platforms in order, each part keeping the
    /// batch's order; a batch of one platform passes through whole.
    #[test]
    fn a_batch_splits_by_platform_in_order() {
        let mixed = messages(30);
        let parts = by_platform(mixed.clone());
        let platforms: Vec<Platform> = parts.iter().map(|(p, _)| *p).collect();
        let mut expected: Vec<Platform> = mixed.iter().map(|m| m.message.platform).collect();
        expected.sort();
        expected.dedup();
        assert_eq!(platforms, expected);
        for (p, part) in &parts {
            let want: Vec<&str> = mixed
                .iter()
                .filter(|m| m.message.platform == *p)
                .map(|m| m.message.external_id.as_str())
                .collect();
            let got: Vec<&str> = part
                .iter()
                .map(|m| m.message.external_id.as_str())
                .collect();
            assert_eq!(got, want, "{p:?} keeps the batch order");
        }
        let one: Vec<ClassifiedMessage> = mixed
            .into_iter()
            .filter(|m| m.message.platform == Platform::X)
            .collect();
        let parts = by_platform(one.clone());
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].1, one);
        assert!(by_platform(Vec::new()).is_empty());
    }

    /// A bulk import commits batch after batch on one connection (the pool never opens a
    /// second, with its own page cache), stores every row once, and leaves no transaction
    /// open: the pool can write right after `finish`.
    #[tokio::test]
    async fn an_import_keeps_one_connection_and_commits_every_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("i.db")).await.expect("open");
        let rules = IngestRules::default();
        // Opening ran the migrations; wait until their connection is back in the pool.
        for _ in 0..100 {
            if store.pool.num_idle() == store.pool.size() as usize {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(store.pool.size(), 1, "connections after opening");
        let mut import = store.begin_import(&rules, 1, T0).await.expect("begin");
        let mut inserted = 0;
        for part in messages(600).chunks(50) {
            inserted += import.ingest(part.to_vec()).await.expect("ingest").inserted;
            // Let the runtime run whatever a commit handed back to the pool.
            tokio::task::yield_now().await;
            assert_eq!(store.pool.size(), 1, "connections after a batch");
        }
        assert_eq!(inserted, 600);
        import.finish().await.expect("finish");
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&store.pool)
            .await
            .expect("count");
        assert_eq!(stored, 600);
        let again = store
            .ingest(messages(601), None, &rules, T0)
            .await
            .expect("a write after the import");
        assert_eq!((again.inserted, again.duplicates), (1, 600));
    }

    /// An import dropped with a transaction open (an error, a kill) rolls that transaction back
    /// and keeps what it committed before.
    #[tokio::test]
    async fn a_dropped_import_keeps_its_commits_and_rolls_back_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("d.db")).await.expect("open");
        let rules = IngestRules::default();
        let all = messages(300);
        let mut import = store.begin_import(&rules, 100, T0).await.expect("begin");
        import
            .ingest(all[..100].to_vec())
            .await
            .expect("committed batch");
        import
            .ingest(all[100..150].to_vec())
            .await
            .expect("open batch");
        drop(import);
        let outcome = store
            .ingest(all.clone(), None, &rules, T0)
            .await
            .expect("the lock is released once the dropped import's connection closes");
        assert_eq!((outcome.inserted, outcome.duplicates), (200, 100));
    }
}
