//! Where messages come from. This module owns the `Source` trait every platform implements, the
//! `Sink` the poller hands pages to, the per-source configuration (`SourceSpec`), and the errors
//! of the platform boundary. The shared polling engine (intervals, retries, rate limits,
//! cursors) is in `poller` and `http`; each platform module only builds requests and parses
//! pages. `push` is the inbound-by-push HTTP endpoint; `files` the file importers; `demo` the
//! simulator.
//!
//! Cursors are only ever advanced through [`Sink::commit`], together with the messages of the
//! page that justified them, so a crash re-fetches instead of skipping.

pub mod bluesky;
pub mod check;
pub mod config;
pub mod demo;
pub mod facebook;
pub mod files;
pub mod html;
pub mod http;
pub mod mastodon;
pub mod poller;
pub mod push;
pub mod sink;
pub mod x;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use crate::model::{NewMessage, Platform};

pub use config::{build_source, SourceSpec};
pub use sink::{CommitOutcome, MemorySink, Sink};

/// A boxed future, so the traits here stay object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// In which order a stream hands out pages, which decides when its cursor may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Pages go forward in time (Mastodon `min_id`): each page's newest item may be committed
    /// as the cursor as soon as the page is stored.
    OldestFirst,
    /// Pages go backward in time (X `since_id` + `pagination_token`, Bluesky cursors): the newest
    /// item of the first page becomes the cursor only once the last page is stored.
    NewestFirst,
}

/// One response as the shared HTTP layer received it.
#[derive(Debug, Clone)]
pub struct RawPage {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// What a platform's `parse_page` makes of one response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// Normalised messages of this page (possibly empty).
    pub messages: Vec<NewMessage>,
    /// Token or URL of the next page of this poll cycle; `None` ends the cycle.
    pub next: Option<String>,
    /// The cursor value this page justifies (its newest item), if any.
    pub newest: Option<String>,
    /// Further listings this page opened (the remaining comments of a Facebook post): the
    /// poller pages through each within the same cycle and stores them before this page's
    /// cursor may move.
    pub follow: Vec<Follow>,
}

/// A nested listing to page through: `stream` and `next` are handed to the source's `request`
/// and `parse_page` as the stream and page token (the stream names the listing, e.g. the post
/// whose comments these are); the cursor stays the parent stream's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    pub stream: String,
    pub next: String,
}

/// Rate-limit state read from a response's headers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimit {
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset_at: Option<DateTime<Utc>>,
    /// Pause the platform asks for before the next call (Facebook usage close to 100 %).
    pub pause: Option<Duration>,
}

/// How often and how patiently a source is polled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollSettings {
    pub interval: Duration,
    pub timeout: Duration,
    /// Pages fetched per stream and cycle at most.
    pub max_pages: u32,
    /// Longest wait for a rate-limit reset; a longer reset ends the cycle instead.
    pub max_rate_wait: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            interval: Duration::from_secs(120),
            timeout: Duration::from_secs(20),
            max_pages: 20,
            max_rate_wait: Duration::from_secs(900),
        }
    }
}

/// A platform source: builds requests and parses pages. Everything else (retries, backoff,
/// rate limits, cursors, commits) is the poller's job.
pub trait Source: Send + Sync {
    /// Configured name, unique among sources; used in logs and as the cursor key prefix.
    fn name(&self) -> &str;
    fn platform(&self) -> Platform;
    fn settings(&self) -> PollSettings;
    /// The independent feeds this source reads (e.g. `mentions`, `own`), each with its own cursor.
    fn streams(&self) -> Vec<&'static str>;
    /// One line saying what the source fetches, for `carepulse sources check`.
    fn describe(&self) -> String;
    /// Paging order of a stream, given its stored cursor.
    fn order(&self, stream: &str, stored: Option<&str>) -> Order;
    /// Called before each cycle: log in when the platform needs a session.
    fn prepare<'a>(&'a self, _http: &'a reqwest::Client) -> BoxFuture<'a, Result<(), FetchError>> {
        Box::pin(async { Ok(()) })
    }
    /// Called after an authentication failure: refresh the credentials. `Ok(true)` means the
    /// request is worth one more try.
    fn reauthenticate<'a>(
        &'a self,
        _http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<bool, FetchError>> {
        Box::pin(async { Ok(false) })
    }
    /// Whether a failed response is the platform throttling us (waited out like a 429).
    fn is_rate_limited(&self, status: u16, _body: &[u8]) -> bool {
        status == 429
    }
    /// Whether a failed response means the credentials are bad or expired.
    fn is_auth_error(&self, status: u16, _body: &[u8]) -> bool {
        status == 401 || status == 403
    }
    /// The request for one page: the first of a cycle when `next` is `None`.
    fn request(
        &self,
        http: &reqwest::Client,
        stream: &str,
        stored: Option<&str>,
        next: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, FetchError>;
    /// Parse one successful response of `stream`.
    fn parse_page(
        &self,
        stream: &str,
        stored: Option<&str>,
        page: &RawPage,
    ) -> Result<Page, ParseError>;
    /// Read the platform's rate-limit headers.
    fn rate_limit(&self, headers: &HeaderMap) -> RateLimit;
}

/// A response body that is not what the platform documents.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed {what}: {detail}")]
pub struct ParseError {
    pub what: &'static str,
    pub detail: String,
}

impl ParseError {
    pub fn new(what: &'static str, detail: impl ToString) -> Self {
        ParseError {
            what,
            detail: detail.to_string(),
        }
    }
}

/// Why fetching from a platform failed. Messages never contain tokens or token-bearing URLs.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The token was refused (401/403). Fix the token, or its scopes, then retry.
    #[error("credentials refused (HTTP {status}): {detail}")]
    Unauthorized { status: u16, detail: String },
    /// The account, page or endpoint does not exist (404).
    #[error("not found (HTTP 404): {detail}; check the configured account id and base_url")]
    NotFound { detail: String },
    /// A client error retrying cannot fix.
    #[error("request rejected (HTTP {status}): {detail}")]
    Rejected { status: u16, detail: String },
    /// Timeouts, 5xx or connection failures outlasted the retries.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted { attempts: u32, last: String },
    /// The platform's rate-limit reset is further away than `max_rate_wait`.
    #[error("rate limited until {reset}; next cycle will resume")]
    RateLimited { reset: String },
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The request could not be built (bad base_url, foreign paging URL).
    #[error("cannot build request: {0}")]
    Build(String),
}

/// Why a source could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error(
        "source '{source_name}': environment variable {var} is not set (it must hold the {what})"
    )]
    MissingEnv {
        source_name: String,
        var: String,
        what: &'static str,
    },
    #[error("source '{source_name}': {detail}")]
    Invalid { source_name: String, detail: String },
}

/// Cut a response body to a short, printable excerpt for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Compare two numeric string ids (X, Mastodon) without overflow: longer is larger.
pub(crate) fn numeric_id_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Whether `author` is one of the brand `accounts` (handles compared case-insensitively, a
/// leading `@` ignored).
pub(crate) fn is_brand(accounts: &[String], author: &str) -> bool {
    let a = author.trim_start_matches('@');
    accounts
        .iter()
        .any(|h| h.trim_start_matches('@').eq_ignore_ascii_case(a))
}
