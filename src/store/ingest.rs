//! Batched, idempotent ingest: dedupe on (platform, external id), thread new messages into
//! conversations (`kpi::threading::plan`), insert them, merge conversations the batch joined,
//! recompute the facts of every touched conversation, and advance the source's cursor, all in
//! one write transaction. A crash anywhere leaves the previous state; a re-run skips what is
//! already stored.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::OptionalExtension;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Sqlite, SqliteConnection};

use super::handle::{on_handle, WriteError};
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

// Ingest's writes say `OR FAIL`: a constraint error then stops the statement without undoing
// what it already wrote, so SQLite keeps no statement journal (a copy of every page the
// statement changes). Nothing is lost: any error aborts the whole transaction.

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
        let outcome = on_handle(&mut tx, |db| {
            let mut outcome = IngestOutcome::default();
            for (p, msgs) in by_platform(batch) {
                outcome += ingest_platform(db, p, msgs, rules, now)?;
            }
            finish_dirty(db, rules)?;
            Ok(outcome)
        })
        .await
        .map_err(|e| self.map_write_err(e))?;
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
            .map_err(|e| self.map_write_err(e))
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
            .map_err(|e| self.map_write_err(e))?;
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
        let key: Option<Option<String>> =
            sqlx::query_scalar("SELECT gap_key FROM conversations WHERE id = ?")
                .bind(conversation_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        let Some(key) = key else {
            return Ok(false);
        };
        let marks = HashMap::from([(conversation_id, Some(at))]);
        let gap_keys = HashMap::from([(conversation_id, key)]);
        on_handle(&mut tx, |db| {
            recompute(db, &[conversation_id], &marks, &gap_keys, rules)
        })
        .await
        .map_err(|e| self.map_write_err(e))?;
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
            .map_err(|e| self.store.map_write_err(e))?;
        self.rows_in_tx += n;
        if self.rows_in_tx >= self.rows_per_commit {
            self.commit().await?;
        }
        Ok(outcome)
    }

    async fn ingest_inner(
        &mut self,
        batch: Vec<ClassifiedMessage>,
    ) -> Result<IngestOutcome, WriteError> {
        if !self.in_tx {
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut *self.conn)
                .await?;
            self.in_tx = true;
        }
        let (rules, now) = (&self.rules, self.now);
        on_handle(&mut self.conn, |db| {
            let mut outcome = IngestOutcome::default();
            for (p, msgs) in by_platform(batch) {
                outcome += ingest_platform(db, p, msgs, rules, now)?;
            }
            Ok(outcome)
        })
        .await
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

