//! The shared polling engine: for each source and each of its streams, read the stored
//! cursor, fetch pages through `http::fetch` (retries, backoff, 429s), parse them with the
//! platform's `parse_page`, and hand each page's messages together with the cursor it
//! justifies to the `Sink` in one call. The cursor never moves any other way.
//!
//! Every source runs in its own task: a failing source is logged with its name (never its
//! token) and polled again at its next interval, while the others carry on.

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::http::{self, RetryPolicy};
use super::{numeric_id_cmp, FetchError, Follow, Order, Sink, Source};

/// The cursor key of one stream of one source, as the sink stores it.
pub fn cursor_key(source: &str, stream: &str) -> String {
    format!("{source}/{stream}")
}

/// The larger of two cursor values (numeric ids or Unix times compared as numbers).
fn newest_of(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if numeric_id_cmp(&b, &a) == std::cmp::Ordering::Greater {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

/// What one stream did in one cycle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamReport {
    pub stream: String,
    pub pages: u32,
    /// Pages of nested listings (a post's further comments) fetched for those pages.
    pub follow_pages: u32,
    pub fetched: usize,
    pub inserted: usize,
    pub duplicates: usize,
    /// The cursor stored at the end of the cycle.
    pub cursor: Option<String>,
}

/// Why one stream of a source failed in a cycle.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("source '{source_name}' ({stream}): {error}")]
    Fetch {
        source_name: String,
        stream: String,
        #[source]
        error: FetchError,
    },
    #[error("source '{source_name}' ({stream}): storing the page failed: {error:#}")]
    Sink {
        source_name: String,
        stream: String,
        error: anyhow::Error,
    },
}

impl PollError {
    /// The fetch error behind this failure, if it was one.
    pub fn fetch_error(&self) -> Option<&FetchError> {
        match self {
            PollError::Fetch { error, .. } => Some(error),
            PollError::Sink { .. } => None,
        }
    }
}

/// What one cycle of one source did: a report per stream that finished, an error per stream
/// that did not.
#[derive(Debug, Default)]
pub struct PollReport {
    pub source: String,
    pub streams: Vec<StreamReport>,
    pub errors: Vec<PollError>,
}

impl PollReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
    pub fn inserted(&self) -> usize {
        self.streams.iter().map(|s| s.inserted).sum()
    }
}

/// The polling engine shared by all sources.
pub struct Poller {
    http: reqwest::Client,
    sink: Arc<dyn Sink>,
    retry: RetryPolicy,
}

