//! Reads for chat answers beyond the KPI report: the conversations waiting for a reply
//! (`/kpi backlog`), inbound volume per local day by platform and category (`/kpi chart`, the
//! digest charts), and the brands, products and platforms seen (autocomplete).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::reports::push_filters_on;
use super::{split_names, Store, StoreError};
use crate::digest::series::{DayVolume, WaitingConversation};
use crate::kpi::window::local_midnight;
use crate::model::{Category, Platform, ReportQuery};

/// Day series are grouped in SQL by this many seconds, then summed into local days: every
/// time zone offset in use is a multiple of 15 minutes.
const SLICE_S: i64 = 900;

impl Store {
    /// Actionable conversations waiting for a reply at `now` (filters of `query`; its window
    /// is ignored): the total and the `limit` oldest, oldest first, with the text and link
    /// of the first inbound message.
    pub async fn waiting_conversations(
        &self,
        query: &ReportQuery,
        now: i64,
        limit: usize,
    ) -> Result<(i64, Vec<WaitingConversation>), StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT count(*) FROM conversations WHERE waiting_since IS NOT NULL AND actionable = 1 AND waiting_since <= ",
        );
        q.push_bind(now);
        push_filters_on(&mut q, query, "");
        let total: i64 = q
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT c.id, c.platform, c.brand, c.customer, c.waiting_since, c.category, c.first_inbound_url, \
             (SELECT m.text FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound' ORDER BY m.created_at, m.id LIMIT 1) \
             FROM conversations c WHERE c.waiting_since IS NOT NULL AND c.actionable = 1 AND c.waiting_since <= ",
        );
        q.push_bind(now);
        push_filters_on(&mut q, query, "c.");
        q.push(" ORDER BY c.waiting_since, c.id LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let items = rows
            .iter()
            .map(|r| WaitingConversation {
                conversation_id: r.get(0),
                platform: r.get::<String, _>(1).parse().ok(),
                brand: r.get(2),
                customer: r.get(3),
                waiting_since: r.get(4),
                category: r.get::<Option<String>, _>(5).and_then(|c| c.parse().ok()),
                link: r.get(6),
                text: r.get::<Option<String>, _>(7).unwrap_or_default(),
            })
            .collect();
        Ok((total, items))
    }

    /// Inbound messages per local day in `tz` from `first` to `last` (both included), by
    /// platform, by category and by sentiment sign; every day is present, empty days as zeros.
    /// Filters of `query` apply; its window is ignored.
    pub async fn daily_volume(
        &self,
        query: &ReportQuery,
        first: NaiveDate,
        last: NaiveDate,
        tz: Tz,
    ) -> Result<Vec<DayVolume>, StoreError> {
        let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
        let Some(after_last) = last.succ_opt() else {
            return Ok(Vec::new());
        };
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let bounds: Vec<i64> = days
            .iter()
            .chain(std::iter::once(&after_last))
            .map(|d| local_midnight(tz, *d).timestamp())
            .collect();
        let (start, end) = (bounds[0], bounds[bounds.len() - 1]);
        let whole = ReportQuery {
            start,
            end,
            ..query.clone()
        };
        let mut q: QueryBuilder<Sqlite>;
        if super::rollups::serves(&whole) {
            // The 15-minute rollups hold exactly these counts.
            q = QueryBuilder::new(format!(
                "SELECT bucket / {SLICE_S}, platform, category, sum(n), sum(positive), sum(negative) FROM rollup_volume"
            ));
            super::rollups::push_window(&mut q, &whole, false);
            q.push(" AND direction = 'inbound' GROUP BY 1, 2, 3");
        } else {
            q = QueryBuilder::new(format!(
                "SELECT created_at / {SLICE_S}, platform, category, count(*), sum(compound >= 0.05), sum(compound <= -0.05) FROM messages WHERE direction = 'inbound' AND created_at >= "
            ));
            q.push_bind(start).push(" AND created_at < ").push_bind(end);
            push_filters_on(&mut q, query, "");
            q.push(" GROUP BY 1, 2, 3");
        }
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        let mut out: Vec<DayVolume> = days.iter().map(|d| DayVolume::new(*d)).collect();
        for r in &rows {
            let slice_start = r.get::<i64, _>(0) * SLICE_S;
            // The day whose [midnight, next midnight) holds the slice.
            let i = bounds
                .partition_point(|b| *b <= slice_start)
                .saturating_sub(1);
            let Some(day) = out.get_mut(i) else { continue };
            let n: i64 = r.get(3);
            day.inbound += n;
            if let Ok(p) = r.get::<String, _>(1).parse::<Platform>() {
                *day.by_platform.entry(p).or_insert(0) += n;
            }
            if let Some(c) = r
                .get::<Option<String>, _>(2)
                .and_then(|c| c.parse::<Category>().ok())
            {
                *day.by_category.entry(c).or_insert(0) += n;
            }
            day.positive += r.get::<Option<i64>, _>(4).unwrap_or(0);
            day.negative += r.get::<Option<i64>, _>(5).unwrap_or(0);
        }
        Ok(out)
    }

    /// Values seen in the data for autocomplete: `brand`, `platform` or `product` (anything
    /// else gives nothing), starting with or containing `typed` (case-insensitive), most used
    /// first, at most `limit`.
    pub async fn suggestions(
        &self,
        option: &str,
        typed: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let counted: BTreeMap<String, i64> = match option {
            "brand" => {
                let rows = sqlx::query("SELECT brand, count(*) FROM conversations GROUP BY brand")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| self.map_err(e))?;
                rows.iter().map(|r| (r.get(0), r.get(1))).collect()
            }
            "platform" => {
                let rows =
                    sqlx::query("SELECT platform, count(*) FROM conversations GROUP BY platform")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| self.map_err(e))?;
                rows.iter().map(|r| (r.get(0), r.get(1))).collect()
            }
            "product" => {
                let rows = sqlx::query(
                    "SELECT products, count(*) FROM conversations WHERE products <> ',' GROUP BY products",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.map_err(e))?;
                let mut m = BTreeMap::new();
                for r in &rows {
                    let n: i64 = r.get(1);
                    for p in split_names(r.get::<&str, _>(0)) {
                        *m.entry(p).or_insert(0) += n;
                    }
                }
                m
            }
            _ => BTreeMap::new(),
        };
        let t = typed.trim().to_lowercase();
        let mut found: Vec<(bool, i64, String)> = counted
            .into_iter()
            .filter_map(|(name, n)| {
                let l = name.to_lowercase();
                if l.starts_with(&t) {
                    Some((false, n, name))
                } else if l.contains(&t) {
                    Some((true, n, name))
                } else {
                    None
                }
            })
            .collect();
        // Prefix matches first, then by use, then by name.
        found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        Ok(found.into_iter().take(limit).map(|f| f.2).collect())
    }
}