fn ingest_platform(
    db: &rusqlite::Connection,
    platform: Platform,
    msgs: Vec<ClassifiedMessage>,
    rules: &IngestRules,
    now: i64,
) -> Result<IngestOutcome, WriteError> {
    let total = msgs.len();
    let p = platform.as_str();
    // Dedupe within the batch, then against the store.
    let mut seen = HashSet::new();
    let msgs: Vec<ClassifiedMessage> = msgs
        .into_iter()
        .filter(|m| seen.insert(m.message.external_id.clone()))
        .collect();
    drop(seen);
    let fresh: Vec<ClassifiedMessage> = {
        let mut stored = db.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE platform = ?1 AND external_id = ?2)",
        )?;
        let mut fresh = Vec::with_capacity(msgs.len());
        for m in msgs {
            if !stored.query_row((p, m.message.external_id.as_str()), |r| r.get::<_, bool>(0))? {
                fresh.push(m);
            }
        }
        fresh
    };
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
    let parent_ids: BTreeSet<&str> = fresh
        .iter()
        .filter_map(|m| m.message.reply_to.as_deref())
        .filter(|p| !in_batch.contains(p))
        .collect();
    let refs: BTreeSet<&str> = fresh
        .iter()
        .filter_map(|m| m.message.conversation_ref.as_deref())
        .collect();
    let mut ctx = PlanContext {
        parents: HashMap::new(),
        refs: HashMap::new(),
        children: Vec::new(),
        spans: Vec::new(),
    };
    {
        let mut q = db.prepare_cached(
            "SELECT conversation_id FROM messages WHERE platform = ?1 AND external_id = ?2",
        )?;
        for id in &parent_ids {
            if let Some(conv) = q.query_row((p, id), |r| r.get(0)).optional()? {
                ctx.parents.insert(id.to_string(), conv);
            }
        }
        let mut q = db.prepare_cached(
            "SELECT min(conversation_id) FROM messages WHERE platform = ?1 AND conversation_ref = ?2",
        )?;
        for r in &refs {
            if let Some(conv) = q.query_row((p, r), |row| row.get::<_, Option<i64>>(0))? {
                ctx.refs.insert(r.to_string(), conv);
            }
        }
        let mut q = db.prepare_cached(
            "SELECT conversation_id FROM messages WHERE platform = ?1 AND reply_to = ?2 ORDER BY id",
        )?;
        for id in &in_batch.iter().copied().collect::<BTreeSet<&str>>() {
            for conv in q.query_map((p, id), |r| r.get::<_, i64>(0))? {
                ctx.children.push((id.to_string(), conv?));
            }
        }
    }
    let mut linked: BTreeSet<i64> = ctx.parents.values().copied().collect();
    linked.extend(ctx.refs.values().copied());
    linked.extend(ctx.children.iter().map(|(_, c)| *c));
    // Spans, resolution marks and gap keys of the stored conversations the batch reaches.
    let mut marks: HashMap<i64, Option<i64>> = HashMap::new();
    let mut gap_keys: HashMap<i64, Option<String>> = HashMap::new();
    let mut spans = Vec::with_capacity(linked.len());
    {
        let mut q = db.prepare_cached(
            "SELECT gap_key, started_at, last_message_at, marked_resolved_at FROM conversations WHERE id = ?1",
        )?;
        for &id in &linked {
            let row = q
                .query_row([id], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })
                .optional()?;
            if let Some((gap_key, started_at, last_message_at, mark)) = row {
                marks.insert(id, mark);
                gap_keys.insert(id, gap_key.clone());
                spans.push(ConversationSpan {
                    id,
                    gap_key,
                    started_at,
                    last_message_at,
                });
            }
        }
    }

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
    {
        let mut q = db.prepare_cached(
            "SELECT id, started_at, last_message_at, marked_resolved_at FROM conversations WHERE gap_key = ?1 AND last_message_at >= ?2 AND started_at <= ?3 ORDER BY last_message_at, id",
        )?;
        for key in &keys {
            let rows = q.query_map(
                (
                    key.as_str(),
                    t_min.saturating_sub(gap),
                    t_max.saturating_add(gap),
                ),
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                },
            )?;
            for row in rows {
                let (id, started_at, last_message_at, mark) = row?;
                if linked.insert(id) {
                    marks.insert(id, mark);
                    gap_keys.insert(id, Some(key.clone()));
                    spans.push(ConversationSpan {
                        id,
                        gap_key: Some(key.clone()),
                        started_at,
                        last_message_at,
                    });
                }
            }
        }
    }
    ctx.spans = spans;
    let plan = threading::plan(&plan_msgs, &ctx, gap);
    drop(plan_msgs);

    // New conversation ids: this transaction holds the write lock, so max(id) is stable.
    let max_id: Option<i64> =
        db.query_row("SELECT max(id) FROM conversations", [], |r| r.get(0))?;
    let base = max_id.unwrap_or(0) + 1;
    let resolve = |t: Target| match t {
        Target::Existing(id) => id,
        Target::New(n) => base + n as i64,
    };

    // Carry explicit resolution marks and gap keys over merges.
    for (n, k) in plan.new_conversations.iter().enumerate() {
        gap_keys.insert(base + n as i64, k.clone());
    }
    {
        let mut move_messages = db.prepare_cached(
            "UPDATE OR FAIL messages SET conversation_id = ?1 WHERE conversation_id = ?2",
        )?;
        let mut delete = db.prepare_cached("DELETE FROM conversations WHERE id = ?1")?;
        for (from, into) in &plan.merges {
            let into = resolve(*into);
            move_messages.execute([into, *from])?;
            delete.execute([*from])?;
            let m = marks.remove(from).flatten();
            let e = marks.entry(into).or_insert(None);
            *e = (*e).max(m);
            let k = gap_keys.remove(from).flatten();
            let e = gap_keys.entry(into).or_insert(None);
            if e.is_none() {
                *e = k;
            }
        }
    }

    // Insert the new messages with their conversation. Ids are given here (the write lock
    // makes max(id) stable) so the facts of conversations made only of this batch's messages
    // are computed from memory instead of being read back.
    let max_msg: Option<i64> = db.query_row("SELECT max(id) FROM messages", [], |r| r.get(0))?;
    let msg_base = max_msg.unwrap_or(0) + 1;
    {
        let mut insert = db.prepare_cached(
            "INSERT OR FAIL INTO messages (id, platform, external_id, brand, author, direction, created_at, text, reply_to, conversation_ref, url, engagement, customer, conversation_id, category, confidence, complaint_score, compound, pos, neu, neg, products, topics, redirect, classifier_version, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
        )?;
        for (row, m) in fresh.iter().enumerate() {
            let c = &m.classification;
            let n = &m.message;
            insert.execute(rusqlite::params![
                msg_base + row as i64,
                p,
                n.external_id,
                n.brand,
                n.author,
                n.direction.as_str(),
                n.created_at.timestamp(),
                n.text,
                n.reply_to,
                n.conversation_ref,
                n.url,
                n.engagement,
                n.customer,
                resolve(plan.assignments[row]),
                c.category.as_str(),
                c.confidence,
                c.complaint_score,
                c.sentiment.compound,
                c.sentiment.pos,
                c.sentiment.neu,
                c.sentiment.neg,
                join_names(&c.products),
                join_names(&c.topics),
                m.redirect,
                m.classifier_version.as_ref(),
                now,
            ])?;
        }
    }
    super::rollups::add_messages(db, platform, &fresh)?;

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
    write_facts(db, &fresh_ids, groups, &marks, &gap_keys, rules)?;
    // A stored-side conversation without a row (a new one that absorbed stored ones) is
    // computed now: later batches need its row.
    let (deferred, now_ids): (Vec<i64>, Vec<i64>) = stored_side
        .into_iter()
        .partition(|id| known.contains_key(id));
    recompute(db, &now_ids, &marks, &gap_keys, rules)?;
    let mut update = db.prepare_cached(
        "UPDATE OR FAIL conversations SET started_at = ?2, last_message_at = ?3, marked_resolved_at = ?4, gap_key = ?5 WHERE id = ?1",
    )?;
    let mut dirty =
        db.prepare_cached("INSERT OR IGNORE INTO conversations_dirty (id) VALUES (?1)")?;
    for id in deferred {
        let (start, end) = new_spans
            .get(&id)
            .or(known.get(&id))
            .copied()
            .unwrap_or_default();
        update.execute(rusqlite::params![
            id,
            start,
            end,
            marks.get(&id).copied().flatten(),
            gap_keys.get(&id).cloned().flatten(),
        ])?;
        dirty.execute([id])?;
    }
    Ok(outcome)
}

