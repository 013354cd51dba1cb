//! Reads for reports: message aggregates for a window (grouped in SQL on the time index) and
//! the facts of the conversations the window's KPIs attribute to it.

use sqlx::{QueryBuilder, Row, Sqlite};

use super::{split_names, Store, StoreError};
use crate::model::{ConversationFacts, MessageAggregate, ReportData, ReportQuery};

fn push_filters(q: &mut QueryBuilder<'_, Sqlite>, query: &ReportQuery) {
    if let Some(b) = &query.brand {
        q.push(" AND brand = ").push_bind(b.clone());
    }
    if let Some(p) = query.platform {
        q.push(" AND platform = ").push_bind(p.as_str());
    }
    if let Some(p) = &query.product {
        q.push(" AND products LIKE ").push_bind(format!("%,{p},%"));
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
        let conversations = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .iter()
            .map(conversation_from_row)
            .collect();
        Ok(ReportData {
            messages,
            conversations,
        })
    }

    /// Distinct brands, platforms and products seen, for autocomplete and help.
    pub async fn known_brands(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT DISTINCT brand FROM conversations ORDER BY brand")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))
    }
}
