//! Reads for reports: every SQL statement the KPI engine needs. Message aggregates, product
//! and topic counts and 15-minute inbound buckets for a window (grouped in SQL on the time
//! index); the facts of the conversations started, resolved or turned around in a window; the
//! backlog at now; praise candidates; the loyalty counts of the trailing 30 days; the badge's
//! trailing 7 days; and the per-conversation export. Every read takes the brand, platform and
//! product filters of `ReportQuery`.

use futures::TryStreamExt;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{split_names, Store, StoreError};
use crate::kpi::badge::BADGE_SPAN_S;
use crate::kpi::highlights::TURNAROUNDS_LISTED;
use crate::kpi::inputs::{
    AuthorActivity, BacklogRow, BadgeConversation, KpiInputs, KpiRules, PraiseMessage, TagCount,
    WindowInputs, BUCKET_S,
};
use crate::kpi::resolution::ResolvedStats;
use crate::kpi::response::StartedStats;
use crate::kpi::window::{local_midnight, Window};
use crate::model::{
    Category, ConversationFacts, MessageAggregate, Platform, ReportData, ReportQuery,
};

/// The two halves of every message aggregate: classified messages (one index range per
/// direction, platform and category of `messages_kpi`) and unclassified ones.
fn category_branches() -> [(String, &'static str); 2] {
    let names: Vec<String> = Category::ALL
        .iter()
        .map(|c| format!("'{}'", c.as_str()))
        .collect();
    [
        (format!("category IN ({})", names.join(", ")), "category"),
        ("category IS NULL".to_string(), "NULL"),
    ]
}

/// `direction IN (...) AND platform IN (...)`: the leading columns of `messages_kpi`, so
/// SQLite seeks one range per value instead of scanning by time.
fn message_prefix() -> String {
    let platforms: Vec<String> = Platform::ALL
        .iter()
        .map(|p| format!("'{}'", p.as_str()))
        .collect();
    format!(
        "direction IN ('inbound', 'outbound') AND platform IN ({})",
        platforms.join(", ")
    )
}

/// Integers from a comma-separated list (empty and malformed parts skipped).
pub(super) fn ints(s: Option<&str>) -> Vec<i64> {
    s.unwrap_or("")
        .split(',')
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// Loyalists look back this far from the window's end.
pub const LOYALTY_SPAN_S: i64 = 30 * 86400;

fn push_filters(q: &mut QueryBuilder<'_, Sqlite>, query: &ReportQuery) {
    push_filters_on(q, query, "");
}

/// Filters on columns of the table aliased `prefix` ("" or "m.").
pub(super) fn push_filters_on(q: &mut QueryBuilder<'_, Sqlite>, query: &ReportQuery, prefix: &str) {
    if let Some(b) = &query.brand {
        q.push(format!(" AND {prefix}brand = "))
            .push_bind(b.clone());
    }
    if let Some(p) = query.platform {
        q.push(format!(" AND {prefix}platform = "))
            .push_bind(p.as_str());
    }
    if let Some(p) = &query.product {
        q.push(format!(" AND {prefix}products LIKE "))
            .push_bind(format!("%,{p},%"));
    }
}

/// A window the rollups serve only in part: its whole 15-minute buckets (the core) and the
/// partial buckets at its edges, or `None` when a product filter applies or no whole bucket
/// fits (the messages are read instead).
fn rollup_core(query: &ReportQuery) -> Option<(ReportQuery, Vec<ReportQuery>)> {
    if query.product.is_some() {
        return None;
    }
    let core_start = query.start + (BUCKET_S - query.start.rem_euclid(BUCKET_S)) % BUCKET_S;
    let core_end = query.end - query.end.rem_euclid(BUCKET_S);
    if core_start >= core_end {
        return None;
    }
    let part = |start: i64, end: i64| ReportQuery {
        start,
        end,
        ..query.clone()
    };
    let edges = [(query.start, core_start), (core_end, query.end)]
        .into_iter()
        .filter(|(a, b)| a < b)
        .map(|(a, b)| part(a, b))
        .collect();
    Some((part(core_start, core_end), edges))
}

pub(crate) const CONVERSATION_COLUMNS: &str = "id, platform, brand, customer, started_at, first_inbound_at, first_inbound_url, first_response_at, last_message_at, last_inbound_at, last_outbound_at, waiting_since, inbound_count, outbound_count, replies, reopen_count, thanks_resolved_at, marked_resolved_at, actionable, category, opening_compound, closing_compound, closing_after_reply, redirected, products, topics, reply_waits";

pub(crate) fn conversation_from_row(row: &sqlx::sqlite::SqliteRow) -> ConversationFacts {
    let platform: String = row.get(1);
    let category: Option<String> = row.get(19);
    let waits: String = row.get(26);
    ConversationFacts {
        id: row.get(0),
        platform: platform.parse().ok(),
        brand: row.get(2),
        customer: row.get(3),
        started_at: row.get(4),
        first_inbound_at: row.get(5),
        first_inbound_url: row.get(6),
        first_response_at: row.get(7),
        last_message_at: row.get(8),
        last_inbound_at: row.get(9),
        last_outbound_at: row.get(10),
        waiting_since: row.get(11),
        inbound_count: row.get(12),
        outbound_count: row.get(13),
        replies: row.get(14),
        reopen_count: row.get(15),
        thanks_resolved_at: row.get(16),
        marked_resolved_at: row.get(17),
        actionable: row.get(18),
        category: category.and_then(|c| c.parse().ok()),
        opening_compound: row.get(20),
        closing_compound: row.get(21),
        closing_after_reply: row.get(22),
        redirected: row.get(23),
        products: split_names(row.get::<&str, _>(24)),
        topics: split_names(row.get::<&str, _>(25)),
        reply_waits: waits.split(',').filter_map(|w| w.parse().ok()).collect(),
    }
}

/// The turnarounds (KPI.md): conversations that opened unhappy and close on a happy customer
/// message after a brand reply; append the window on `last_inbound_at`.
pub(crate) const TURNAROUND_FROM: &str = " FROM conversations WHERE closing_after_reply = 1 AND closing_compound >= 0.5 AND first_inbound_at IS NOT NULL AND (category = 'complaint' OR opening_compound <= -0.05)";

impl Store {
    /// Message aggregates and conversations for one window.
    pub async fn report_data(&self, query: &ReportQuery) -> Result<ReportData, StoreError> {
        let messages = self.message_aggregates(query).await?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE first_inbound_at >= "
        ));
        q.push_bind(query.start)
            .push(" AND first_inbound_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        let conversations = self.conversations_where(&mut q).await?;
        Ok(ReportData {
            messages,
            conversations,
        })
    }

    /// Message counts, compound sums and sentiment shares per (platform, direction, category)
    /// in the window, in that order (unclassified first), from the `messages_kpi` index.
    pub async fn message_aggregates(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<MessageAggregate>, StoreError> {
        let mut messages = if super::rollups::serves(query) {
            self.rollup_aggregates(query).await?
        } else if let Some((core, edges)) = rollup_core(query) {
            // Whole buckets from the rollups, the minutes at the edges from the messages.
            let mut merged: std::collections::HashMap<_, MessageAggregate> =
                std::collections::HashMap::new();
            let mut parts = self.rollup_aggregates(&core).await?;
            for edge in &edges {
                parts.extend(self.scan_message_aggregates(edge).await?);
            }
            for m in parts {
                match merged.entry((m.platform, m.direction, m.category)) {
                    std::collections::hash_map::Entry::Occupied(mut e) => {
                        let a = e.get_mut();
                        a.count += m.count;
                        a.compound_sum += m.compound_sum;
                        a.positive += m.positive;
                        a.neutral += m.neutral;
                        a.negative += m.negative;
                    }
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(m);
                    }
                }
            }
            merged.into_values().collect()
        } else {
            self.scan_message_aggregates(query).await?
        };
        messages.sort_by(|a, b| {
            (
                a.platform.as_str(),
                a.direction.as_str(),
                a.category.map(|c| c.as_str()),
            )
                .cmp(&(
                    b.platform.as_str(),
                    b.direction.as_str(),
                    b.category.map(|c| c.as_str()),
                ))
        });
        Ok(messages)
    }

    /// `message_aggregates` read from the messages themselves.
    pub(crate) async fn scan_message_aggregates(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<MessageAggregate>, StoreError> {
        let mut messages = Vec::new();
        for (branch, category) in category_branches() {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
                "SELECT platform, direction, {category}, count(*), total(compound), sum(compound >= 0.05), sum(compound > -0.05 AND compound < 0.05), sum(compound <= -0.05) FROM messages WHERE {} AND {branch} AND created_at >= ",
                message_prefix()
            ));
            q.push_bind(query.start)
                .push(" AND created_at < ")
                .push_bind(query.end);
            push_filters(&mut q, query);
            q.push(if category == "NULL" {
                " GROUP BY direction, platform"
            } else {
                " GROUP BY direction, platform, category"
            });
            for row in q
                .build()
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.map_err(e))?
            {
                let platform: String = row.get(0);
                let direction: String = row.get(1);
                let category: Option<String> = row.get(2);
                messages.push(MessageAggregate {
                    platform: platform
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                    direction: direction
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                    category: category.and_then(|c| c.parse().ok()),
                    count: row.get(3),
                    compound_sum: row.get(4),
                    positive: row.get::<Option<i64>, _>(5).unwrap_or(0),
                    neutral: row.get::<Option<i64>, _>(6).unwrap_or(0),
                    negative: row.get::<Option<i64>, _>(7).unwrap_or(0),
                });
            }
        }
        Ok(messages)
    }

    /// Inbound counts per local day of `window` in `tz`: (start of the day's part in the
    /// window, count), which the engine reads as its 15-minute buckets.
    pub async fn inbound_per_day(
        &self,
        filters: &ReportQuery,
        window: &Window,
        tz: chrono_tz::Tz,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let (start, end) = (window.start_s(), window.end_s());
        let whole = ReportQuery {
            start,
            end,
            ..filters.clone()
        };
        let mut spans = Vec::new();
        for day in window.local_days() {
            let from = local_midnight(tz, day).timestamp().max(start);
            let to = day
                .succ_opt()
                .map(|d| local_midnight(tz, d).timestamp())
                .unwrap_or(end)
                .min(end);
            if from < to {
                spans.push((from, to));
            }
        }
        if super::rollups::serves(&whole) {
            // A local day that starts and ends at UTC midnights (a zone at UTC+0 that day) is
            // one day-rollup row; the other days are read as 15-minute rows. Consecutive days
            // of the same kind share a query: one for most windows, a few across a change of
            // clocks.
            let aligned = |&(from, to): &(i64, i64)| {
                from.rem_euclid(86_400) == 0 && to.rem_euclid(86_400) == 0
            };
            let mut out = Vec::new();
            for run in spans.chunk_by(|a, b| aligned(a) == aligned(b)) {
                let (Some(first), Some(last)) = (run.first(), run.last()) else {
                    continue;
                };
                let part = ReportQuery {
                    start: first.0,
                    end: last.1,
                    ..filters.clone()
                };
                out.extend(self.rollup_inbound_buckets(&part, aligned(first)).await?);
            }
            return Ok(out);
        }
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT ");
        for (i, (from, to)) in spans.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            for (k, (branch, _)) in category_branches().iter().enumerate() {
                if k > 0 {
                    q.push(" + ");
                }
                q.push(format!(
                    "(SELECT count(*) FROM messages WHERE direction = 'inbound' AND {} AND {branch} AND created_at >= ",
                    message_prefix()
                ))
                .push_bind(*from)
                .push(" AND created_at < ")
                .push_bind(*to);
                push_filters(&mut q, filters);
                q.push(")");
            }
        }
        let row = q
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(spans
            .iter()
            .enumerate()
            .map(|(i, (from, _))| (*from, row.get::<i64, _>(i)))
            .filter(|(_, n)| *n > 0)
            .collect())
    }

    /// Responsiveness stats of the conversations started in the window, as seen at `now`: from
    /// the KPI blocks when no product filter applies, else from the conversations.
    pub async fn started_stats(
        &self,
        query: &ReportQuery,
        now: i64,
        sla_target_s: i64,
    ) -> Result<StartedStats, StoreError> {
        if query.product.is_none() {
            return self
                .started_stats_from_blocks(query, now, sla_target_s)
                .await;
        }
        self.scan_started_stats(query, now, sla_target_s).await
    }

    /// `started_stats` computed in SQL on the `conversations_kpi_start` index.
    pub(crate) async fn scan_started_stats(
        &self,
        query: &ReportQuery,
        now: i64,
        sla_target_s: i64,
    ) -> Result<StartedStats, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT count(*), min(first_inbound_at), sum(actionable <> 0), group_concat(CASE WHEN actionable <> 0 AND first_response_at <= ",
        );
        q.push_bind(now)
            .push(" THEN first_inbound_at || ':' || (first_response_at - first_inbound_at) END, ','), sum(actionable <> 0 AND (first_response_at IS NULL OR first_response_at > ")
            .push_bind(now)
            .push(") AND ")
            .push_bind(now)
            .push(" - first_inbound_at > ")
            .push_bind(sla_target_s)
            .push("), group_concat(CASE WHEN actionable <> 0 AND reply_waits <> '' THEN reply_waits END, ',') FROM conversations WHERE first_inbound_at >= ")
            .push_bind(query.start)
            .push(" AND first_inbound_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        let row = q
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let answered = row
            .get::<Option<&str>, _>(3)
            .unwrap_or("")
            .split(',')
            .filter_map(|p| {
                let (first, frt) = p.split_once(':')?;
                Some((first.parse().ok()?, frt.parse().ok()?))
            })
            .collect();
        Ok(StartedStats {
            conversations: row.get(0),
            earliest_start: row.get(1),
            actionable: row.get::<Option<i64>, _>(2).unwrap_or(0),
            answered,
            overdue: row.get::<Option<i64>, _>(4).unwrap_or(0),
            reply_waits: ints(row.get::<Option<&str>, _>(5)),
        })
    }

    /// Resolution stats of the conversations resolved in the window as seen at `now`: from the
    /// KPI blocks when no product filter applies, else from the conversations.
    pub async fn resolved_stats(
        &self,
        query: &ReportQuery,
        now: i64,
        auto_resolve_after_s: i64,
    ) -> Result<ResolvedStats, StoreError> {
        if query.product.is_none() {
            return self
                .resolved_stats_from_blocks(query, now, auto_resolve_after_s)
                .await;
        }
        self.scan_resolved_stats(query, now, auto_resolve_after_s)
            .await
    }

    /// `resolved_stats` computed in SQL (`kpi::resolution::resolved_at` written in SQL over
    /// the same candidates as `resolved_candidates`).
    pub(crate) async fn scan_resolved_stats(
        &self,
        query: &ReportQuery,
        now: i64,
        auto_resolve_after_s: i64,
    ) -> Result<ResolvedStats, StoreError> {
        // The candidates in three disjoint branches (thanks in the window; marked in the window
        // and not thanks; auto-eligible with the last brand reply in the window and neither),
        // so each reads its own index (the auto branch, most of them, the index alone)
        // instead of an OR that fetches every row from the table.
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT count(*), sum(k = 1), sum(k = 2), sum(k = 3), group_concat(max(t - first_inbound_at, 0), ','), sum(replies >= 1), sum(replies >= 1 AND first_response_at IS NOT NULL), sum(CASE WHEN replies >= 1 AND first_response_at IS NOT NULL THEN max(t - first_response_at, 0) END), sum(replies = 1 AND reopen_count = 0), group_concat(CASE WHEN replies >= 1 THEN t END, ','), group_concat(CASE WHEN replies >= 1 AND redirected = 0 THEN platform END, ',') FROM (SELECT first_inbound_at, first_response_at, replies, reopen_count, redirected, platform, CASE WHEN mk IS NOT NULL AND (th IS NULL OR mk <= th) THEN mk WHEN th IS NOT NULL THEN th WHEN auto THEN last_outbound_at END AS t, CASE WHEN mk IS NOT NULL AND (th IS NULL OR mk <= th) THEN 1 WHEN th IS NOT NULL THEN 3 WHEN auto THEN 2 END AS k FROM (",
        );
        let in_window = |q: &mut QueryBuilder<'_, Sqlite>, column: &str| {
            q.push(format!("coalesce({column} >= "))
                .push_bind(query.start)
                .push(format!(" AND {column} < "))
                .push_bind(query.end)
                .push(", 0)");
        };
        for branch in 0..3 {
            if branch > 0 {
                q.push(" UNION ALL ");
            }
            q.push("SELECT first_inbound_at, first_response_at, replies, reopen_count, redirected, platform, last_outbound_at, CASE WHEN marked_resolved_at <= ")
                .push_bind(now)
                .push(" THEN marked_resolved_at END AS mk, CASE WHEN thanks_resolved_at <= ")
                .push_bind(now)
                .push(" THEN thanks_resolved_at END AS th, (last_outbound_at IS NOT NULL AND waiting_since IS NULL AND (last_inbound_at IS NULL OR last_outbound_at >= last_inbound_at) AND last_outbound_at = last_message_at AND ")
                .push_bind(now)
                .push(" - last_outbound_at >= ")
                .push_bind(auto_resolve_after_s)
                .push(") AS auto FROM conversations WHERE first_inbound_at IS NOT NULL AND ");
            match branch {
                0 => {
                    q.push("thanks_resolved_at >= ")
                        .push_bind(query.start)
                        .push(" AND thanks_resolved_at < ")
                        .push_bind(query.end);
                }
                1 => {
                    q.push("marked_resolved_at >= ")
                        .push_bind(query.start)
                        .push(" AND marked_resolved_at < ")
                        .push_bind(query.end)
                        .push(" AND NOT ");
                    in_window(&mut q, "thanks_resolved_at");
                }
                _ => {
                    q.push("waiting_since IS NULL AND last_outbound_at >= ")
                        .push_bind(query.start)
                        .push(" AND last_outbound_at < ")
                        .push_bind(query.end.min(now - auto_resolve_after_s + 1))
                        .push(" AND NOT ");
                    in_window(&mut q, "thanks_resolved_at");
                    q.push(" AND NOT ");
                    in_window(&mut q, "marked_resolved_at");
                }
            }
            push_filters(&mut q, query);
        }
        q.push(")) WHERE t >= ")
            .push_bind(query.start)
            .push(" AND t < ")
            .push_bind(query.end);
        let row = q
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let n = |i: usize| row.get::<Option<i64>, _>(i).unwrap_or(0);
        let mut kept = std::collections::BTreeMap::new();
        for p in row.get::<Option<&str>, _>(10).unwrap_or("").split(',') {
            if !p.is_empty() {
                let name = p.parse::<Platform>().map(|p| p.as_str()).unwrap_or("");
                *kept.entry(name.to_string()).or_insert(0) += 1;
            }
        }
        Ok(ResolvedStats {
            resolved: n(0),
            marked: n(1),
            auto: n(2),
            thanks: n(3),
            times: ints(row.get::<Option<&str>, _>(4)),
            by_us: n(5),
            handled: n(6),
            handling_total_s: n(7),
            fcr: n(8),
            kept,
            by_us_at: ints(row.get::<Option<&str>, _>(9)),
        })
    }

    /// The number of turnarounds closed in the window, and the quickest ones with their facts
    /// (`kpi::highlights::is_turnaround` in SQL).
    pub async fn turnarounds_listed(
        &self,
        query: &ReportQuery,
    ) -> Result<(i64, Vec<ConversationFacts>), StoreError> {
        let ranked = self.turnarounds_ranked(query).await?;
        let (count, ids): (i64, Vec<i64>) = (
            ranked.count,
            ranked.quickest.iter().map(|(_, id)| *id).collect(),
        );
        if ids.is_empty() {
            return Ok((count, Vec::new()));
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id IN ("
        ));
        let mut sep = q.separated(", ");
        for id in &ids {
            sep.push_bind(*id);
        }
        q.push(") ORDER BY last_inbound_at - first_inbound_at, id");
        Ok((count, self.conversations_where(&mut q).await?))
    }

    async fn conversations_where(
        &self,
        q: &mut QueryBuilder<'_, Sqlite>,
    ) -> Result<Vec<ConversationFacts>, StoreError> {
        // Streamed: rows become facts one by one instead of all being held as rows first.
        let mut rows = q.build().fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(|e| self.map_err(e))? {
            out.push(conversation_from_row(&row));
        }
        Ok(out)
    }

    /// Inbound counts per combination of products and topics in the window, ordered by
    /// (products, topics).
    pub async fn tag_counts(&self, query: &ReportQuery) -> Result<Vec<TagCount>, StoreError> {
        if super::rollups::serves(query) {
            return self.rollup_tag_counts(query).await;
        }
        let Some((core, edges)) = rollup_core(query) else {
            return self.scan_tag_counts(query).await;
        };
        // Whole buckets from the rollups, the minutes at the edges from the messages, merged
        // in the order the scan gives.
        let mut parts = self.rollup_tag_counts(&core).await?;
        for edge in &edges {
            parts.extend(self.scan_tag_counts(edge).await?);
        }
        let mut counts: std::collections::BTreeMap<(String, String), TagCount> =
            std::collections::BTreeMap::new();
        for t in parts {
            let key = (super::join_names(&t.products), super::join_names(&t.topics));
            match counts.get_mut(&key) {
                Some(c) => c.count += t.count,
                None => {
                    counts.insert(key, t);
                }
            }
        }
        Ok(counts.into_values().collect())
    }

    /// `tag_counts` read from the messages themselves.
    pub(crate) async fn scan_tag_counts(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<TagCount>, StoreError> {
        let mut counts: std::collections::BTreeMap<(String, String), i64> = Default::default();
        for (branch, _) in category_branches() {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
                "SELECT products, topics, count(*) FROM messages WHERE direction = 'inbound' AND {} AND {branch} AND (products <> ',' OR topics <> ',') AND created_at >= ",
                message_prefix()
            ));
            q.push_bind(query.start)
                .push(" AND created_at < ")
                .push_bind(query.end);
            push_filters(&mut q, query);
            q.push(" GROUP BY products, topics");
            for r in q
                .build()
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.map_err(e))?
            {
                *counts.entry((r.get(0), r.get(1))).or_insert(0) += r.get::<i64, _>(2);
            }
        }
        Ok(counts
            .into_iter()
            .map(|((products, topics), count)| TagCount {
                products: split_names(&products),
                topics: split_names(&topics),
                count,
            })
            .collect())
    }

    /// Inbound counts per 15-minute bucket of the window: (bucket start, count).
    pub async fn inbound_buckets(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        if super::rollups::serves(query) {
            return self.rollup_inbound_buckets(query, false).await;
        }
        self.scan_inbound_buckets(query).await
    }

    /// `inbound_buckets` read from the messages themselves.
    pub(crate) async fn scan_inbound_buckets(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT created_at / {BUCKET_S} AS b, count(*) FROM messages WHERE created_at >= "
        ));
        q.push_bind(query.start)
            .push(" AND created_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        q.push(" AND direction = 'inbound' GROUP BY b");
        Ok(q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .iter()
            .map(|r| (r.get::<i64, _>(0) * BUCKET_S, r.get::<i64, _>(1)))
            .collect())
    }

    /// Conversations that may be resolved in the window, as seen at `now`: thanks or marked in
    /// the window, or (auto) a brand reply last in the window with no customer waiting and at
    /// least `auto_resolve_after_s` before now. The engine re-checks each one.
    pub async fn resolved_candidates(
        &self,
        query: &ReportQuery,
        now: i64,
        auto_resolve_after_s: i64,
    ) -> Result<Vec<ConversationFacts>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE ((thanks_resolved_at >= "
        ));
        q.push_bind(query.start)
            .push(" AND thanks_resolved_at < ")
            .push_bind(query.end)
            .push(") OR (marked_resolved_at >= ")
            .push_bind(query.start)
            .push(" AND marked_resolved_at < ")
            .push_bind(query.end)
            .push(") OR (waiting_since IS NULL AND last_outbound_at >= ")
            .push_bind(query.start)
            .push(" AND last_outbound_at < ")
            .push_bind(query.end.min(now - auto_resolve_after_s + 1))
            .push("))");
        push_filters(&mut q, query);
        self.conversations_where(&mut q).await
    }

    /// Actionable conversations whose customer waits at `now`, whatever their start.
    pub async fn backlog(&self, query: &ReportQuery, now: i64) -> Result<BacklogRow, StoreError> {
        // The counts kept by triggers are the backlog as seen at or after the latest waiting
        // instant; a report of the past, or cut by product, counts the conversations.
        let latest: Option<i64> = sqlx::query_scalar(
            "SELECT max(waiting_since) FROM conversations WHERE waiting_since IS NOT NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        if query.product.is_some() || latest.is_some_and(|t| t > now) {
            return self.scan_backlog(query, now).await;
        }
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT coalesce(sum(n), 0) FROM backlog_counts WHERE 1 = 1");
        push_filters(&mut q, query);
        let count: i64 = q
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT waiting_since FROM conversations INDEXED BY conversations_backlog WHERE waiting_since IS NOT NULL AND actionable = 1",
        );
        push_filters(&mut q, query);
        q.push(" ORDER BY waiting_since LIMIT 1");
        let oldest: Option<i64> = q
            .build_query_scalar()
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(BacklogRow {
            count,
            oldest_waiting_since: oldest,
        })
    }

    /// `backlog` counted from the conversations.
    pub(crate) async fn scan_backlog(
        &self,
        query: &ReportQuery,
        now: i64,
    ) -> Result<BacklogRow, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT count(*), min(waiting_since) FROM conversations INDEXED BY conversations_backlog WHERE waiting_since IS NOT NULL AND actionable = 1 AND waiting_since <= ",
        );
        q.push_bind(now);
        push_filters(&mut q, query);
        let row = q
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(BacklogRow {
            count: row.get(0),
            oldest_waiting_since: row.get(1),
        })
    }

    /// The success-story candidates of the window: the inbound praise messages with the
    /// highest `story_score`, a few more than the engine lists. They are ranked from the praise
    /// blocks and narrow reads of the praise index, and only the winners' rows are read.
    pub async fn praise_messages(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<PraiseMessage>, StoreError> {
        let ranked = self.ranked_praise(query).await?;
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, author, platform, text, url, compound, engagement, created_at FROM messages WHERE id IN (",
        );
        let mut sep = q.separated(", ");
        for r in &ranked {
            sep.push_bind(r.id);
        }
        q.push(")");
        let mut out = Vec::new();
        let mut rows = q.build().fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(|e| self.map_err(e))? {
            let platform: String = r.get(2);
            out.push(PraiseMessage {
                id: r.get(0),
                author: r.get(1),
                platform: platform
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                text: r.get(3),
                url: r.get(4),
                compound: r.get::<Option<f64>, _>(5).unwrap_or(0.0),
                engagement: r.get(6),
                created_at: r.get(7),
            });
        }
        Ok(out)
    }

    /// The one text of a `SELECT group_concat(...)` query, empty when no row matched (its rows
    /// are read by `concatenated_rows`).
    async fn concatenated(&self, mut q: QueryBuilder<'_, Sqlite>) -> Result<String, StoreError> {
        let all: Option<String> = q
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .get(0);
        Ok(all.unwrap_or_default())
    }

    /// The window's turnarounds counted and the quickest ranked, on the covering index.
    pub(crate) async fn scan_turnarounds(
        &self,
        query: &ReportQuery,
    ) -> Result<super::blocks::Turnarounds, StoreError> {
        let where_ = |q: &mut QueryBuilder<'_, Sqlite>| {
            q.push(TURNAROUND_FROM)
                .push(" AND last_inbound_at >= ")
                .push_bind(query.start)
                .push(" AND last_inbound_at < ")
                .push_bind(query.end);
            push_filters(q, query);
        };
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT count(*)");
        where_(&mut q);
        let count: i64 = q
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .get(0);
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT last_inbound_at - first_inbound_at, id");
        where_(&mut q);
        q.push(format!(
            " ORDER BY last_inbound_at - first_inbound_at, id LIMIT {TURNAROUNDS_LISTED}"
        ));
        let quickest = q
            .build_query_as::<(i64, i64)>()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(super::blocks::Turnarounds { count, quickest })
    }

    /// Every inbound praise message of the window as success stories rank it, from one
    /// narrow aggregate over the praise index.
    pub(crate) async fn scan_praise(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<super::blocks::PraiseRank>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT group_concat(id || ':' || coalesce(compound, 0) || ':' || coalesce(engagement, 0) || ':' || created_at, ',') FROM messages INDEXED BY messages_praise_cover WHERE direction = 'inbound' AND category = 'praise' AND created_at >= ",
        );
        q.push_bind(query.start)
            .push(" AND created_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        let all = self.concatenated(q).await?;
        let mut out = Vec::new();
        for [id, compound, engagement, created_at] in concatenated_rows(&all, "praise")? {
            let bad = |e: &dyn std::fmt::Display| {
                StoreError::Corrupt(format!(
                    "praise row {:?}: {e}",
                    [id, compound, engagement, created_at].join(":")
                ))
            };
            out.push(super::blocks::PraiseRank::new(
                id.parse().map_err(|e| bad(&e))?,
                created_at.parse().map_err(|e| bad(&e))?,
                compound.parse().map_err(|e| bad(&e))?,
                engagement.parse().map_err(|e| bad(&e))?,
            ));
        }
        Ok(out)
    }

    /// Conversations whose last inbound message is in the window and closes well after a
    /// brand reply (turnaround candidates).
    pub async fn turnaround_candidates(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<ConversationFacts>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE closing_after_reply = 1 AND closing_compound >= 0.5 AND last_inbound_at >= "
        ));
        q.push_bind(query.start)
            .push(" AND last_inbound_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        self.conversations_where(&mut q).await
    }

    /// Authors with >= 3 praise messages or >= 2 helpful replies (compound >= 0.05, in another
    /// customer's conversation) in `[query.start, query.end)`.
    pub async fn loyalty(&self, query: &ReportQuery) -> Result<Vec<AuthorActivity>, StoreError> {
        // Only authors whose third latest praise or second latest helpful-looking reply is
        // since the window's start can qualify (`author_activity`); each is counted exactly
        // from the per-author indexes (CROSS JOIN keeps the candidates the outer loop).
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "WITH candidates(author) AS (SELECT author FROM author_activity WHERE praise_3 >= ",
        );
        q.push_bind(query.start)
            .push(" UNION SELECT author FROM author_activity WHERE helpful_2 >= ")
            .push_bind(query.start)
            .push(") SELECT author, min(platform), sum(p), sum(h) FROM (SELECT m.author AS author, m.platform AS platform, 1 AS p, 0 AS h FROM candidates k CROSS JOIN messages m INDEXED BY messages_praise_by_author ON m.author = k.author WHERE m.direction = 'inbound' AND m.category = 'praise' AND m.created_at >= ");
        q.push_bind(query.start)
            .push(" AND m.created_at < ")
            .push_bind(query.end);
        push_filters_on(&mut q, query, "m.");
        q.push(" UNION ALL SELECT m.author, m.platform, 0, 1 FROM candidates k CROSS JOIN messages m INDEXED BY messages_helpful_by_author ON m.author = k.author JOIN conversations c ON c.id = m.conversation_id WHERE m.direction = 'inbound' AND m.reply_to IS NOT NULL AND m.compound >= 0.05 AND m.author <> c.customer AND m.created_at >= ")
            .push_bind(query.start)
            .push(" AND m.created_at < ")
            .push_bind(query.end);
        push_filters_on(&mut q, query, "m.");
        q.push(") GROUP BY author HAVING sum(p) >= 3 OR sum(h) >= 2");
        Ok(q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .iter()
            .map(|r| AuthorActivity {
                author: r.get(0),
                platform: r.get::<Option<String>, _>(1).and_then(|p| p.parse().ok()),
                praise: r.get(2),
                helpful: r.get(3),
            })
            .collect())
    }

    /// Actionable conversations started in `[query.start, query.end)`, as the badge reads them:
    /// from the KPI blocks when no product filter applies, else from the conversations.
    pub async fn badge_conversations(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<BadgeConversation>, StoreError> {
        if query.product.is_none() {
            return self.badge_from_blocks(query).await;
        }
        self.scan_badge_conversations(query).await
    }

    /// `badge_conversations` as one narrow aggregate over the `conversations_kpi_start` index.
    pub(crate) async fn scan_badge_conversations(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<BadgeConversation>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT group_concat(platform || ':' || first_inbound_at || ':' || coalesce(first_response_at, ''), ',') FROM conversations WHERE actionable = 1 AND first_inbound_at >= ",
        );
        q.push_bind(query.start)
            .push(" AND first_inbound_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        let all = self.concatenated(q).await?;
        let mut out = Vec::new();
        for [platform, first, response] in concatenated_rows(&all, "badge")? {
            let bad = |e: &dyn std::fmt::Display| {
                StoreError::Corrupt(format!(
                    "badge row {:?}: {e}",
                    [platform, first, response].join(":")
                ))
            };
            out.push(BadgeConversation {
                platform: platform.parse().map_err(|e| bad(&e))?,
                first_inbound_at: first.parse().map_err(|e| bad(&e))?,
                first_response_at: response.parse().ok(),
            });
        }
        Ok(out)
    }

    /// Runs `read` on a tokio task of its own (with a handle to this store), so a read that
    /// decodes many blocks runs beside the others instead of taking turns with them.
    async fn on_own_task<T, Read, Fut>(&self, read: Read) -> Result<T, StoreError>
    where
        Read: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let task = tokio::spawn(read(self.clone()));
        task.await.map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Everything one window's report needs.
    pub async fn window_inputs(
        &self,
        filters: &ReportQuery,
        window: Window,
        now: i64,
        rules: &KpiRules,
    ) -> Result<WindowInputs, StoreError> {
        let query = ReportQuery {
            start: window.start_s(),
            end: window.end_s(),
            ..filters.clone()
        };
        // The started and resolved conversations decode the most blocks: on tasks of their
        // own, so they use every core.
        let (started_query, resolved_query) = (query.clone(), query.clone());
        let (sla_target_s, auto_resolve_after_s) = (rules.sla_target_s, rules.auto_resolve_after_s);
        let (messages, tags, inbound_buckets, started, resolved) = futures::try_join!(
            self.message_aggregates(&query),
            self.tag_counts(&query),
            self.inbound_per_day(&query, &window, rules.timezone),
            self.on_own_task(move |store| async move {
                store.started_stats(&started_query, now, sla_target_s).await
            }),
            self.on_own_task(move |store| async move {
                store
                    .resolved_stats(&resolved_query, now, auto_resolve_after_s)
                    .await
            }),
        )?;
        Ok(WindowInputs {
            window,
            messages,
            tags,
            started: Vec::new(),
            resolved: Vec::new(),
            inbound_buckets,
            started_stats: Some(started),
            resolved_stats: Some(resolved),
        })
    }

    /// Everything `kpi::full_report` needs for `window` and its comparison windows (the
    /// previous window of equal length, and for a one-day window the same weekday a week
    /// earlier), cut by the brand, platform and product of `filters` (its start and end are
    /// ignored).
    pub async fn kpi_inputs(
        &self,
        filters: &ReportQuery,
        label: &str,
        window: Window,
        now: i64,
        rules: &KpiRules,
    ) -> Result<KpiInputs, StoreError> {
        let (start, end) = (window.start_s(), window.end_s());
        let q = |start: i64, end: i64| ReportQuery {
            start,
            end,
            ..filters.clone()
        };
        let tz = rules.timezone;
        // The reads are independent: run them together, so each of the pool's connections
        // (one SQLite thread each) works on one.
        let week_earlier = async {
            if window.days == 1 {
                self.window_inputs(filters, window.week_earlier(tz), now, rules)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let (in_window, loyalty_span, badge_span) = (
            q(start, end),
            q(end - LOYALTY_SPAN_S, end),
            q(end - BADGE_SPAN_S, end),
        );
        // The two window reads decode the most blocks: on tasks of their own, so they run on
        // every core.
        let spawn_window = |w: Window| {
            let (filters, rules) = (filters.clone(), rules.clone());
            self.on_own_task(move |store| async move {
                store.window_inputs(&filters, w, now, &rules).await
            })
        };
        let (current, previous, week_earlier, turnarounds, backlog, praise, loyalty, badge) = futures::try_join!(
            spawn_window(window),
            spawn_window(window.previous(tz)),
            week_earlier,
            self.turnarounds_listed(&in_window),
            self.backlog(filters, now),
            self.praise_messages(&in_window),
            self.loyalty(&loyalty_span),
            self.badge_conversations(&badge_span),
        )?;
        let (turnarounds_total, turnarounds) = turnarounds;
        Ok(KpiInputs {
            brand: filters.brand.clone(),
            platform: filters.platform,
            product: filters.product.clone(),
            label: label.to_string(),
            current,
            previous: Some(previous),
            week_earlier,
            backlog,
            praise,
            turnarounds,
            turnarounds_total: Some(turnarounds_total),
            loyalty,
            badge,
        })
    }

    /// Conversations whose first inbound message is in the window, oldest first (export).
    pub async fn conversations_started(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<ConversationFacts>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE first_inbound_at >= "
        ));
        q.push_bind(query.start)
            .push(" AND first_inbound_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        q.push(" ORDER BY first_inbound_at, id");
        self.conversations_where(&mut q).await
    }

    /// The brands with stored messages, sorted: read from the daily rollups (a few rows per
    /// day), not from the conversations, so it stays cheap on tens of millions of rows.
    pub async fn known_brands(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT DISTINCT brand FROM rollup_volume WHERE width = 86400 ORDER BY brand",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))
    }

    /// The products named by stored inbound messages, sorted, from the daily rollups.
    pub async fn known_products(&self) -> Result<Vec<String>, StoreError> {
        let lists: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT products FROM rollup_tags WHERE width = 86400")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.map_err(e))?;
        let names: std::collections::BTreeSet<String> =
            lists.iter().flat_map(|l| split_names(l)).collect();
        Ok(names.into_iter().collect())
    }
}

/// The rows of a `group_concat` text: rows joined by `,`, each of exactly `N` fields joined
/// by `:`. A row of another shape is reported as corrupt, naming `what` it was.
fn concatenated_rows<'a, const N: usize>(
    all: &'a str,
    what: &str,
) -> Result<Vec<[&'a str; N]>, StoreError> {
    all.split(',')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let fields: Vec<&str> = part.split(':').collect();
            <[&str; N]>::try_from(fields).map_err(|_| {
                StoreError::Corrupt(format!("{what} row {part:?}: expected {N} fields"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_rows_split_rows_and_fields_and_reject_other_shapes() {
        let rows = concatenated_rows::<3>("x:1:2,facebook:3:", "badge").expect("rows");
        assert_eq!(rows, vec![["x", "1", "2"], ["facebook", "3", ""]]);
        assert!(concatenated_rows::<3>("", "badge")
            .expect("none")
            .is_empty());
        let err = concatenated_rows::<3>("x:1:2,x:1", "badge").expect_err("short row");
        assert!(err.to_string().contains("badge row \"x:1\""), "{err}");
        assert!(concatenated_rows::<2>("1:2:3", "praise").is_err());
    }
}
