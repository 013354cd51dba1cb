//! Delivers the outbox to chat: every due post is leased, sent with an idempotency key (its
//! outbox id, Discord's enforced nonce), then marked delivered. A transient failure (Discord
//! 5xx, 429, a timeout) is retried with exponential backoff until `give_up_after`; a
//! permanent one (bad channel, refused payload) parks the post at once. A restart delivers
//! whatever is still pending, and a delivered post is never sent again.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::App;
use crate::chat::{Chat, ChatError};
use crate::digest::post::Post;
use crate::store::outbox::{pack_attachments, OutboxRow, PARKED};
use crate::store::{Store, StoreError};

/// How the delivery loop retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxPolicy {
    /// Wait after the first failure, in seconds; doubled per attempt.
    pub first_retry_s: i64,
    /// Longest wait between attempts.
    pub max_retry_s: i64,
    /// How long a send may take before another sender may retry the row.
    pub lease_s: i64,
    /// A post still failing this long after it was enqueued is parked.
    pub give_up_after_s: i64,
    /// Rows per pass.
    pub batch: i64,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        OutboxPolicy {
            first_retry_s: 5,
            max_retry_s: 15 * 60,
            lease_s: 120,
            give_up_after_s: 24 * 3600,
            batch: 20,
        }
    }
}

impl OutboxPolicy {
    /// Wait before the next attempt after `attempts` failed ones (1 = the first failure).
    pub fn retry_delay_s(&self, attempts: i64) -> i64 {
        let exp = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(30);
        self.first_retry_s
            .saturating_mul(1i64 << exp)
            .min(self.max_retry_s)
    }
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    pub delivered: usize,
    pub retrying: usize,
    pub parked: usize,
}

/// A post as outbox columns: JSON (attachment names included) and the packed bytes.
pub fn encode(post: &Post) -> anyhow::Result<(String, Vec<u8>)> {
    let json = serde_json::to_string(post).context("serialising a post for the outbox")?;
    let parts: Vec<&[u8]> = post
        .attachments
        .iter()
        .map(|a| a.bytes.as_slice())
        .collect();
    Ok((json, pack_attachments(&parts)))
}

/// A post back from its outbox row, attachment bytes restored in order.
pub fn decode(row: &OutboxRow) -> anyhow::Result<Post> {
    let mut post: Post = serde_json::from_str(&row.post)
        .with_context(|| format!("outbox row {}: the post is not readable", row.id))?;
    if post.attachments.len() != row.attachments.len() {
        anyhow::bail!(
            "outbox row {}: {} attachments but {} stored files",
            row.id,
            post.attachments.len(),
            row.attachments.len()
        );
    }
    for (a, bytes) in post.attachments.iter_mut().zip(&row.attachments) {
        a.bytes.clone_from(bytes);
    }
    Ok(post)
}

/// The idempotency key of an outbox row (at most 25 characters).
pub fn delivery_key(id: i64) -> String {
    format!("cp-outbox-{id}")
}

/// Sends every post due at `now` once (at most `policy.batch`).
pub async fn deliver_due(
    store: &Store,
    chat: &dyn Chat,
    now: DateTime<Utc>,
    policy: &OutboxPolicy,
) -> Result<Delivery, StoreError> {
    let now_s = now.timestamp();
    let mut done = Delivery::default();
    for id in store.due_outbox(now_s, policy.batch).await? {
        let Some(row) = store.lease_outbox(id, now_s, policy.lease_s).await? else {
            continue; // another sender has it
        };
        let post = match decode(&row) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(outbox = id, error = %e, "outbox post parked");
                store
                    .outbox_failed(id, &e.to_string(), PARKED, now_s)
                    .await?;
                done.parked += 1;
                continue;
            }
        };
        let job = row.job.as_ref().map(|(j, _)| j.as_str()).unwrap_or("");
        match chat
            .post_keyed(&row.channel, &post, &delivery_key(id))
            .await
        {
            Ok(posted) => {
                store.outbox_delivered(id, now_s).await?;
                tracing::info!(outbox = id, job, channel = %row.channel, message = %posted.0, "post delivered");
                done.delivered += 1;
            }
            Err(ChatError::Transient(e)) if now_s - row.created_at < policy.give_up_after_s => {
                let wait = policy.retry_delay_s(row.attempts + 1);
                tracing::warn!(outbox = id, job, attempt = row.attempts + 1, retry_in_s = wait, error = %e, "post not delivered; will retry");
                store
                    .outbox_failed(id, &e, now_s.saturating_add(wait), now_s)
                    .await?;
                done.retrying += 1;
            }
            Err(e) => {
                tracing::error!(outbox = id, job, channel = %row.channel, error = %e, "post parked: it will not be retried");
                store
                    .outbox_failed(id, &e.to_string(), PARKED, now_s)
                    .await?;
                done.parked += 1;
            }
        }
    }
    Ok(done)
}