/// `Store::finish_pending` on a given connection.
async fn finish_pending_on(
    conn: &mut SqliteConnection,
    rules: &IngestRules,
) -> Result<usize, WriteError> {
    let any: Option<i64> = sqlx::query_scalar("SELECT id FROM conversations_dirty LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let n = on_handle(&mut tx, |db| finish_dirty(db, rules)).await?;
    tx.commit().await?;
    Ok(n)
}

/// Conversations recomputed together by `finish_dirty`.
const DIRTY_PER_ROUND: i64 = 500;

/// Recomputes the facts of every conversation recorded in `conversations_dirty` from all its
/// messages, once, and clears the table. Returns how many were recomputed.
pub(crate) fn finish_dirty(
    db: &rusqlite::Connection,
    rules: &IngestRules,
) -> Result<usize, WriteError> {
    let mut after = i64::MIN;
    let mut done = 0;
    loop {
        let mut next = db.prepare_cached(
            "SELECT d.id, c.marked_resolved_at, c.gap_key FROM conversations_dirty d LEFT JOIN conversations c ON c.id = d.id WHERE d.id > ?1 ORDER BY d.id LIMIT ?2",
        )?;
        let mut ids = Vec::new();
        let mut marks = HashMap::new();
        let mut gap_keys = HashMap::new();
        for row in next.query_map((after, DIRTY_PER_ROUND), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })? {
            let (id, mark, key) = row?;
            ids.push(id);
            marks.insert(id, mark);
            gap_keys.insert(id, key);
        }
        drop(next);
        let Some(&last) = ids.last() else {
            break;
        };
        recompute(db, &ids, &marks, &gap_keys, rules)?;
        done += ids.len();
        after = last;
    }
    if done > 0 {
        db.execute("DELETE FROM conversations_dirty", [])?;
    }
    Ok(done)
}

