//! KPI blocks (`kpi_blocks`, `kpi_blocks_dirty`): the conversation columns responsiveness,
//! resolution and the badge read, packed per UTC day, brand and platform, so a month's report
//! decodes a few hundred blobs instead of walking hundreds of thousands of index entries.
//!
//! Kind 1 holds the conversations whose first inbound message is in the day; kind 2 those whose
//! `settled_resolution_at` (the resolution once every recorded instant has passed) is in the
//! day. Kind 3 holds the day's inbound praise messages with the highest success-story score
//! (`PRAISE_PER_BLOCK` of them, ranked as `PraiseRank` orders them), enough for any window made
//! of whole days. Kind 4 holds, by the UTC day of the last inbound message, the number of
//! turnarounds and the `TURNAROUNDS_LISTED` quickest; kinds 3 and 4 serve only the whole UTC
//! days of a window. Triggers on `conversations` (and on praise `messages`) mark the days a
//! write touches as dirty; `refresh` rebuilds them, and a report reads the dirty days of its
//! window from `conversations` (or `messages`) as before, so a stale block is never read.
//!
//! Why resolution may be keyed by the settled instant: as seen at `now`, a conversation is
//! resolved at its earliest marked or thanks instant not after `now`, else (when the brand spoke
//! last) at its last brand reply if `now` is at least the auto-resolve delay past it. Unless
//! the conversation has a marked or thanks instant after `now`, that is its settled instant or
//! none at all, so it sits in the block of its resolution day, and the rows of a block are
//! re-checked at `now` with `kpi::resolution::resolved_at`. The few with an instant after `now`
//! (only in a report of the past) are read from the conversations one by one instead.

use futures::TryStreamExt;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{Store, StoreError};
use crate::kpi::inputs::BadgeConversation;
use crate::kpi::resolution::{resolved_at, ResolvedStats};
use crate::kpi::response::StartedStats;
use crate::model::{ConversationFacts, Platform, ReportQuery, UnixSeconds};

/// Width of a block: one UTC day.
pub(crate) const DAY_S: i64 = 86_400;
const STARTED: i64 = 1;
const RESOLVED: i64 = 2;
const PRAISE: i64 = 3;
const TURNAROUNDS: i64 = 4;
/// Praise messages kept per praise block: the most a report ranks for its success stories.
pub(crate) const PRAISE_PER_BLOCK: usize = 4 * crate::kpi::highlights::STORIES;
/// Dirty days rebuilt per transaction, so ingest is never held up for long.
const DAYS_PER_REFRESH_TX: usize = 4;

/// Start of the UTC day of `t` (the migration's triggers compute the same).
pub(crate) fn day_of(t: i64) -> i64 {
    t - t.rem_euclid(DAY_S)
}

