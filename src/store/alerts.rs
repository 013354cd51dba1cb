//! Reads for alerts: per-bucket counts of inbound messages (all, complaints or negative) that
//! the spike alerter replays, the context of a spike (platforms, topics, products, examples),
//! and the conversations whose customer is still waiting.

use std::collections::BTreeMap;

use sqlx::{QueryBuilder, Row, Sqlite};

use super::reports::{conversation_from_row, CONVERSATION_COLUMNS};
use super::{split_names, Store, StoreError};
use crate::alerts::message::ExampleMessage;
use crate::alerts::Metric;
use crate::model::{ConversationFacts, Platform, UnixSeconds};

/// What was said in a spike's window: counts per platform, topic and product, and examples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpikeContext {
    /// Counted messages per platform, most first.
    pub platforms: Vec<(Platform, usize)>,
    pub topics: Vec<(String, usize)>,
    pub products: Vec<(String, usize)>,
    /// The most engaged (then newest) counted messages, with links where known.
    pub examples: Vec<ExampleMessage>,
}

fn push_metric(sql: &mut QueryBuilder<'_, Sqlite>, metric: Metric) {
    match metric {
        Metric::Complaints => {
            sql.push(" AND category = 'complaint'");
        }
        Metric::Negative => {
            sql.push(" AND compound <= -0.05");
        }
        Metric::Mentions => {}
    }
}

/// Which inbound counts to read, and over which span.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesQuery {
    pub brand: String,
    pub platform: Option<Platform>,
    pub metric: Metric,
    /// Bucket length in seconds (buckets start at multiples of it, UTC).
    pub bucket_s: i64,
    /// Inclusive start and exclusive end; buckets with no message count 0.
    pub from: UnixSeconds,
    pub to: UnixSeconds,
}

impl Store {
    /// Inbound counts per bucket for `[from, to)`, every bucket present (zeros filled).
    pub async fn inbound_series(
        &self,
        q: &SeriesQuery,
    ) -> Result<Vec<(UnixSeconds, f64)>, StoreError> {
        let bucket = q.bucket_s.max(1);
        let mut sql: QueryBuilder<'_, Sqlite> = QueryBuilder::new("SELECT (created_at / ");
        sql.push_bind(bucket)
            .push(") * ")
            .push_bind(bucket)
            .push(" AS b, COUNT(*) FROM messages WHERE created_at >= ")
            .push_bind(q.from)
            .push(" AND created_at < ")
            .push_bind(q.to)
            .push(" AND direction = 'inbound' AND brand = ")
            .push_bind(q.brand.clone());
        if let Some(p) = q.platform {
            sql.push(" AND platform = ").push_bind(p.as_str());
        }
        push_metric(&mut sql, q.metric);
        sql.push(" GROUP BY b ORDER BY b");
        let rows = sql.build().fetch_all(&self.pool).await?;
        let first = q.from.div_euclid(bucket) * bucket;
        let mut out = Vec::new();
        let mut it = rows
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
            .peekable();
        let mut at = first;
        while at < q.to {
            let mut count = 0;
            while let Some(&(b, c)) = it.peek() {
                if b < at {
                    it.next();
                } else {
                    if b == at {
                        count = c;
                        it.next();
                    }
                    break;
                }
            }
            out.push((at, count as f64));
            at += bucket;
        }
        Ok(out)
    }

    /// The span of stored messages for a brand: (first, last) created_at.
    pub async fn brand_span(
        &self,
        brand: &str,
    ) -> Result<Option<(UnixSeconds, UnixSeconds)>, StoreError> {
        let row =
            sqlx::query("SELECT MIN(created_at), MAX(created_at) FROM messages WHERE brand = ?")
                .bind(brand)
                .fetch_one(&self.pool)
                .await?;
        let first: Option<i64> = row.get(0);
        let last: Option<i64> = row.get(1);
        Ok(first.zip(last))
    }

    /// Platforms on which the brand has inbound messages.
    pub async fn brand_platforms(&self, brand: &str) -> Result<Vec<Platform>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT platform FROM conversations WHERE brand = ? AND first_inbound_at IS NOT NULL ORDER BY platform",
        )
        .bind(brand)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
    }

    /// The counted messages of `q` (its `bucket_s` is ignored) summarised for a spike alert,
    /// with up to `examples` example messages.
    pub async fn spike_context(
        &self,
        q: &SeriesQuery,
        examples: usize,
    ) -> Result<SpikeContext, StoreError> {
        let mut sql: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
            "SELECT platform, author, text, url, created_at, products, topics, COALESCE(engagement, 0) FROM messages WHERE created_at >= ",
        );
        sql.push_bind(q.from)
            .push(" AND created_at < ")
            .push_bind(q.to)
            .push(" AND direction = 'inbound' AND brand = ")
            .push_bind(q.brand.clone());
        if let Some(p) = q.platform {
            sql.push(" AND platform = ").push_bind(p.as_str());
        }
        push_metric(&mut sql, q.metric);
        sql.push(" ORDER BY created_at DESC LIMIT 5000");
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let mut platforms: BTreeMap<Platform, usize> = BTreeMap::new();
        let mut topics: BTreeMap<String, usize> = BTreeMap::new();
        let mut products: BTreeMap<String, usize> = BTreeMap::new();
        let mut candidates: Vec<(i64, ExampleMessage)> = Vec::new();
        for r in &rows {
            let name: String = r.get(0);
            let Ok(platform) = name.parse::<Platform>() else {
                continue;
            };
            *platforms.entry(platform).or_default() += 1;
            for p in split_names(&r.get::<String, _>(5)) {
                *products.entry(p).or_default() += 1;
            }
            for t in split_names(&r.get::<String, _>(6)) {
                *topics.entry(t).or_default() += 1;
            }
            candidates.push((
                r.get(7),
                ExampleMessage {
                    platform,
                    author: r.get(1),
                    text: r.get(2),
                    url: r.get(3),
                    at: r.get(4),
                },
            ));
        }
        // Most engaged first, then messages with a link, then newest (rows are newest first).
        candidates.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.url.is_some().cmp(&a.1.url.is_some()))
                .then(b.1.at.cmp(&a.1.at))
        });
        let mut platforms: Vec<(Platform, usize)> = platforms.into_iter().collect();
        platforms.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(SpikeContext {
            platforms,
            topics: topics.into_iter().collect(),
            products: products.into_iter().collect(),
            examples: candidates
                .into_iter()
                .take(examples)
                .map(|(_, e)| e)
                .collect(),
        })
    }

    /// Actionable, unresolved conversations whose customer has been waiting since before
    /// `before` (oldest wait first), for the waiting-customer nudge.
    pub async fn overdue_conversations(
        &self,
        before: UnixSeconds,
    ) -> Result<Vec<ConversationFacts>, StoreError> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE waiting_since IS NOT NULL AND waiting_since < ? AND actionable = 1 AND marked_resolved_at IS NULL ORDER BY waiting_since LIMIT 10000"
        );
        let rows = sqlx::query(&sql)
            .bind(before)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(rows.iter().map(conversation_from_row).collect())
    }
}
