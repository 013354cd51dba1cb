//! Re-labelling stored messages after a model or rule change (`carepulse reclassify`): pages
//! of messages whose labels came from another classifier version, their new labels written
//! with the facts of the conversations they belong to in one transaction per page (so an
//! interrupted run resumes where it stopped); the caller then rebuilds the rollups
//! (`Store::rebuild_rollups`).

use std::collections::{BTreeSet, HashMap};

use sqlx::{QueryBuilder, Row, Sqlite};

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
        recompute(&mut tx, &conversations, &marks, &gap_keys, rules)
            .await
            .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }
}