impl Poller {
    pub fn new(sink: Arc<dyn Sink>, retry: RetryPolicy) -> Result<Self, FetchError> {
        Ok(Poller {
            http: http::client()?,
            sink,
            retry,
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// One cycle of one source: every stream, each independently.
    pub async fn poll_once(&self, source: &dyn Source) -> PollReport {
        let mut report = PollReport {
            source: source.name().to_string(),
            ..PollReport::default()
        };
        if let Err(error) = source.prepare(&self.http).await {
            tracing::error!(source = source.name(), error = %error, "cannot open a session");
            report.errors.push(PollError::Fetch {
                source_name: source.name().to_string(),
                stream: "session".into(),
                error,
            });
            return report;
        }
        for stream in source.streams() {
            match self.poll_stream(source, stream).await {
                Ok(r) => {
                    tracing::debug!(
                        source = source.name(),
                        stream,
                        pages = r.pages,
                        fetched = r.fetched,
                        inserted = r.inserted,
                        duplicates = r.duplicates,
                        "stream polled"
                    );
                    report.streams.push(r);
                }
                Err(e) => {
                    tracing::error!(source = source.name(), stream, error = %e, "poll failed; cursor left where it was");
                    report.errors.push(e);
                }
            }
        }
        report
    }

    /// One cycle of one stream: page until the platform says there is no more (or
    /// `max_pages`), committing each page with the cursor it justifies.
    pub async fn poll_stream(
        &self,
        source: &dyn Source,
        stream: &str,
    ) -> Result<StreamReport, PollError> {
        let name = source.name();
        let key = cursor_key(name, stream);
        let sink_err = |error: anyhow::Error| PollError::Sink {
            source_name: name.to_string(),
            stream: stream.to_string(),
            error,
        };
        let fetch_err = |error: FetchError| PollError::Fetch {
            source_name: name.to_string(),
            stream: stream.to_string(),
            error,
        };
        let settings = source.settings();
        let stored = self.sink.cursor(&key).await.map_err(sink_err)?;
        let order = source.order(stream, stored.as_deref());
        let mut report = StreamReport {
            stream: stream.to_string(),
            cursor: stored.clone(),
            ..StreamReport::default()
        };
        let mut next: Option<String> = None;
        let mut cycle_newest: Option<String> = None;
        loop {
            let raw = http::fetch(
                &self.http,
                source,
                stream,
                stored.as_deref(),
                next.as_deref(),
                &self.retry,
            )
            .await
            .map_err(fetch_err)?;
            let mut page = source
                .parse_page(stream, stored.as_deref(), &raw)
                .map_err(|e| fetch_err(FetchError::Parse(e)))?;
            report.pages += 1;
            // Nested listings are stored before the page's cursor may move, so a crash or a
            // failure among them re-fetches the page instead of skipping them.
            for follow in std::mem::take(&mut page.follow) {
                let newest = self
                    .poll_follow(source, stream, stored.as_deref(), &follow, &mut report)
                    .await?;
                page.newest = newest_of(page.newest.take(), newest);
            }
            let more = match &page.next {
                Some(n) if next.as_deref() == Some(n.as_str()) => {
                    tracing::warn!(
                        source = name,
                        stream,
                        "platform returned the same page token twice; stopping"
                    );
                    false
                }
                Some(_) if report.pages >= settings.max_pages => {
                    tracing::warn!(
                        source = name,
                        stream,
                        max_pages = settings.max_pages,
                        "page limit reached; older items of this cycle are skipped"
                    );
                    false
                }
                Some(_) => true,
                None => false,
            };
            let cursor = match order {
                Order::OldestFirst => page.newest.clone(),
                Order::NewestFirst => {
                    cycle_newest = newest_of(cycle_newest.take(), page.newest.clone());
                    if more {
                        None
                    } else {
                        cycle_newest.take()
                    }
                }
            };
            let cursor = cursor.filter(|c| stored.as_deref() != Some(c.as_str()));
            report.fetched += page.messages.len();
            if !page.messages.is_empty() || cursor.is_some() {
                let outcome = self
                    .sink
                    .commit(&key, page.messages, cursor.clone())
                    .await
                    .map_err(sink_err)?;
                report.inserted += outcome.inserted;
                report.duplicates += outcome.duplicates;
                if cursor.is_some() {
                    report.cursor = cursor;
                }
            }
            if !more {
                break;
            }
            next = page.next;
            if let Some(p) = http::pause_after(&source.rate_limit(&raw.headers), Utc::now()) {
                if p > settings.max_rate_wait {
                    tracing::warn!(
                        source = name,
                        stream,
                        wait_s = p.as_secs(),
                        "rate limit window exhausted; resuming next cycle"
                    );
                    break;
                }
                tracing::info!(
                    source = name,
                    stream,
                    wait_ms = p.as_millis() as u64,
                    "pausing for the platform's rate limit"
                );
                tokio::time::sleep(p).await;
            }
        }
        Ok(report)
    }

    /// Page through one nested listing of a page of `stream` (e.g. a post's further comments),
    /// storing each page without moving the cursor. Returns the newest cursor value seen.
    async fn poll_follow(
        &self,
        source: &dyn Source,
        stream: &str,
        stored: Option<&str>,
        follow: &Follow,
        report: &mut StreamReport,
    ) -> Result<Option<String>, PollError> {
        let name = source.name();
        let key = cursor_key(name, stream);
        let label = format!("{stream} > {}", follow.stream);
        let fetch_err = |error: FetchError| PollError::Fetch {
            source_name: name.to_string(),
            stream: label.clone(),
            error,
        };
        let settings = source.settings();
        let mut next = follow.next.clone();
        let mut newest = None;
        let mut pages = 0u32;
        loop {
            let raw = http::fetch(
                &self.http,
                source,
                &follow.stream,
                stored,
                Some(&next),
                &self.retry,
            )
            .await
            .map_err(&fetch_err)?;
            let page = source
                .parse_page(&follow.stream, stored, &raw)
                .map_err(|e| fetch_err(FetchError::Parse(e)))?;
            pages += 1;
            report.follow_pages += 1;
            report.fetched += page.messages.len();
            newest = newest_of(newest, page.newest);
            if !page.messages.is_empty() {
                let outcome =
                    self.sink
                        .commit(&key, page.messages, None)
                        .await
                        .map_err(|error| PollError::Sink {
                            source_name: name.to_string(),
                            stream: label.clone(),
                            error,
                        })?;
                report.inserted += outcome.inserted;
                report.duplicates += outcome.duplicates;
            }
            match page.next {
                Some(n) if n == next => {
                    tracing::warn!(source = name, stream = %label, "platform returned the same page token twice; stopping");
                    break;
                }
                Some(_) if pages >= settings.max_pages => {
                    tracing::warn!(
                        source = name,
                        stream = %label,
                        max_pages = settings.max_pages,
                        "page limit reached; older items of this listing are skipped"
                    );
                    break;
                }
                Some(n) => next = n,
                None => break,
            }
            if let Some(p) = http::pause_after(&source.rate_limit(&raw.headers), Utc::now()) {
                if p > settings.max_rate_wait {
                    return Err(fetch_err(FetchError::RateLimited {
                        reset: format!("in {}s", p.as_secs()),
                    }));
                }
                tracing::info!(source = name, stream = %label, wait_ms = p.as_millis() as u64, "pausing for the platform's rate limit");
                tokio::time::sleep(p).await;
            }
        }
        Ok(newest)
    }

    /// Poll `source` forever at its interval until `shutdown` turns true. Consecutive failed
    /// cycles stretch the interval (x2, x4, up to x8) so a broken source does not hammer its
    /// platform.
    pub fn spawn(
        self: &Arc<Self>,
        source: Arc<dyn Source>,
        mut shutdown: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let poller = Arc::clone(self);
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                if *shutdown.borrow() {
                    break;
                }
                let report = poller.poll_once(source.as_ref()).await;
                if report.is_ok() {
                    failures = 0;
                    tracing::info!(
                        source = source.name(),
                        inserted = report.inserted(),
                        "poll cycle done"
                    );
                } else {
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        source = source.name(),
                        failed_streams = report.errors.len(),
                        consecutive = failures,
                        "poll cycle had failures"
                    );
                }
                let wait = source.settings().interval * (1u32 << failures.min(3));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    r = shutdown.changed() => { if r.is_err() { break; } }
                }
            }
        })
    }

    /// Start every source in its own task.
    pub fn spawn_all(
        self: &Arc<Self>,
        sources: Vec<Arc<dyn Source>>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        sources
            .into_iter()
            .map(|s| self.spawn(s, shutdown.clone()))
            .collect()
    }
}
