//! Bluesky (AT Protocol) source: an app-password session (`com.atproto.server.createSession`,
//! renewed with `com.atproto.server.refreshSession` when the access token expires),
//! `app.bsky.notification.listNotifications` for mentions, replies and quotes, and
//! `app.bsky.feed.getAuthorFeed` for the brand's own replies. Both list newest first with an
//! opaque cursor: a poll pages until it reaches an item indexed before the stored cursor (the
//! newest `indexedAt` already stored).

use std::sync::RwLock;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::config::{BlueskySpec, Resolved};
use super::{
    excerpt, http, is_brand, BoxFuture, FetchError, Order, Page, ParseError, PollSettings,
    RateLimit, RawPage, Source, SourceError,
};
use crate::model::{Direction, NewMessage, Platform};

/// Notification reasons that are care messages.
pub const REASONS: [&str; 3] = ["mention", "reply", "quote"];

/// What the parsers need to know about the account.
#[derive(Debug, Clone)]
pub struct BlueskyContext {
    pub brand: String,
    /// DID of the logged-in brand account.
    pub did: String,
    /// Its handle plus the configured extra brand handles.
    pub brand_handles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notifications {
    cursor: Option<String>,
    notifications: Vec<Notification>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    uri: String,
    author: Author,
    reason: String,
    record: Record,
    indexed_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Author {
    did: String,
    handle: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(default)]
    text: String,
    created_at: Option<DateTime<Utc>>,
    reply: Option<ReplyRef>,
}

#[derive(Deserialize)]
struct ReplyRef {
    parent: StrongRef,
    root: StrongRef,
}

#[derive(Deserialize)]
struct StrongRef {
    uri: String,
}

#[derive(Deserialize)]
struct AuthorFeed {
    cursor: Option<String>,
    feed: Vec<FeedItem>,
}

#[derive(Deserialize)]
struct FeedItem {
    post: PostView,
    reason: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostView {
    uri: String,
    author: Author,
    record: Record,
    #[serde(default)]
    reply_count: i64,
    #[serde(default)]
    repost_count: i64,
    #[serde(default)]
    like_count: i64,
    indexed_at: DateTime<Utc>,
}

/// Public web link of a post: `at://<did>/app.bsky.feed.post/<rkey>` →
/// `https://bsky.app/profile/<handle>/post/<rkey>`.
pub fn post_url(uri: &str, handle: &str) -> Option<String> {
    let rkey = uri.strip_prefix("at://")?.rsplit('/').next()?;
    Some(format!("https://bsky.app/profile/{handle}/post/{rkey}"))
}

/// The stored cursor is the newest `indexedAt` already stored, as RFC 3339.
fn cursor_time(stored: Option<&str>) -> Option<DateTime<Utc>> {
    stored
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
}

fn fmt_cursor(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn message(
    ctx: &BlueskyContext,
    uri: &str,
    author: &Author,
    record: &Record,
    indexed_at: DateTime<Utc>,
    engagement: Option<i64>,
) -> NewMessage {
    let outbound = author.did == ctx.did || is_brand(&ctx.brand_handles, &author.handle);
    NewMessage {
        platform: Platform::Bluesky,
        external_id: uri.to_string(),
        brand: ctx.brand.clone(),
        author: author.handle.clone(),
        direction: if outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        created_at: record.created_at.unwrap_or(indexed_at),
        text: record.text.clone(),
        reply_to: record.reply.as_ref().map(|r| r.parent.uri.clone()),
        conversation_ref: Some(
            record
                .reply
                .as_ref()
                .map_or_else(|| uri.to_string(), |r| r.root.uri.clone()),
        ),
        url: post_url(uri, &author.handle),
        engagement,
        customer: None,
    }
}

/// Parse one page of `listNotifications` (newest first), keeping mentions, replies and quotes
/// indexed at or after the stored cursor. Reaching an older item ends the cycle.
pub fn parse_notifications(
    ctx: &BlueskyContext,
    stored: Option<&str>,
    body: &[u8],
) -> Result<Page, ParseError> {
    let resp: Notifications = serde_json::from_slice(body)
        .map_err(|e| ParseError::new("Bluesky listNotifications JSON", e))?;
    let since = cursor_time(stored);
    let mut reached_old = false;
    let mut messages = Vec::new();
    for n in &resp.notifications {
        if since.is_some_and(|s| n.indexed_at < s) {
            reached_old = true;
            continue;
        }
        if REASONS.contains(&n.reason.as_str()) {
            messages.push(message(
                ctx,
                &n.uri,
                &n.author,
                &n.record,
                n.indexed_at,
                None,
            ));
        }
    }
    let newest = resp.notifications.iter().map(|n| n.indexed_at).max();
    Ok(Page {
        messages,
        next: if reached_old || resp.notifications.is_empty() {
            None
        } else {
            resp.cursor
        },
        newest: newest.map(fmt_cursor),
        follow: Vec::new(),
    })
}

/// Parse one page of `getAuthorFeed` (newest first), keeping the account's own replies.
pub fn parse_author_feed(
    ctx: &BlueskyContext,
    stored: Option<&str>,
    body: &[u8],
) -> Result<Page, ParseError> {
    let resp: AuthorFeed = serde_json::from_slice(body)
        .map_err(|e| ParseError::new("Bluesky getAuthorFeed JSON", e))?;
    let since = cursor_time(stored);
    let mut reached_old = false;
    let mut messages = Vec::new();
    let mut newest: Option<DateTime<Utc>> = None;
    for item in &resp.feed {
        // Reposts and pins are not the account's new posts.
        if item.reason.is_some() {
            continue;
        }
        let p = &item.post;
        if since.is_some_and(|s| p.indexed_at < s) {
            reached_old = true;
            continue;
        }
        newest = newest.max(Some(p.indexed_at));
        if p.record.reply.is_some() {
            let eng = p.like_count + p.repost_count + p.reply_count;
            messages.push(message(
                ctx,
                &p.uri,
                &p.author,
                &p.record,
                p.indexed_at,
                Some(eng),
            ));
        }
    }
    Ok(Page {
        messages,
        next: if reached_old || resp.feed.is_empty() {
            None
        } else {
            resp.cursor
        },
        newest: newest.map(fmt_cursor),
        follow: Vec::new(),
    })
}

struct Session {
    access: SecretString,
    refresh: SecretString,
    did: String,
    handle: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionResponse {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    handle: String,
}

/// The Bluesky source.
pub struct BlueskySource {
    r: Resolved,
    identifier: String,
    include_own: bool,
    session: RwLock<Option<Session>>,
}

impl BlueskySource {
    pub(crate) fn new(r: Resolved, spec: &BlueskySpec) -> Result<Self, SourceError> {
        if spec.identifier.trim().is_empty() {
            return Err(SourceError::Invalid {
                source_name: r.name.clone(),
                detail: "identifier (handle or DID to log in with) must not be empty".into(),
            });
        }
        Ok(BlueskySource {
            identifier: spec.identifier.trim_start_matches('@').to_string(),
            include_own: spec.include_own,
            session: RwLock::new(None),
            r,
        })
    }

    fn ctx(&self) -> BlueskyContext {
        let guard = self.session.read().unwrap_or_else(|e| e.into_inner());
        let (did, handle) = guard
            .as_ref()
            .map(|s| (s.did.clone(), s.handle.clone()))
            .unwrap_or_default();
        let mut brand_handles = vec![self.identifier.clone()];
        if !handle.is_empty() {
            brand_handles.push(handle);
        }
        brand_handles.extend(self.r.accounts.iter().cloned());
        BlueskyContext {
            brand: self.r.brand.clone(),
            did,
            brand_handles,
        }
    }

    fn xrpc(&self, method: &str) -> Result<reqwest::Url, FetchError> {
        self.r
            .base
            .join(&format!("xrpc/{method}"))
            .map_err(|e| FetchError::Build(e.to_string()))
    }

    async fn session_call(
        &self,
        http: &reqwest::Client,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(), FetchError> {
        let resp = req
            .timeout(self.r.settings.timeout)
            .send()
            .await
            .map_err(|e| FetchError::Exhausted {
                attempts: 1,
                last: format!("{what}: {}", e.without_url()),
            })?;
        let _ = http;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| FetchError::Exhausted {
            attempts: 1,
            last: format!("{what}: {}", e.without_url()),
        })?;
        if !(200..300).contains(&status) {
            let detail = format!("{what} for '{}': {}", self.identifier, excerpt(&body));
            return Err(match status {
                401 | 400 | 403 => FetchError::Unauthorized { status, detail },
                429 => FetchError::RateLimited {
                    reset: "later (session endpoint)".into(),
                },
                404 => FetchError::NotFound { detail },
                s if s >= 500 => FetchError::Exhausted {
                    attempts: 1,
                    last: detail,
                },
                _ => FetchError::Rejected { status, detail },
            });
        }
        let s: SessionResponse = serde_json::from_slice(&body)
            .map_err(|e| ParseError::new("Bluesky session JSON", e))?;
        *self.session.write().unwrap_or_else(|e| e.into_inner()) = Some(Session {
            access: SecretString::from(s.access_jwt),
            refresh: SecretString::from(s.refresh_jwt),
            did: s.did,
            handle: s.handle,
        });
        Ok(())
    }

    async fn create_session(&self, http: &reqwest::Client) -> Result<(), FetchError> {
        let body = serde_json::json!({
            "identifier": self.identifier,
            "password": self.r.token.expose_secret(),
        });
        let req = http
            .post(self.xrpc("com.atproto.server.createSession")?)
            .json(&body);
        self.session_call(http, req, "createSession").await
    }

    async fn refresh_session(&self, http: &reqwest::Client) -> Result<bool, FetchError> {
        let refresh = {
            let guard = self.session.read().unwrap_or_else(|e| e.into_inner());
            guard
                .as_ref()
                .map(|s| s.refresh.expose_secret().to_string())
        };
        if let Some(token) = refresh {
            let req = http
                .post(self.xrpc("com.atproto.server.refreshSession")?)
                .bearer_auth(token);
            match self.session_call(http, req, "refreshSession").await {
                Ok(()) => return Ok(true),
                Err(FetchError::Unauthorized { .. }) => {
                    tracing::info!(
                        source = self.r.name.as_str(),
                        "refresh token expired; logging in again"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        self.create_session(http).await.map(|()| true)
    }
}

impl Source for BlueskySource {
    fn name(&self) -> &str {
        &self.r.name
    }
    fn platform(&self) -> Platform {
        Platform::Bluesky
    }
    fn settings(&self) -> PollSettings {
        self.r.settings
    }
    fn streams(&self) -> Vec<&'static str> {
        if self.include_own {
            vec!["notifications", "own"]
        } else {
            vec!["notifications"]
        }
    }
    fn describe(&self) -> String {
        format!(
            "Bluesky mentions, replies and quotes of {}{} from {}",
            self.identifier,
            if self.include_own {
                " and its replies"
            } else {
                ""
            },
            self.r.base
        )
    }
    fn order(&self, _stream: &str, _stored: Option<&str>) -> Order {
        Order::NewestFirst
    }
    fn prepare<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<(), FetchError>> {
        Box::pin(async move {
            let has = self
                .session
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .is_some();
            if has {
                Ok(())
            } else {
                self.create_session(http).await
            }
        })
    }
    fn reauthenticate<'a>(
        &'a self,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<bool, FetchError>> {
        Box::pin(self.refresh_session(http))
    }
    fn is_auth_error(&self, status: u16, body: &[u8]) -> bool {
        status == 401
            || (status == 400 && {
                let b = String::from_utf8_lossy(body);
                b.contains("ExpiredToken") || b.contains("InvalidToken")
            })
    }
    fn request(
        &self,
        http: &reqwest::Client,
        stream: &str,
        _stored: Option<&str>,
        next: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, FetchError> {
        let guard = self.session.read().unwrap_or_else(|e| e.into_inner());
        let Some(session) = guard.as_ref() else {
            return Err(FetchError::Build(
                "no Bluesky session (login failed)".into(),
            ));
        };
        let limit = self.r.page_size.unwrap_or(50).clamp(1, 100).to_string();
        let mut q: Vec<(&str, &str)> = vec![("limit", &limit)];
        let method = if stream == "own" {
            q.push(("actor", &session.did));
            q.push(("filter", "posts_with_replies"));
            "app.bsky.feed.getAuthorFeed"
        } else {
            q.extend(REASONS.iter().map(|r| ("reasons", *r)));
            "app.bsky.notification.listNotifications"
        };
        if let Some(c) = next {
            q.push(("cursor", c));
        }
        Ok(http
            .get(self.xrpc(method)?)
            .query(&q)
            .bearer_auth(session.access.expose_secret()))
    }
    fn parse_page(
        &self,
        stream: &str,
        stored: Option<&str>,
        page: &RawPage,
    ) -> Result<Page, ParseError> {
        let ctx = self.ctx();
        if stream == "own" {
            parse_author_feed(&ctx, stored, &page.body)
        } else {
            parse_notifications(&ctx, stored, &page.body)
        }
    }
    fn rate_limit(&self, headers: &HeaderMap) -> RateLimit {
        http::rate_limit_ietf(headers, Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> BlueskyContext {
        BlueskyContext {
            brand: "acme".into(),
            did: "did:plc:acme".into(),
            brand_handles: vec!["acme.bsky.social".into()],
        }
    }

    #[test]
    fn notifications_fixture() {
        let body = include_bytes!("../../tests/fixtures/bluesky/notifications.json");
        let page = parse_notifications(&ctx(), None, body).unwrap();
        assert_eq!(page.next.as_deref(), Some("2024-05-02T09:00:00.000Z"));
        assert_eq!(page.newest.as_deref(), Some("2024-05-02T10:05:01.000Z"));
        // like and follow are dropped
        assert_eq!(page.messages.len(), 2);
        let r = &page.messages[0];
        assert_eq!(r.author, "erin.bsky.social");
        assert_eq!(r.direction, Direction::Inbound);
        assert_eq!(
            r.reply_to.as_deref(),
            Some("at://did:plc:acme/app.bsky.feed.post/p2")
        );
        assert_eq!(
            r.conversation_ref.as_deref(),
            Some("at://did:plc:erin/app.bsky.feed.post/p1")
        );
        assert_eq!(
            r.url.as_deref(),
            Some("https://bsky.app/profile/erin.bsky.social/post/p3")
        );
        assert_eq!(r.created_at.to_rfc3339(), "2024-05-02T10:05:00+00:00");
        assert_eq!(page.messages[1].reply_to, None);
    }

    #[test]
    fn stops_at_the_stored_cursor() {
        let body = include_bytes!("../../tests/fixtures/bluesky/notifications.json");
        let page = parse_notifications(&ctx(), Some("2024-05-02T10:00:00.000Z"), body).unwrap();
        assert_eq!(page.next, None, "an older item ends the cycle");
        assert_eq!(page.messages.len(), 1);
        assert!(parse_notifications(&ctx(), None, b"{\"cursor\":").is_err());
        let empty = parse_notifications(&ctx(), None, br#"{"notifications":[]}"#).unwrap();
        assert!(empty.messages.is_empty() && empty.next.is_none() && empty.newest.is_none());
    }

    #[test]
    fn lexicon_lists_the_reasons_kept() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/api/bluesky/listNotifications.lexicon.json"
        );
        let Ok(raw) = std::fs::read_to_string(path) else {
            eprintln!("skipping: {path} is absent");
            return;
        };
        let lex: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let known = lex["defs"]["notification"]["properties"]["reason"]["knownValues"]
            .as_array()
            .unwrap();
        for r in REASONS {
            assert!(known.iter().any(|k| k == r), "{r} is not a known reason");
        }
        let required = lex["defs"]["notification"]["required"].as_array().unwrap();
        for f in ["uri", "author", "reason", "record", "indexedAt"] {
            assert!(
                required.iter().any(|k| k == f),
                "{f} is not required by the lexicon"
            );
        }
        let limit = &lex["defs"]["main"]["parameters"]["properties"]["limit"];
        assert_eq!(limit["maximum"], 100);
    }

    #[test]
    fn url_from_at_uri() {
        assert_eq!(
            post_url("at://did:plc:x/app.bsky.feed.post/3kabc", "x.bsky.social").as_deref(),
            Some("https://bsky.app/profile/x.bsky.social/post/3kabc")
        );
        assert_eq!(post_url("https://nope", "x"), None);
    }
}
