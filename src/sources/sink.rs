//! The `Sink` the poller and the push endpoint hand messages to, and `MemorySink`, an in-memory
//! implementation with the store's semantics (dedupe on `(platform, external_id)`, messages and
//! cursor committed together) for tests and dry runs.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::BoxFuture;
use crate::model::{NewMessage, Platform};

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CommitOutcome {
    /// Messages stored for the first time.
    pub inserted: usize,
    /// Messages already stored (same platform and external id), left unchanged.
    pub duplicates: usize,
}

/// Where fetched messages go. The store implements it; one `commit` is one transaction.
pub trait Sink: Send + Sync {
    /// Store `messages` and, when `cursor` is `Some`, set the cursor of `source` to it, both or
    /// neither. `source` is the cursor key (`<source name>/<stream>`).
    fn commit<'a>(
        &'a self,
        source: &'a str,
        messages: Vec<NewMessage>,
        cursor: Option<String>,
    ) -> BoxFuture<'a, anyhow::Result<CommitOutcome>>;
    /// The stored cursor of `source`, if any.
    fn cursor<'a>(&'a self, source: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>>;
}

#[derive(Debug, Default)]
struct MemoryState {
    seen: HashSet<(Platform, String)>,
    messages: Vec<NewMessage>,
    cursors: HashMap<String, String>,
    commits: usize,
}

/// In-memory `Sink`: keeps messages in arrival order, dedupes like the store.
#[derive(Debug, Default)]
pub struct MemorySink {
    state: Mutex<MemoryState>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding the lock cannot leave the state half-written (every update is
        // a single push/insert), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// All stored messages, in the order they were first committed.
    pub fn messages(&self) -> Vec<NewMessage> {
        self.lock().messages.clone()
    }

    /// Stored cursor of a key, without going through the async trait.
    pub fn stored_cursor(&self, key: &str) -> Option<String> {
        self.lock().cursors.get(key).cloned()
    }

    /// Set a cursor directly (to test resuming).
    pub fn set_cursor(&self, key: &str, value: &str) {
        self.lock()
            .cursors
            .insert(key.to_string(), value.to_string());
    }

    /// Number of `commit` calls so far.
    pub fn commits(&self) -> usize {
        self.lock().commits
    }
}

impl Sink for MemorySink {
    fn commit<'a>(
        &'a self,
        source: &'a str,
        messages: Vec<NewMessage>,
        cursor: Option<String>,
    ) -> BoxFuture<'a, anyhow::Result<CommitOutcome>> {
        Box::pin(async move {
            let mut st = self.lock();
            st.commits += 1;
            let mut out = CommitOutcome::default();
            for m in messages {
                if st.seen.insert((m.platform, m.external_id.clone())) {
                    st.messages.push(m);
                    out.inserted += 1;
                } else {
                    out.duplicates += 1;
                }
            }
            if let Some(c) = cursor {
                st.cursors.insert(source.to_string(), c);
            }
            Ok(out)
        })
    }

    fn cursor<'a>(&'a self, source: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move { Ok(self.lock().cursors.get(source).cloned()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Direction;

    fn msg(id: &str) -> NewMessage {
        NewMessage {
            platform: Platform::X,
            external_id: id.into(),
            brand: "acme".into(),
            author: "a".into(),
            direction: Direction::Inbound,
            created_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            text: "hi".into(),
            reply_to: None,
            conversation_ref: None,
            url: None,
            engagement: None,
            customer: None,
        }
    }

    #[tokio::test]
    async fn dedupes_and_sets_cursor_only_when_given() {
        let s = MemorySink::new();
        let o = s
            .commit("x/m", vec![msg("1"), msg("2"), msg("1")], None)
            .await
            .unwrap();
        assert_eq!(
            o,
            CommitOutcome {
                inserted: 2,
                duplicates: 1
            }
        );
        assert_eq!(s.cursor("x/m").await.unwrap(), None);
        let o = s
            .commit("x/m", vec![msg("2")], Some("2".into()))
            .await
            .unwrap();
        assert_eq!(
            o,
            CommitOutcome {
                inserted: 0,
                duplicates: 1
            }
        );
        assert_eq!(s.stored_cursor("x/m").as_deref(), Some("2"));
        assert_eq!(s.messages().len(), 2);
    }
}
