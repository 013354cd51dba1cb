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
use crate::kpi::inputs::{
    AuthorActivity, BacklogRow, BadgeConversation, KpiInputs, KpiRules, PraiseMessage, TagCount,
    WindowInputs, BUCKET_S,
};
use crate::kpi::window::Window;
use crate::model::{ConversationFacts, MessageAggregate, ReportData, ReportQuery};

/// Loyalists look back this far from the window's end.
pub const LOYALTY_SPAN_S: i64 = 30 * 86400;

fn push_filters(q: &mut QueryBuilder<'_, Sqlite>, query: &ReportQuery) {
    push_filters_on(q, query, "");
}

/// Filters on columns of the table aliased `prefix` ("" or "m.").
fn push_filters_on(q: &mut QueryBuilder<'_, Sqlite>, query: &ReportQuery, prefix: &str) {
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

impl Store {
    /// Message aggregates and conversations for one window.
    pub async fn report_data(&self, query: &ReportQuery) -> Result<ReportData, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT platform, direction, category, count(*), total(compound), sum(compound >= 0.05), sum(compound > -0.05 AND compound < 0.05), sum(compound <= -0.05) FROM messages WHERE created_at >= ",
        );
        q.push_bind(query.start)
            .push(" AND created_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        q.push(" GROUP BY platform, direction, category");
        let mut messages = Vec::new();
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

    /// Inbound counts per combination of products and topics in the window.
    pub async fn tag_counts(&self, query: &ReportQuery) -> Result<Vec<TagCount>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT products, topics, count(*) FROM messages WHERE direction = 'inbound' AND (products <> ',' OR topics <> ',') AND created_at >= ",
        );
        q.push_bind(query.start)
            .push(" AND created_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        q.push(" GROUP BY products, topics");
        Ok(q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .iter()
            .map(|r| TagCount {
                products: split_names(r.get::<&str, _>(0)),
                topics: split_names(r.get::<&str, _>(1)),
                count: r.get(2),
            })
            .collect())
    }

    /// Inbound counts per 15-minute bucket of the window: (bucket start, count).
    pub async fn inbound_buckets(
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT count(*), min(waiting_since) FROM conversations WHERE waiting_since IS NOT NULL AND actionable = 1 AND waiting_since <= ",
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

    /// Inbound praise messages of the window (success-story candidates).
    pub async fn praise_messages(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<PraiseMessage>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT id, author, platform, text, url, compound, engagement, created_at FROM messages WHERE direction = 'inbound' AND category = 'praise' AND created_at >= ",
        );
        q.push_bind(query.start)
            .push(" AND created_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
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
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT author, min(platform), sum(p), sum(h) FROM (SELECT m.author AS author, m.platform AS platform, 1 AS p, 0 AS h FROM messages m WHERE m.direction = 'inbound' AND m.category = 'praise' AND m.created_at >= ",
        );
        q.push_bind(query.start)
            .push(" AND m.created_at < ")
            .push_bind(query.end);
        push_filters_on(&mut q, query, "m.");
        q.push(" UNION ALL SELECT m.author, m.platform, 0, 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.direction = 'inbound' AND m.reply_to IS NOT NULL AND m.compound >= 0.05 AND m.author <> c.customer AND m.created_at >= ")
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

    /// Actionable conversations started in `[query.start, query.end)`, as the badge reads them.
    pub async fn badge_conversations(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<BadgeConversation>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT platform, first_inbound_at, first_response_at FROM conversations WHERE actionable = 1 AND first_inbound_at >= ",
        );
        q.push_bind(query.start)
            .push(" AND first_inbound_at < ")
            .push_bind(query.end);
        push_filters(&mut q, query);
        let mut out = Vec::new();
        let mut rows = q.build().fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(|e| self.map_err(e))? {
            let platform: String = r.get(0);
            out.push(BadgeConversation {
                platform: platform
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                first_inbound_at: r.get(1),
                first_response_at: r.get(2),
            });
        }
        Ok(out)
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
        let data = self.report_data(&query).await?;
        Ok(WindowInputs {
            window,
            messages: data.messages,
            tags: self.tag_counts(&query).await?,
            started: data.conversations,
            resolved: self
                .resolved_candidates(&query, now, rules.auto_resolve_after_s)
                .await?,
            inbound_buckets: self.inbound_buckets(&query).await?,
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
        let current = self.window_inputs(filters, window, now, rules).await?;
        let previous = Some(
            self.window_inputs(filters, window.previous(tz), now, rules)
                .await?,
        );
        let week_earlier = if window.days == 1 {
            Some(
                self.window_inputs(filters, window.week_earlier(tz), now, rules)
                    .await?,
            )
        } else {
            None
        };
        Ok(KpiInputs {
            brand: filters.brand.clone(),
            platform: filters.platform,
            product: filters.product.clone(),
            label: label.to_string(),
            current,
            previous,
            week_earlier,
            backlog: self.backlog(filters, now).await?,
            praise: self.praise_messages(&q(start, end)).await?,
            turnarounds: self.turnaround_candidates(&q(start, end)).await?,
            loyalty: self.loyalty(&q(end - LOYALTY_SPAN_S, end)).await?,
            badge: self
                .badge_conversations(&q(end - BADGE_SPAN_S, end))
                .await?,
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

    /// Distinct brands, platforms and products seen, for autocomplete and help.
    pub async fn known_brands(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT DISTINCT brand FROM conversations ORDER BY brand")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))
    }
}
