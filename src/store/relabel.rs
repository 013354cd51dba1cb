//! Re-labelling stored messages after a model or rule change (`carepulse reclassify`): pages
//! of messages whose labels came from another classifier version, their new labels written
//! with the facts of the conversations they belong to in one transaction per page (so an
//! interrupted run resumes where it stopped); the caller then rebuilds the rollups
//! (`Store::rebuild_rollups`).

use std::collections::{BTreeSet, HashMap};

use sqlx::{QueryBuilder, Row, Sqlite};

use super::handle::on_handle;
use super::ingest::{recompute, IngestRules};
use super::{join_names, Store, StoreError};
use crate::model::{Classification, Direction};

/// A stored message to label again.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredText {
    pub id: i64,
    pub direction: Direction,
    pub text: String,
}

/// New labels for one stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct Relabel {
    pub id: i64,
    pub classification: Classification,
    pub redirect: bool,
}

const IDS_PER_LOOKUP: usize = 500;

/// The `kv_state` key set while relabelled messages wait for a rollup rebuild.
pub(crate) const ROLLUPS_STALE: &str = "rollups_stale";

impl Store {
    /// Up to `limit` messages after `after_id` (by id) whose labels are not from `version`
    /// (all of them when `version` is None).
    pub async fn texts_to_relabel(
        &self,
        after_id: i64,
        version: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredText>, StoreError> {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT id, direction, text FROM messages WHERE id > ");
        q.push_bind(after_id);
        if let Some(v) = version {
            q.push(" AND classifier_version IS NOT ")
                .push_bind(v.to_string());
        }
        q.push(" ORDER BY id LIMIT ").push_bind(limit as i64);
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        rows.iter()
            .map(|r| {
                let direction: String = r.get(1);
                Ok(StoredText {
                    id: r.get(0),
                    direction: direction.parse().map_err(|e| {
                        StoreError::Corrupt(format!("message {}: {e}", r.get::<i64, _>(0)))
                    })?,
                    text: r.get(2),
                })
            })
            .collect()
    }

    /// Writes new labels and recomputes the facts of the conversations they belong to, in one
    /// transaction. The rollups are rebuilt once at the end
    /// (`Store::rebuild_rollups`).
    pub async fn relabel(
        &self,
        labels: &[Relabel],
        version: &str,
        rules: &IngestRules,
    ) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.map_err(e))?;
        for l in labels {
            let c = &l.classification;
            sqlx::query("UPDATE messages SET category = ?, confidence = ?, complaint_score = ?, compound = ?, pos = ?, neu = ?, neg = ?, products = ?, topics = ?, redirect = ?, classifier_version = ? WHERE id = ?")
                .bind(c.category.as_str())
                .bind(c.confidence)
                .bind(c.complaint_score)
                .bind(c.sentiment.compound)
                .bind(c.sentiment.pos)
                .bind(c.sentiment.neu)
                .bind(c.sentiment.neg)
                .bind(join_names(&c.products))
                .bind(join_names(&c.topics))
                .bind(l.redirect)
                .bind(version)
                .bind(l.id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?;
        }
        let mut conversations = BTreeSet::new();
        let mut marks = HashMap::new();
        let mut gap_keys = HashMap::new();
        let ids: Vec<i64> = labels.iter().map(|l| l.id).collect();
        for chunk in ids.chunks(IDS_PER_LOOKUP) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT c.id, c.marked_resolved_at, c.gap_key FROM conversations c WHERE c.id IN (SELECT conversation_id FROM messages WHERE id IN (",
            );
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            q.push("))");
            for row in q
                .build()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.map_err(e))?
            {
                let id: i64 = row.get(0);
                conversations.insert(id);
                marks.insert(id, row.get::<Option<i64>, _>(1));
                gap_keys.insert(id, row.get::<Option<String>, _>(2));
            }
        }
        let conversations: Vec<i64> = conversations.into_iter().collect();
        on_handle(&mut tx, |db| {
            recompute(db, &conversations, &marks, &gap_keys, rules)
        })
        .await
        .map_err(|e| self.map_write_err(e))?;
        // Until the rollups are rebuilt they count the old labels: say so in the same
        // transaction, so a run interrupted before the rebuild still rebuilds next time.
        sqlx::query("INSERT INTO kv_state (key, value, updated_at) VALUES (?, 'true', 0) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(ROLLUPS_STALE)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    /// Whether messages were relabelled since the rollups were last rebuilt.
    pub async fn rollups_stale(&self) -> Result<bool, StoreError> {
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM kv_state WHERE key = ?")
            .bind(ROLLUPS_STALE)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(v.is_some())
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{Category, NewMessage, Platform, ReportQuery, Sentiment};
    use crate::store::ClassifiedMessage;

    fn message(i: i64, category: Category) -> ClassifiedMessage {
        ClassifiedMessage {
            message: NewMessage {
                platform: Platform::X,
                external_id: format!("m{i}"),
                brand: "Acme".into(),
                author: format!("user{i}"),
                direction: Direction::Inbound,
                created_at: Utc
                    .timestamp_opt(1_795_392_000 + i * 60, 0)
                    .single()
                    .unwrap_or_default(),
                text: format!("text {i}"),
                reply_to: None,
                conversation_ref: None,
                url: None,
                engagement: None,
                customer: None,
            },
            classification: Classification {
                sentiment: Sentiment {
                    compound: 0.0,
                    pos: 0.0,
                    neu: 1.0,
                    neg: 0.0,
                },
                category,
                confidence: 0.9,
                complaint_score: 0.1,
                products: vec![],
                topics: vec![],
            },
            redirect: false,
            classifier_version: "old".into(),
        }
    }

    async fn complaints(store: &Store) -> i64 {
        let q = ReportQuery {
            start: 1_795_392_000,
            end: 1_795_392_000 + 86_400,
            ..ReportQuery::default()
        };
        store
            .message_aggregates(&q)
            .await
            .expect("aggregates")
            .iter()
            .filter(|a| a.category == Some(Category::Complaint))
            .map(|a| a.count)
            .sum()
    }

    /// A relabel interrupted before the rollup rebuild leaves a mark, so the next run
    /// rebuilds even with nothing left to relabel; the rebuild clears it.
    #[tokio::test]
    async fn relabelled_messages_mark_the_rollups_stale_until_a_rebuild() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("r.db")).await.expect("open");
        let rules = IngestRules::default();
        store
            .ingest(
                (0..6).map(|i| message(i, Category::Other)).collect(),
                None,
                &rules,
                0,
            )
            .await
            .expect("ingest");
        assert!(!store.rollups_stale().await.expect("stale"));
        assert_eq!(complaints(&store).await, 0);

        let page = store
            .texts_to_relabel(0, Some("new"), 4)
            .await
            .expect("page");
        assert_eq!(page.len(), 4, "a page is at most the limit");
        let labels: Vec<Relabel> = page
            .iter()
            .map(|m| Relabel {
                id: m.id,
                classification: message(0, Category::Complaint).classification,
                redirect: false,
            })
            .collect();
        store
            .relabel(&labels, "new", &rules)
            .await
            .expect("relabel");
        assert!(store.rollups_stale().await.expect("stale"));
        assert_eq!(complaints(&store).await, 0, "rollups not rebuilt yet");
        let rest = store
            .texts_to_relabel(0, Some("new"), 10)
            .await
            .expect("rest");
        assert_eq!(
            rest.len(),
            2,
            "messages already labelled by \"new\" are skipped"
        );
        assert!(rest.iter().all(|m| m.id > page[3].id));

        store.rebuild_rollups().await.expect("rebuild");
        assert!(!store.rollups_stale().await.expect("stale"));
        assert_eq!(complaints(&store).await, 4);
    }
}
