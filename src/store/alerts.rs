//! Reads for alerts: per-bucket counts of inbound messages (all, complaints or negative) that
//! the spike alerter replays, and the conversations whose customer is still waiting.

use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Store, StoreError};
use crate::alerts::Metric;
use crate::model::{Platform, UnixSeconds};

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
        match q.metric {
            Metric::Complaints => {
                sql.push(" AND category = 'complaint'");
            }
            Metric::Negative => {
                sql.push(" AND compound <= -0.05");
            }
            Metric::Mentions => {}
        }
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
}