/// Delivers the outbox until `shutdown`: a pass whenever a post is due, when `wake` is
/// notified (something was enqueued), and at least every 30 s.
pub async fn run_delivery(
    store: Store,
    chat: Arc<dyn Chat>,
    policy: OutboxPolicy,
    wake: Arc<tokio::sync::Notify>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = deliver_due(&store, chat.as_ref(), Utc::now(), &policy).await {
            tracing::error!(error = %e, "outbox delivery pass failed; will retry");
        }
        let now = Utc::now().timestamp();
        let wait = match store.outbox_next_due().await {
            Ok(Some(t)) => (t - now).clamp(1, 30),
            _ => 30,
        };
        tokio::select! {
            _ = tokio::time::sleep(StdDuration::from_secs(wait as u64)) => {}
            _ = wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

impl App {
    /// Enqueues a post that belongs to no scheduled job (an alert); the delivery loop sends
    /// it. Returns its outbox id.
    pub async fn enqueue_post(
        &self,
        channel: &str,
        post: &Post,
        now: DateTime<Utc>,
    ) -> anyhow::Result<i64> {
        let (json, blob) = encode(post)?;
        Ok(self
            .store
            .enqueue_post(channel, &json, &blob, now.timestamp())
            .await?)
    }
}

/// A `Chat` that does not talk to any platform: each post is written to the outbox and the
/// delivery loop is woken, so alerts reach chat through the same retrying, exactly-once path
/// as digests. A failure to write the outbox is transient (the caller may retry).
pub struct OutboxChat {
    store: Store,
    wake: Arc<tokio::sync::Notify>,
}

impl OutboxChat {
    pub fn new(store: Store, wake: Arc<tokio::sync::Notify>) -> Self {
        OutboxChat { store, wake }
    }
}

impl Chat for OutboxChat {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn post<'a>(
        &'a self,
        channel: &'a str,
        post: &'a Post,
    ) -> crate::chat::BoxFuture<'a, Result<crate::chat::PostedRef, ChatError>> {
        Box::pin(async move {
            let (json, blob) = encode(post).map_err(|e| ChatError::Permanent(e.to_string()))?;
            let id = self
                .store
                .enqueue_post(channel, &json, &blob, Utc::now().timestamp())
                .await
                .map_err(|e| ChatError::Transient(e.to_string()))?;
            self.wake.notify_one();
            Ok(crate::chat::PostedRef(format!("outbox:{id}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::post::Attachment;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = OutboxPolicy::default();
        let waits: Vec<i64> = (1..=10).map(|a| p.retry_delay_s(a)).collect();
        assert_eq!(waits[..5], [5, 10, 20, 40, 80]);
        assert_eq!(waits[9], 900);
        assert_eq!(p.retry_delay_s(1000), 900);
    }

    #[test]
    fn posts_round_trip_with_attachment_bytes() {
        let mut post = Post::new("digest").line("hello");
        post.attachments
            .push(Attachment::png("a.png", "A", vec![1, 2, 3]));
        post.attachments
            .push(Attachment::csv("b.csv", "B", b"x,y\n".to_vec()));
        let (json, blob) = encode(&post).unwrap();
        let row = OutboxRow {
            id: 1,
            channel: "care".into(),
            post: json,
            attachments: crate::store::outbox::unpack_attachments(&blob).unwrap(),
            created_at: 0,
            attempts: 0,
            job: None,
        };
        assert_eq!(decode(&row).unwrap(), post);
        let mut short = row.clone();
        short.attachments.pop();
        assert!(decode(&short).is_err());
    }
}
