//! The outbox: posts waiting to be delivered to chat. A scheduled post is enqueued in the same
//! transaction that claims its (job, slot) row, so a claimed job always has its post and a
//! post exists only for a claimed job. Delivery leases a row before sending (so two
//! instances never send the same row at once), then marks it delivered, schedules a retry,
//! or parks it when retrying cannot help.
//!
//! Row format: `post` is the `Post` as JSON (attachment names, types and titles included);
//! `attachments` holds the attachment bytes, in order, each as an 8-byte little-endian
//! length followed by the bytes.

use sqlx::Row;

use super::{Store, StoreError};

/// `next_try_at` of a parked row: it is kept for inspection and never tried again.
pub const PARKED: i64 = i64::MAX;

/// A post waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    /// The post as JSON.
    pub post: String,
    /// Attachment bytes (see the module header).
    pub attachments: Vec<Vec<u8>>,
    pub created_at: i64,
    pub attempts: i64,
    /// The job (name, slot) the post belongs to, if it is a scheduled post.
    pub job: Option<(String, i64)>,
}

/// Counts by state, for status and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    pub pending: i64,
    pub delivered: i64,
    pub parked: i64,
}

/// Packs attachment bytes into the `attachments` column.
pub fn pack_attachments(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_le_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// Unpacks the `attachments` column; None when it is damaged.
pub fn unpack_attachments(mut blob: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !blob.is_empty() {
        let (len, rest) = blob.split_at_checked(8)?;
        let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
        let (bytes, rest) = rest.split_at_checked(len)?;
        out.push(bytes.to_vec());
        blob = rest;
    }
    Some(out)
}

impl Store {
    /// Whether (job, slot) was already claimed (a cheap check before building a post).
    pub async fn job_claimed(&self, job: &str, slot: i64) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE job = ? AND slot = ?")
            .bind(job)
            .bind(slot)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?;
        Ok(n > 0)
    }

    /// Claims (job, slot) and enqueues its post in one transaction. Returns the outbox id,
    /// or None when the slot was already claimed (nothing is written then).
    pub async fn claim_and_enqueue(
        &self,
        job: &str,
        slot: i64,
        channel: &str,
        post_json: &str,
        attachments: &[u8],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.map_err(e))?;
        let claimed = sqlx::query(
            "INSERT INTO job_runs (job, slot, state, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (job, slot) DO NOTHING",
        )
        .bind(job)
        .bind(slot)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await.map_err(|e| self.map_err(e))?;
            return Ok(None);
        }
        let job_run_id = claimed.last_insert_rowid();
        let id = sqlx::query(
            "INSERT INTO outbox (job_run_id, channel, post, attachments, created_at, next_try_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(job_run_id)
        .bind(channel)
        .bind(post_json)
        .bind(attachments)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.map_err(e))?
        .last_insert_rowid();
        tx.commit().await.map_err(|e| self.map_err(e))?;
        Ok(Some(id))
    }

    /// Enqueues a post that belongs to no scheduled job (an alert). Returns its id.
    pub async fn enqueue_post(
        &self,
        channel: &str,
        post_json: &str,
        attachments: &[u8],
        now: i64,
    ) -> Result<i64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO outbox (channel, post, attachments, created_at, next_try_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(channel)
        .bind(post_json)
        .bind(attachments)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(done.last_insert_rowid())
    }

    /// Ids of undelivered rows due at `now`, oldest first.
    pub async fn due_outbox(&self, now: i64, limit: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT id FROM outbox WHERE delivered_at IS NULL AND next_try_at <= ? ORDER BY next_try_at, id LIMIT ?",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.map_err(e))
    }

    /// Leases a due row for `lease_s` seconds: returns it when this caller won the lease
    /// (the row was due and undelivered), else None. A sender that dies mid-send leaves the
    /// row to be retried once the lease runs out.
    pub async fn lease_outbox(
        &self,
        id: i64,
        now: i64,
        lease_s: i64,
    ) -> Result<Option<OutboxRow>, StoreError> {
        let won = sqlx::query(
            "UPDATE outbox SET next_try_at = ? WHERE id = ? AND delivered_at IS NULL AND next_try_at <= ?",
        )
        .bind(now.saturating_add(lease_s))
        .bind(id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        if won.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT o.id, o.channel, o.post, o.attachments, o.created_at, o.attempts, j.job, j.slot FROM outbox o LEFT JOIN job_runs j ON j.id = o.job_run_id WHERE o.id = ?",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        let blob: Option<Vec<u8>> = row.get(3);
        let attachments = unpack_attachments(blob.as_deref().unwrap_or_default())
            .ok_or_else(|| StoreError::Corrupt(format!("outbox row {id}: attachments")))?;
        let job: Option<String> = row.get(6);
        let slot: Option<i64> = row.get(7);
        Ok(Some(OutboxRow {
            id: row.get(0),
            channel: row.get(1),
            post: row.get(2),
            attachments,
            created_at: row.get(4),
            attempts: row.get(5),
            job: job.zip(slot),
        }))
    }

    /// Marks a row delivered (and its job posted) in one transaction.
    pub async fn outbox_delivered(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.map_err(e))?;
        sqlx::query("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        sqlx::query("UPDATE job_runs SET state = 'posted', updated_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = (SELECT job_run_id FROM outbox WHERE id = ?)")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    /// Records a failed attempt: retried at `next_try_at`, or parked with `PARKED` (its job
    /// is then marked failed).
    pub async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        next_try_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.map_err(e))?;
        sqlx::query("UPDATE outbox SET next_try_at = ?, attempts = attempts + 1, last_error = ? WHERE id = ?")
            .bind(next_try_at)
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        let state = if next_try_at == PARKED {
            "failed"
        } else {
            "pending"
        };
        sqlx::query("UPDATE job_runs SET state = ?, updated_at = ?, attempts = attempts + 1, last_error = ? WHERE id = (SELECT job_run_id FROM outbox WHERE id = ?)")
            .bind(state)
            .bind(now)
            .bind(error)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }

    /// How many rows are pending, delivered and parked.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let row = sqlx::query(
            "SELECT coalesce(sum(delivered_at IS NULL AND next_try_at < ?), 0), coalesce(sum(delivered_at IS NOT NULL), 0), coalesce(sum(delivered_at IS NULL AND next_try_at = ?), 0) FROM outbox",
        )
        .bind(PARKED)
        .bind(PARKED)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))?;
        Ok(OutboxCounts {
            pending: row.get(0),
            delivered: row.get(1),
            parked: row.get(2),
        })
    }

    /// The next instant a pending row is due, if any (so the delivery loop can sleep).
    pub async fn outbox_next_due(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT min(next_try_at) FROM outbox WHERE delivered_at IS NULL AND next_try_at < ?",
        )
        .bind(PARKED)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.map_err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_pack_and_unpack() {
        let blob = pack_attachments(&[b"png-bytes", b"", b"csv"]);
        assert_eq!(
            unpack_attachments(&blob),
            Some(vec![b"png-bytes".to_vec(), Vec::new(), b"csv".to_vec()])
        );
        assert_eq!(unpack_attachments(&[]), Some(Vec::new()));
        assert_eq!(unpack_attachments(&blob[..blob.len() - 1]), None);
    }
}