/// Reloads the messages of `ids` and rewrites their conversation rows.
pub(crate) fn recompute(
    db: &rusqlite::Connection,
    ids: &[i64],
    marks: &HashMap<i64, Option<i64>>,
    gap_keys: &HashMap<i64, Option<String>>,
    rules: &IngestRules,
) -> Result<(), WriteError> {
    let mut groups: HashMap<i64, Vec<FactMessage>> = HashMap::with_capacity(ids.len());
    {
        let mut q = db.prepare_cached(
            "SELECT id, platform, brand, author, customer, direction, created_at, url, category, compound, products, topics, redirect, reply_to IS NOT NULL FROM messages WHERE conversation_id = ?1",
        )?;
        for &conv in ids {
            let rows = q.query_map([conv], |row| {
                let platform: String = row.get(1)?;
                let direction: String = row.get(5)?;
                let category: Option<String> = row.get(8)?;
                Ok(FactMessage {
                    id: row.get(0)?,
                    platform: platform.parse().unwrap_or(Platform::X),
                    brand: row.get(2)?,
                    author: row.get(3)?,
                    customer: row.get(4)?,
                    direction: direction.parse().unwrap_or(Direction::Inbound),
                    created_at: row.get(6)?,
                    url: row.get(7)?,
                    category: category.and_then(|c| c.parse::<Category>().ok()),
                    compound: row.get(9)?,
                    products: split_names(row.get_ref(10)?.as_str()?),
                    topics: split_names(row.get_ref(11)?.as_str()?),
                    redirect: row.get(12)?,
                    reply: row.get(13)?,
                })
            })?;
            let mut msgs = Vec::new();
            for m in rows {
                msgs.push(m?);
            }
            if !msgs.is_empty() {
                groups.insert(conv, msgs);
            }
        }
    }
    write_facts(db, ids, groups, marks, gap_keys, rules)
}

/// Computes the facts of the conversations `ids` (in that order) from their messages in
/// `groups` and upserts their rows. Ids without messages are left alone.
fn write_facts(
    db: &rusqlite::Connection,
    ids: &[i64],
    mut groups: HashMap<i64, Vec<FactMessage>>,
    marks: &HashMap<i64, Option<i64>>,
    gap_keys: &HashMap<i64, Option<String>>,
    rules: &IngestRules,
) -> Result<(), WriteError> {
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
    super::rollups::add_helpful(db, &helpful)?;
    let mut upsert = db.prepare_cached(
        "INSERT OR FAIL INTO conversations (id, platform, brand, customer, gap_key, started_at, first_inbound_at, first_inbound_url, first_response_at, last_message_at, last_inbound_at, last_outbound_at, waiting_since, inbound_count, outbound_count, replies, reopen_count, thanks_resolved_at, marked_resolved_at, actionable, category, opening_compound, closing_compound, closing_after_reply, redirected, products, topics, reply_waits) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28) ON CONFLICT (id) DO UPDATE SET platform = excluded.platform, brand = excluded.brand, customer = excluded.customer, gap_key = excluded.gap_key, started_at = excluded.started_at, first_inbound_at = excluded.first_inbound_at, first_inbound_url = excluded.first_inbound_url, first_response_at = excluded.first_response_at, last_message_at = excluded.last_message_at, last_inbound_at = excluded.last_inbound_at, last_outbound_at = excluded.last_outbound_at, waiting_since = excluded.waiting_since, inbound_count = excluded.inbound_count, outbound_count = excluded.outbound_count, replies = excluded.replies, reopen_count = excluded.reopen_count, thanks_resolved_at = excluded.thanks_resolved_at, marked_resolved_at = excluded.marked_resolved_at, actionable = excluded.actionable, category = excluded.category, opening_compound = excluded.opening_compound, closing_compound = excluded.closing_compound, closing_after_reply = excluded.closing_after_reply, redirected = excluded.redirected, products = excluded.products, topics = excluded.topics, reply_waits = excluded.reply_waits",
    )?;
    for (f, key) in &facts {
        let waits = f
            .reply_waits
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(",");
        upsert.execute(rusqlite::params![
            f.id,
            f.platform.map(Platform::as_str).unwrap_or("x"),
            f.brand,
            f.customer,
            key,
            f.started_at,
            f.first_inbound_at,
            f.first_inbound_url,
            f.first_response_at,
            f.last_message_at,
            f.last_inbound_at,
            f.last_outbound_at,
            f.waiting_since,
            f.inbound_count,
            f.outbound_count,
            f.replies,
            f.reopen_count,
            f.thanks_resolved_at,
            f.marked_resolved_at,
            f.actionable,
            f.category.map(Category::as_str),
            f.opening_compound,
            f.closing_compound,
            f.closing_after_reply,
            f.redirected,
            join_names(&f.products),
            join_names(&f.topics),
            waits,
        ])?;
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