fn put_u(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_i(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Why a block could not be read (small, so the hot decoding path returns it in registers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockError {
    Truncated,
    Overlong,
}

impl From<BlockError> for StoreError {
    fn from(e: BlockError) -> Self {
        StoreError::Corrupt(
            match e {
                BlockError::Truncated => "a KPI block ends mid-value",
                BlockError::Overlong => "a KPI block holds an overlong value",
            }
            .into(),
        )
    }
}

/// Reads what `put_u`/`put_i` wrote.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn more(&self) -> bool {
        self.at < self.data.len()
    }

    #[inline]
    fn u(&mut self) -> Result<u64, BlockError> {
        // Most values fit one byte.
        match self.data.get(self.at) {
            Some(&b) if b < 0x80 => {
                self.at += 1;
                Ok(u64::from(b))
            }
            _ => self.u_long(),
        }
    }

    fn u_long(&mut self) -> Result<u64, BlockError> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let Some(&b) = self.data.get(self.at) else {
                return Err(BlockError::Truncated);
            };
            self.at += 1;
            if shift > 63 {
                return Err(BlockError::Overlong);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    #[inline]
    fn i(&mut self) -> Result<i64, BlockError> {
        let u = self.u()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

const F_ACTIONABLE: u64 = 1;
const F_RESPONSE: u64 = 2;
const F_MARKED: u64 = 4;
const F_THANKS: u64 = 8;
const F_REDIRECTED: u64 = 16;

/// Appends a started conversation (rows in first-inbound order: `prev` is the previous row's).
fn put_started(out: &mut Vec<u8>, prev: i64, c: &ConversationFacts, first: i64) {
    put_i(out, first - prev);
    let mut flags = 0;
    if c.actionable {
        flags |= F_ACTIONABLE;
    }
    if c.first_response_at.is_some() {
        flags |= F_RESPONSE;
    }
    put_u(out, flags);
    if let Some(r) = c.first_response_at {
        put_i(out, r - first);
    }
    put_u(out, c.reply_waits.len() as u64);
    for w in &c.reply_waits {
        put_i(out, *w);
    }
}

/// Calls `f` with each started conversation of a block, as facts holding only what
/// `StartedStats::add` and the badge read.
fn each_started(
    data: &[u8],
    day: i64,
    platform: Platform,
    mut f: impl FnMut(&ConversationFacts),
) -> Result<(), StoreError> {
    let mut r = Reader { data, at: 0 };
    let mut c = ConversationFacts {
        platform: Some(platform),
        ..ConversationFacts::default()
    };
    let mut first = day;
    while r.more() {
        first += r.i()?;
        let flags = r.u()?;
        c.first_inbound_at = Some(first);
        c.actionable = flags & F_ACTIONABLE != 0;
        c.first_response_at = if flags & F_RESPONSE != 0 {
            Some(first + r.i()?)
        } else {
            None
        };
        let n = r.u()?;
        c.reply_waits.clear();
        for _ in 0..n {
            c.reply_waits.push(r.i()?);
        }
        f(&c);
    }
    Ok(())
}

/// Appends a conversation by its settled resolution instant `at` (rows in that order).
fn put_resolved(out: &mut Vec<u8>, prev: i64, c: &ConversationFacts, at: i64, first: i64) {
    put_i(out, at - prev);
    let mut flags = 0;
    if c.first_response_at.is_some() {
        flags |= F_RESPONSE;
    }
    if c.marked_resolved_at.is_some() {
        flags |= F_MARKED;
    }
    if c.thanks_resolved_at.is_some() {
        flags |= F_THANKS;
    }
    if c.redirected {
        flags |= F_REDIRECTED;
    }
    put_u(out, flags);
    put_i(out, first - at);
    for t in [
        c.first_response_at,
        c.marked_resolved_at,
        c.thanks_resolved_at,
    ]
    .into_iter()
    .flatten()
    {
        put_i(out, t - at);
    }
    put_u(out, c.replies.max(0) as u64);
    put_u(out, c.reopen_count.max(0) as u64);
}

/// Calls `f` with each conversation of a resolution block, as facts holding what
/// `resolved_at` and `ResolvedStats::add` read. Without a marked or thanks instant the settled
/// instant is the last brand reply of a conversation where the brand spoke last.
fn each_resolved(
    data: &[u8],
    day: i64,
    platform: Platform,
    mut f: impl FnMut(&ConversationFacts),
) -> Result<(), StoreError> {
    let mut r = Reader { data, at: 0 };
    let mut c = ConversationFacts {
        platform: Some(platform),
        ..ConversationFacts::default()
    };
    let mut at = day;
    while r.more() {
        at += r.i()?;
        let flags = r.u()?;
        c.first_inbound_at = Some(at + r.i()?);
        let mut next = |on: bool| -> Result<Option<i64>, StoreError> {
            Ok(if on { Some(at + r.i()?) } else { None })
        };
        c.first_response_at = next(flags & F_RESPONSE != 0)?;
        c.marked_resolved_at = next(flags & F_MARKED != 0)?;
        c.thanks_resolved_at = next(flags & F_THANKS != 0)?;
        let auto = c.marked_resolved_at.is_none() && c.thanks_resolved_at.is_none();
        c.last_outbound_at = auto.then_some(at);
        c.last_message_at = at;
        c.replies = r.u()? as i64;
        c.reopen_count = r.u()? as i64;
        c.redirected = flags & F_REDIRECTED != 0;
        f(&c);
    }
    Ok(())
}

/// A praise message as success stories rank it: by score, highest first; ties go to the
/// earlier message, then the lower id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PraiseRank {
    pub score: f64,
    pub created_at: i64,
    pub id: i64,
    compound: f64,
    engagement: i64,
}

impl PraiseRank {
    pub(crate) fn new(id: i64, created_at: i64, compound: f64, engagement: i64) -> Self {
        PraiseRank {
            score: crate::kpi::highlights::score_of(compound, engagement),
            created_at,
            id,
            compound,
            engagement,
        }
    }
}

/// Keeps the `k` best of `rows`, best first.
pub(crate) fn top_praise(rows: &mut Vec<PraiseRank>, k: usize) {
    rows.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    rows.truncate(k);
}

fn put_praise(out: &mut Vec<u8>, r: &PraiseRank, day: i64) {
    put_i(out, r.id);
    put_i(out, r.created_at - day);
    put_u(out, r.compound.to_bits());
    put_i(out, r.engagement);
}

/// Calls `f` with each praise message of a block.
fn each_praise(data: &[u8], day: i64, mut f: impl FnMut(PraiseRank)) -> Result<(), StoreError> {
    let mut r = Reader { data, at: 0 };
    while r.more() {
        let id = r.i()?;
        let created_at = day + r.i()?;
        let compound = f64::from_bits(r.u()?);
        let engagement = r.i()?;
        f(PraiseRank::new(id, created_at, compound, engagement));
    }
    Ok(())
}

/// Turnarounds of some span: how many, and the quickest (time taken, conversation id), in
/// the order the report lists them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Turnarounds {
    pub count: i64,
    pub quickest: Vec<(i64, i64)>,
}

impl Turnarounds {
    pub(crate) fn merge(&mut self, other: Turnarounds) {
        self.count += other.count;
        self.quickest.extend(other.quickest);
    }

    /// Keeps the `TURNAROUNDS_LISTED` quickest, quickest first (ties: lower id).
    pub(crate) fn keep_quickest(&mut self) {
        self.quickest.sort_unstable();
        self.quickest
            .truncate(crate::kpi::highlights::TURNAROUNDS_LISTED);
    }
}

fn read_turnarounds(data: &[u8]) -> Result<Turnarounds, StoreError> {
    let mut r = Reader { data, at: 0 };
    let mut t = Turnarounds {
        count: r.u()? as i64,
        quickest: Vec::new(),
    };
    while r.more() {
        let took = r.i()?;
        t.quickest.push((took, r.i()?));
    }
    Ok(t)
}

/// Rebuilds the blocks of the UTC day starting at `day` from the conversations.
async fn rebuild_day(conn: &mut SqliteConnection, day: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM kpi_blocks WHERE day = ?")
        .bind(day)
        .execute(&mut *conn)
        .await?;
    // (brand, platform) -> (previous instant, data), in key order.
    let mut blocks: std::collections::BTreeMap<(String, String), (i64, Vec<u8>)> =
        Default::default();
    {
        let mut rows = sqlx::query(
            "SELECT brand, platform, first_inbound_at, first_response_at, actionable, reply_waits FROM conversations WHERE first_inbound_at >= ? AND first_inbound_at < ? ORDER BY first_inbound_at",
        )
        .bind(day)
        .bind(day + DAY_S)
        .fetch(&mut *conn);
        let mut c = ConversationFacts::default();
        while let Some(row) = rows.try_next().await? {
            let first: i64 = row.get(2);
            c.first_response_at = row.get(3);
            c.actionable = row.get(4);
            c.reply_waits = super::reports::ints(row.get::<Option<&str>, _>(5));
            let (prev, data) = blocks
                .entry((row.get(0), row.get(1)))
                .or_insert((day, Vec::new()));
            put_started(data, *prev, &c, first);
            *prev = first;
        }
    }
    write_blocks(conn, STARTED, day, std::mem::take(&mut blocks)).await?;
    {
        let mut rows = sqlx::query(
            "SELECT brand, platform, settled_resolution_at, first_inbound_at, first_response_at, marked_resolved_at, thanks_resolved_at, replies, reopen_count, redirected FROM conversations WHERE settled_resolution_at >= ? AND settled_resolution_at < ? ORDER BY settled_resolution_at",
        )
        .bind(day)
        .bind(day + DAY_S)
        .fetch(&mut *conn);
        let mut c = ConversationFacts::default();
        while let Some(row) = rows.try_next().await? {
            let at: i64 = row.get(2);
            let first: i64 = row.get(3);
            c.first_response_at = row.get(4);
            c.marked_resolved_at = row.get(5);
            c.thanks_resolved_at = row.get(6);
            c.replies = row.get(7);
            c.reopen_count = row.get(8);
            c.redirected = row.get(9);
            let (prev, data) = blocks
                .entry((row.get(0), row.get(1)))
                .or_insert((day, Vec::new()));
            put_resolved(data, *prev, &c, at, first);
            *prev = at;
        }
    }
    write_blocks(conn, RESOLVED, day, blocks).await?;
    let mut ranked: std::collections::BTreeMap<(String, String), Vec<PraiseRank>> =
        Default::default();
    {
        let mut rows = sqlx::query(
            "SELECT brand, platform, id, created_at, coalesce(compound, 0), coalesce(engagement, 0) FROM messages INDEXED BY messages_praise_cover WHERE direction = 'inbound' AND category = 'praise' AND created_at >= ? AND created_at < ?",
        )
        .bind(day)
        .bind(day + DAY_S)
        .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            ranked
                .entry((row.get(0), row.get(1)))
                .or_default()
                .push(PraiseRank::new(
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    row.get(5),
                ));
        }
    }
    let praise = ranked
        .into_iter()
        .map(|(key, mut rows)| {
            top_praise(&mut rows, PRAISE_PER_BLOCK);
            let mut data = Vec::new();
            for r in &rows {
                put_praise(&mut data, r, day);
            }
            (key, (day, data))
        })
        .collect();
    write_blocks(conn, PRAISE, day, praise).await?;
    let mut turnarounds: std::collections::BTreeMap<(String, String), Turnarounds> =
        Default::default();
    {
        let sql = format!(
            "SELECT brand, platform, id, last_inbound_at - first_inbound_at {} AND last_inbound_at >= ? AND last_inbound_at < ?",
            super::reports::TURNAROUND_FROM
        );
        let mut rows = sqlx::query(&sql)
            .bind(day)
            .bind(day + DAY_S)
            .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            let t = turnarounds.entry((row.get(0), row.get(1))).or_default();
            t.count += 1;
            t.quickest.push((row.get(3), row.get(2)));
        }
    }
    let turnarounds = turnarounds
        .into_iter()
        .map(|(key, mut t)| {
            t.keep_quickest();
            let mut data = Vec::new();
            put_u(&mut data, t.count as u64);
            for (took, id) in &t.quickest {
                put_i(&mut data, *took);
                put_i(&mut data, *id);
            }
            (key, (day, data))
        })
        .collect();
    write_blocks(conn, TURNAROUNDS, day, turnarounds).await?;
    sqlx::query("DELETE FROM kpi_blocks_dirty WHERE day = ?")
        .bind(day)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn write_blocks(
    conn: &mut SqliteConnection,
    kind: i64,
    day: i64,
    blocks: std::collections::BTreeMap<(String, String), (i64, Vec<u8>)>,
) -> Result<(), sqlx::Error> {
    for ((brand, platform), (_, data)) in blocks {
        sqlx::query(
            "INSERT INTO kpi_blocks (kind, day, brand, platform, data) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(kind)
        .bind(day)
        .bind(brand)
        .bind(platform)
        .bind(data)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// See `Store::whole_days`.
struct WholeDays {
    /// Whole UTC days `[first, end)` (empty when `end <= first`).
    first: i64,
    end: i64,
    dirty: Vec<i64>,
    scan: Vec<(i64, i64)>,
}

/// How a report window splits: the UTC days its blocks serve, and the ranges it reads from the
/// conversations (the parts of dirty days inside the window).
struct Split {
    first_day: i64,
    last_day: i64,
    dirty: Vec<i64>,
    live: Vec<(i64, i64)>,
}

impl Store {
    /// Rebuilds the KPI blocks of every dirty day, a few days per transaction; returns the
    /// number of days rebuilt.
    pub async fn refresh_kpi_blocks(&self) -> Result<usize, StoreError> {
        // The days marked now (read first, so a store with nothing to rebuild never takes the
        // write lock); days marked meanwhile wait for the next refresh.
        let days: Vec<i64> =
            sqlx::query_scalar("SELECT day FROM kpi_blocks_dirty ORDER BY day DESC")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.map_err(e))?;
        for chunk in days.chunks(DAYS_PER_REFRESH_TX) {
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(|e| self.map_err(e))?;
            for &day in chunk {
                rebuild_day(&mut tx, day)
                    .await
                    .map_err(|e| self.map_err(e))?;
            }
            tx.commit().await.map_err(|e| self.map_err(e))?;
        }
        Ok(days.len())
    }

    /// The number of UTC days whose KPI blocks wait for a rebuild.
    pub async fn dirty_kpi_days(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT count(*) FROM kpi_blocks_dirty")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))
    }

    async fn split(&self, start: i64, end: i64) -> Result<Split, StoreError> {
        let (first_day, last_day) = (day_of(start), day_of(end - 1));
        let dirty: Vec<i64> = sqlx::query_scalar(
            "SELECT day FROM kpi_blocks_dirty WHERE day >= ? AND day <= ? ORDER BY day",
        )
        .bind(first_day)
        .bind(last_day)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        let mut live: Vec<(i64, i64)> = Vec::new();
        for &d in &dirty {
            let (a, b) = (d.max(start), (d + DAY_S).min(end));
            match live.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => live.push((a, b)),
            }
        }
        Ok(Split {
            first_day,
            last_day,
            dirty,
            live,
        })
    }

    /// Calls `f` with (day, platform, data) of each block of `kind` with a day in
    /// `[first, end)`, not in `dirty` (sorted), that passes the brand and platform filters.
    async fn each_clean_block(
        &self,
        kind: i64,
        query: &ReportQuery,
        (first, end): (i64, i64),
        dirty: &[i64],
        mut f: impl FnMut(i64, &str, &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if first >= end {
            return Ok(());
        }
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT day, platform, data FROM kpi_blocks WHERE kind = ");
        q.push_bind(kind)
            .push(" AND day >= ")
            .push_bind(first)
            .push(" AND day < ")
            .push_bind(end);
        super::reports::push_filters_on(&mut q, query, "");
        let mut rows = q.build().fetch(&self.pool);
        while let Some(row) = rows.try_next().await.map_err(|e| self.map_err(e))? {
            let day: i64 = row.get(0);
            if dirty.binary_search(&day).is_err() {
                f(day, row.get(1), row.get(2))?;
            }
        }
        Ok(())
    }

    /// Calls `f` with every conversation of the clean blocks of `kind` in the split's days
    /// that passes the brand and platform filters.
    async fn each_in_blocks(
        &self,
        kind: i64,
        query: &ReportQuery,
        split: &Split,
        mut f: impl FnMut(&ConversationFacts),
    ) -> Result<(), StoreError> {
        let days = (split.first_day, split.last_day + DAY_S);
        self.each_clean_block(kind, query, days, &split.dirty, |day, platform, data| {
            let platform: Platform = platform
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("{e}")))?;
            match kind {
                STARTED => each_started(data, day, platform, &mut f),
                _ => each_resolved(data, day, platform, &mut f),
            }
        })
        .await
    }

    /// How a window splits for blocks that only serve whole days: the whole UTC days inside
    /// it, the dirty ones among them, and the ranges to read from the tables instead (the
    /// partial days at both ends and the dirty days; the whole window under a product filter).
    async fn whole_days(&self, query: &ReportQuery) -> Result<WholeDays, StoreError> {
        let (first, end) = (day_of(query.start + DAY_S - 1), day_of(query.end));
        let mut split = WholeDays {
            first,
            end,
            dirty: Vec::new(),
            scan: Vec::new(),
        };
        if query.product.is_some() || first >= end {
            split.end = first;
            split.scan.push((query.start, query.end));
            return Ok(split);
        }
        split.dirty = sqlx::query_scalar(
            "SELECT day FROM kpi_blocks_dirty WHERE day >= ? AND day < ? ORDER BY day",
        )
        .bind(first)
        .bind(end)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        let mut add = |a: i64, b: i64| {
            if a < b {
                match split.scan.last_mut() {
                    Some(last) if last.1 == a => last.1 = b,
                    _ => split.scan.push((a, b)),
                }
            }
        };
        add(query.start, first);
        for &d in &split.dirty {
            add(d, d + DAY_S);
        }
        add(end, query.end);
        Ok(split)
    }

    /// The best `PRAISE_PER_BLOCK` inbound praise messages of the window, best first: whole
    /// clean UTC days from their praise blocks, the rest from the praise index.
    pub(crate) async fn ranked_praise(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<PraiseRank>, StoreError> {
        let split = self.whole_days(query).await?;
        let mut ranked = Vec::new();
        let days = (split.first, split.end);
        self.each_clean_block(PRAISE, query, days, &split.dirty, |day, _, data| {
            each_praise(data, day, |r| ranked.push(r))
        })
        .await?;
        for &(start, end) in &split.scan {
            let part = ReportQuery {
                start,
                end,
                ..query.clone()
            };
            ranked.extend(self.scan_praise(&part).await?);
        }
        top_praise(&mut ranked, PRAISE_PER_BLOCK);
        Ok(ranked)
    }

    /// The window's turnarounds counted and the quickest listed: whole clean UTC days from
    /// their turnaround blocks, the rest from the turnaround index.
    pub(crate) async fn turnarounds_ranked(
        &self,
        query: &ReportQuery,
    ) -> Result<Turnarounds, StoreError> {
        let split = self.whole_days(query).await?;
        let mut all = Turnarounds::default();
        let days = (split.first, split.end);
        self.each_clean_block(TURNAROUNDS, query, days, &split.dirty, |_, _, data| {
            all.merge(read_turnarounds(data)?);
            Ok(())
        })
        .await?;
        for &(start, end) in &split.scan {
            let part = ReportQuery {
                start,
                end,
                ..query.clone()
            };
            all.merge(self.scan_turnarounds(&part).await?);
        }
        all.keep_quickest();
        Ok(all)
    }

    /// `scan_started_stats` from the blocks (and the dirty days from the conversations).
    pub(crate) async fn started_stats_from_blocks(
        &self,
        query: &ReportQuery,
        now: UnixSeconds,
        sla_target_s: i64,
    ) -> Result<StartedStats, StoreError> {
        let split = self.split(query.start, query.end).await?;
        let mut s = StartedStats::default();
        self.each_in_blocks(STARTED, query, &split, |c| {
            let first = c.first_inbound_at.unwrap_or(i64::MIN);
            if first >= query.start && first < query.end {
                s.add(c, now, sla_target_s);
            }
        })
        .await?;
        for &(start, end) in &split.live {
            let part = ReportQuery {
                start,
                end,
                ..query.clone()
            };
            s.merge(self.scan_started_stats(&part, now, sla_target_s).await?);
        }
        Ok(s)
    }

    /// `badge_conversations` from the blocks (and the dirty days from the conversations).
    pub(crate) async fn badge_from_blocks(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<BadgeConversation>, StoreError> {
        let split = self.split(query.start, query.end).await?;
        let mut out = Vec::new();
        self.each_in_blocks(STARTED, query, &split, |c| {
            let (Some(first), Some(platform)) = (c.first_inbound_at, c.platform) else {
                return;
            };
            if c.actionable && first >= query.start && first < query.end {
                out.push(BadgeConversation {
                    platform,
                    first_inbound_at: first,
                    first_response_at: c.first_response_at,
                });
            }
        })
        .await?;
        for &(start, end) in &split.live {
            let part = ReportQuery {
                start,
                end,
                ..query.clone()
            };
            out.extend(self.scan_badge_conversations(&part).await?);
        }
        Ok(out)
    }

    /// `scan_resolved_stats` from the blocks, the dirty days from the conversations, and the
    /// conversations with a marked or thanks instant after `now` (a report of the past: they
    /// may be resolved earlier than their settled instant) read one by one.
    pub(crate) async fn resolved_stats_from_blocks(
        &self,
        query: &ReportQuery,
        now: UnixSeconds,
        auto_resolve_after_s: i64,
    ) -> Result<ResolvedStats, StoreError> {
        let split = self.split(query.start, query.end).await?;
        let in_window = |at: i64| at >= query.start && at < query.end;
        let after_now = |t: Option<i64>| t.is_some_and(|t| t > now);
        let mut s = ResolvedStats::default();
        self.each_in_blocks(RESOLVED, query, &split, |c| {
            if after_now(c.marked_resolved_at) || after_now(c.thanks_resolved_at) {
                return;
            }
            if let Some((at, kind)) = resolved_at(c, now, auto_resolve_after_s) {
                if in_window(at) {
                    s.add(c, at, kind);
                }
            }
        })
        .await?;
        for &(start, end) in &split.live {
            let part = ReportQuery {
                start,
                end,
                ..query.clone()
            };
            s.merge(
                self.scan_resolved_stats(&part, now, auto_resolve_after_s)
                    .await?,
            );
        }
        // Of those, only the ones `resolved_at` can resolve at `now`: a thanks after `now`
        // leaves only an earlier mark (auto-resolution needs silence, and the thanks is a later
        // message); a mark after `now` leaves the thanks or silence before it. Both terms walk
        // the marks index (`+` keeps the thanks index out): marks are rare, thanks are not, so
        // a report far in the past does not read every later thanks.
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {} FROM conversations WHERE ((+thanks_resolved_at > ",
            super::reports::CONVERSATION_COLUMNS
        ));
        q.push_bind(now)
            .push(" AND marked_resolved_at <= ")
            .push_bind(now)
            .push(") OR (marked_resolved_at > ")
            .push_bind(now)
            .push(" AND (thanks_resolved_at <= ")
            .push_bind(now)
            .push(" OR last_message_at <= ")
            .push_bind(now.saturating_sub(auto_resolve_after_s))
            .push(")))");
        super::reports::push_filters_on(&mut q, query, "");
        let mut rows = q.build().fetch(&self.pool);
        while let Some(row) = rows.try_next().await.map_err(|e| self.map_err(e))? {
            let c = super::reports::conversation_from_row(&row);
            let Some((at, kind)) = resolved_at(&c, now, auto_resolve_after_s) else {
                continue;
            };
            let read_live = split.live.iter().any(|&(a, b)| at >= a && at < b);
            if in_window(at) && !read_live {
                s.add(&c, at, kind);
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    /// The fixture's windows, and the third one cut by product (read without blocks).
    fn windows_and_a_product_filter() -> Vec<crate::model::ReportQuery> {
        let mut windows = crate::store::rollups::tests::queries();
        let mut kettle = windows[2].clone();
        kettle.product = Some("kettle".into());
        windows.push(kettle);
        windows
    }

    /// Builds the blocks of every dirty day and counts the blocks of `kind`.
    async fn refresh_and_count_blocks(store: &crate::store::Store, kind: i64) -> i64 {
        assert!(store.refresh_kpi_blocks().await.expect("refresh") >= 2);
        sqlx::query_scalar("SELECT count(*) FROM kpi_blocks WHERE kind = ?")
            .bind(kind)
            .fetch_one(&store.pool)
            .await
            .expect("count")
    }

    /// Turnaround counts and the quickest from the turnaround blocks equal the index's,
    /// before the blocks are built, after, and after a write dirties a day again.
    #[tokio::test]
    async fn turnarounds_from_blocks_equal_the_index() {
        use crate::store::rollups::tests::{filled, queries, T0};
        let (_dir, store) = filled().await;
        let windows = windows_and_a_product_filter();
        let mut seen = 0;
        let mut updated = None;
        for phase in 0..3 {
            if phase == 1 {
                let blocks = refresh_and_count_blocks(&store, 4).await;
                assert!(blocks >= 1, "turnaround blocks built: {blocks}");
            }
            if phase == 2 {
                // The slowest turnaround of the first day made the quickest dirties the day.
                let id: i64 = sqlx::query_scalar(&format!("SELECT id {} AND last_inbound_at >= ?1 AND last_inbound_at < ?1 + 86400 ORDER BY last_inbound_at - first_inbound_at DESC LIMIT 1", crate::store::reports::TURNAROUND_FROM))
                    .bind(T0)
                    .fetch_one(&store.pool)
                    .await
                    .expect("slowest");
                sqlx::query(
                    "UPDATE conversations SET last_inbound_at = first_inbound_at - 1 WHERE id = ?",
                )
                .bind(id)
                .execute(&store.pool)
                .await
                .expect("update");
                updated = Some(id);
                assert!(store.dirty_kpi_days().await.expect("dirty") >= 1);
            }
            for q in &windows {
                let mut want = store.scan_turnarounds(q).await.expect("scan");
                want.keep_quickest();
                let got = store.turnarounds_ranked(q).await.expect("ranked");
                assert_eq!(got, want, "phase {phase}, window {q:?}");
                seen += want.count;
            }
        }
        assert!(seen > 0, "the fixture has turnarounds");
        let first_day = store
            .turnarounds_ranked(&queries()[0])
            .await
            .expect("ranked");
        assert!(
            first_day.quickest.first().map(|t| (t.1, t.0)) == updated.map(|id| (id, -1)),
            "the slowest became the quickest: {first_day:?}"
        );
    }

    /// Success-story candidates from the praise blocks equal a ranking of every praise
    /// message of the window, before the blocks are built, after, and after a relabel dirties
    /// a day again; a product filter reads the messages.
    #[tokio::test]
    async fn praise_from_blocks_equals_a_ranking_of_every_praise_message() {
        use crate::store::rollups::tests::{filled, queries};
        let (_dir, store) = filled().await;
        let windows = windows_and_a_product_filter();
        for phase in 0..3 {
            if phase == 1 {
                let blocks = refresh_and_count_blocks(&store, 3).await;
                assert!(blocks >= 2, "praise blocks built: {blocks}");
            }
            if phase == 2 {
                // A message relabelled as glowing praise marks its day dirty and tops the day.
                sqlx::query("UPDATE messages SET category = 'praise', compound = 0.99, engagement = 50 WHERE id = (SELECT min(id) FROM messages WHERE direction = 'inbound' AND category = 'complaint' AND created_at >= ?1 AND created_at < ?1 + 86400)")
                    .bind(super::super::rollups::tests::T0)
                    .execute(&store.pool)
                    .await
                    .expect("relabel");
                assert!(store.dirty_kpi_days().await.expect("dirty") >= 1);
            }
            for q in &windows {
                let mut want = store.scan_praise(q).await.expect("scan");
                top_praise(&mut want, PRAISE_PER_BLOCK);
                let got = store.ranked_praise(q).await.expect("ranked");
                let ids = |v: &[PraiseRank]| v.iter().map(|r| r.id).collect::<Vec<_>>();
                assert_eq!(ids(&got), ids(&want), "phase {phase}, window {q:?}");
            }
        }
        let whole_first_day = &queries()[0];
        let top = store.ranked_praise(whole_first_day).await.expect("ranked");
        assert_eq!(top.first().map(|r| r.score), Some(0.99 * 52f64.ln()));
    }

    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        let values = [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i64::MAX,
            i64::MIN,
            1 << 40,
        ];
        let mut out = Vec::new();
        for v in values {
            put_i(&mut out, v);
        }
        put_u(&mut out, u64::MAX);
        let mut r = Reader { data: &out, at: 0 };
        for v in values {
            assert_eq!(r.i().ok(), Some(v));
        }
        assert_eq!(r.u().ok(), Some(u64::MAX));
        assert!(!r.more());
    }

    #[test]
    fn a_truncated_block_is_reported_not_misread() {
        let mut out = Vec::new();
        put_i(&mut out, 1 << 40);
        out.pop();
        let mut r = Reader { data: &out, at: 0 };
        assert_eq!(r.i(), Err(BlockError::Truncated));
        let c = ConversationFacts {
            actionable: true,
            first_response_at: Some(100),
            reply_waits: vec![5, 7],
            ..ConversationFacts::default()
        };
        let mut block = Vec::new();
        put_started(&mut block, 0, &c, 40);
        block.truncate(block.len() - 1);
        assert!(matches!(
            each_started(&block, 0, Platform::X, |_| {}),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn rows_decode_to_what_the_engine_reads() {
        let a = ConversationFacts {
            actionable: true,
            first_response_at: Some(1_000_100),
            reply_waits: vec![100, 30],
            ..ConversationFacts::default()
        };
        let b = ConversationFacts::default();
        let mut block = Vec::new();
        put_started(&mut block, DAY_S * 11, &a, 1_000_000);
        put_started(&mut block, 1_000_000, &b, 1_000_000);
        let mut seen = Vec::new();
        each_started(&block, DAY_S * 11, Platform::Facebook, |c| {
            seen.push((
                c.first_inbound_at,
                c.first_response_at,
                c.actionable,
                c.reply_waits.clone(),
                c.platform,
            ))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (
                    Some(1_000_000),
                    Some(1_000_100),
                    true,
                    vec![100, 30],
                    Some(Platform::Facebook)
                ),
                (
                    Some(1_000_000),
                    None,
                    false,
                    vec![],
                    Some(Platform::Facebook)
                ),
            ]
        );

        let marked = ConversationFacts {
            first_response_at: Some(500),
            marked_resolved_at: Some(900),
            thanks_resolved_at: Some(950),
            replies: 2,
            reopen_count: 1,
            redirected: true,
            ..ConversationFacts::default()
        };
        let auto = ConversationFacts {
            replies: 1,
            ..ConversationFacts::default()
        };
        let mut block = Vec::new();
        put_resolved(&mut block, 0, &marked, 900, 400);
        put_resolved(&mut block, 900, &auto, 2_000, 1_500);
        let mut seen = Vec::new();
        each_resolved(&block, 0, Platform::X, |c| seen.push(c.clone())).unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            (
                seen[0].first_inbound_at,
                seen[0].first_response_at,
                seen[0].marked_resolved_at,
                seen[0].thanks_resolved_at,
                seen[0].last_outbound_at,
                seen[0].replies,
                seen[0].reopen_count,
                seen[0].redirected
            ),
            (Some(400), Some(500), Some(900), Some(950), None, 2, 1, true)
        );
        // Without marked or thanks: resolved automatically at its settled instant, once the
        // delay has passed.
        assert_eq!(seen[1].last_outbound_at, Some(2_000));
        assert_eq!(resolved_at(&seen[1], 2_000 + 99, 100), None);
        assert_eq!(
            resolved_at(&seen[1], 2_000 + 100, 100),
            Some((2_000, crate::model::ResolutionKind::Auto))
        );
        assert_eq!(
            resolved_at(&seen[0], 10_000, 100),
            Some((900, crate::model::ResolutionKind::Marked))
        );
    }
}
