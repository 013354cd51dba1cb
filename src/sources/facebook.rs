//! Facebook Page source (Graph API, Page access token): comments on the Page's feed (all of
//! them, `filter(stream)`) plus visitor posts, and Messenger conversations. Pages are followed
//! through `paging.next`; polling is time-based: the stored cursor is the Unix time of the
//! newest item stored, and the feed is asked for posts `since` that time minus a look-back
//! window so late comments on older posts are still seen. `X-Business-Use-Case-Usage` makes
//! the source pause before usage reaches 100 %.

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::config::{FacebookSpec, Resolved};
use super::mastodon::same_origin;
use super::{
    http, is_brand, FetchError, Order, Page, ParseError, PollSettings, RateLimit, RawPage, Source,
    SourceError,
};
use crate::model::{Direction, NewMessage, Platform};

/// What the parsers need to know about the Page.
#[derive(Debug, Clone)]
pub struct FacebookContext {
    pub brand: String,
    pub page_id: String,
    /// Names of further brand accounts (admins posting as themselves).
    pub brand_names: Vec<String>,
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<String>,
}

#[derive(Deserialize)]
struct From {
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Post {
    id: String,
    message: Option<String>,
    from: Option<From>,
    created_time: String,
    permalink_url: Option<String>,
    comments: Option<List<Comment>>,
}

#[derive(Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    message: String,
    from: Option<From>,
    created_time: String,
    parent: Option<IdOnly>,
    like_count: Option<i64>,
    comment_count: Option<i64>,
    permalink_url: Option<String>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct Conversation {
    id: String,
    updated_time: String,
    participants: Option<List<From>>,
    messages: Option<List<DirectMessage>>,
}

#[derive(Deserialize)]
struct DirectMessage {
    id: String,
    #[serde(default)]
    message: String,
    from: Option<From>,
    created_time: String,
}

/// Graph times look like `2024-05-02T10:05:00+0000`.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, ParseError> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").map(|n| n.and_utc()))
        .map_err(|e| ParseError::new("Facebook time", format!("'{s}': {e}")))
}

fn stored_ts(stored: Option<&str>) -> Option<i64> {
    stored.and_then(|s| s.parse().ok())
}

impl FacebookContext {
    fn is_page(&self, from: Option<&From>) -> bool {
        from.is_some_and(|f| f.id == self.page_id || is_brand(&self.brand_names, &f.name))
    }
    fn author(from: Option<&From>) -> String {
        from.map(|f| {
            if f.name.is_empty() {
                f.id.clone()
            } else {
                f.name.clone()
            }
        })
        .unwrap_or_else(|| "unknown".into())
    }
}

/// Parse one page of the Page feed with nested comments, keeping visitor posts and comments
/// created at or after the stored cursor (Unix seconds).
pub fn parse_feed(
    ctx: &FacebookContext,
    stored: Option<&str>,
    body: &[u8],
) -> Result<Page, ParseError> {
    let resp: List<Post> =
        serde_json::from_slice(body).map_err(|e| ParseError::new("Facebook feed JSON", e))?;
    let since = stored_ts(stored);
    let fresh = |t: &DateTime<Utc>| !since.is_some_and(|s| t.timestamp() < s);
    let mut messages = Vec::new();
    let mut newest: Option<i64> = None;
    for post in &resp.data {
        let visitor_post = !ctx.is_page(post.from.as_ref());
        let post_time = parse_time(&post.created_time)?;
        if visitor_post && fresh(&post_time) {
            newest = newest.max(Some(post_time.timestamp()));
            messages.push(NewMessage {
                platform: Platform::Facebook,
                external_id: post.id.clone(),
                brand: ctx.brand.clone(),
                author: FacebookContext::author(post.from.as_ref()),
                direction: Direction::Inbound,
                created_at: post_time,
                text: post.message.clone().unwrap_or_default(),
                reply_to: None,
                conversation_ref: Some(post.id.clone()),
                url: post.permalink_url.clone(),
                engagement: None,
                customer: None,
            });
        }
        for c in post.comments.iter().flat_map(|l| l.data.iter()) {
            let t = parse_time(&c.created_time)?;
            if !fresh(&t) {
                continue;
            }
            newest = newest.max(Some(t.timestamp()));
            let parent = c.parent.as_ref().map(|p| p.id.clone());
            let (reply_to, conversation_ref) = match (parent, visitor_post) {
                (Some(p), _) => (Some(p.clone()), Some(p)),
                (None, true) => (Some(post.id.clone()), Some(post.id.clone())),
                // A top-level comment on the Page's own post starts a conversation.
                (None, false) => (None, Some(c.id.clone())),
            };
            let outbound = ctx.is_page(c.from.as_ref());
            messages.push(NewMessage {
                platform: Platform::Facebook,
                external_id: c.id.clone(),
                brand: ctx.brand.clone(),
                author: FacebookContext::author(c.from.as_ref()),
                direction: if outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                created_at: t,
                text: c.message.clone(),
                reply_to,
                conversation_ref,
                url: c
                    .permalink_url
                    .clone()
                    .or_else(|| Some(format!("https://www.facebook.com/{}", c.id))),
                engagement: match (c.like_count, c.comment_count) {
                    (None, None) => None,
                    (l, r) => Some(l.unwrap_or(0) + r.unwrap_or(0)),
                },
                customer: None,
            });
        }
    }
    Ok(Page {
        messages,
        next: if resp.data.is_empty() {
            None
        } else {
            resp.paging.and_then(|p| p.next)
        },
        newest: newest.map(|n| n.to_string()),
    })
}

/// Parse one page of Messenger conversations (most recently updated first), keeping messages
/// created at or after the stored cursor; a conversation not updated since ends the cycle.
pub fn parse_conversations(
    ctx: &FacebookContext,
    stored: Option<&str>,
    body: &[u8],
) -> Result<Page, ParseError> {
    let resp: List<Conversation> = serde_json::from_slice(body)
        .map_err(|e| ParseError::new("Facebook conversations JSON", e))?;
    let since = stored_ts(stored);
    let mut messages = Vec::new();
    let mut newest: Option<i64> = None;
    let mut reached_old = false;
    for conv in &resp.data {
        let updated = parse_time(&conv.updated_time)?.timestamp();
        if since.is_some_and(|s| updated < s) {
            reached_old = true;
            continue;
        }
        let customer = conv
            .participants
            .iter()
            .flat_map(|p| p.data.iter())
            .find(|p| !ctx.is_page(Some(p)))
            .map(|p| FacebookContext::author(Some(p)));
        for m in conv.messages.iter().flat_map(|l| l.data.iter()) {
            let t = parse_time(&m.created_time)?;
            if since.is_some_and(|s| t.timestamp() < s) {
                continue;
            }
            newest = newest.max(Some(t.timestamp()));
            let outbound = ctx.is_page(m.from.as_ref());
            messages.push(NewMessage {
                platform: Platform::Facebook,
                external_id: m.id.clone(),
                brand: ctx.brand.clone(),
                author: FacebookContext::author(m.from.as_ref()),
                direction: if outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                created_at: t,
                text: m.message.clone(),
                reply_to: None,
                conversation_ref: Some(conv.id.clone()),
                url: None,
                engagement: None,
                customer: if outbound { customer.clone() } else { None },
            });
        }
    }
    Ok(Page {
        messages,
        next: if reached_old || resp.data.is_empty() {
            None
        } else {
            resp.paging.and_then(|p| p.next)
        },
        newest: newest.map(|n| n.to_string()),
    })
}

/// The Facebook Page source.
pub struct FacebookSource {
    r: Resolved,
    ctx: FacebookContext,
    api_version: String,
    messenger: bool,
    threshold: u8,
    lookback_secs: i64,
}

impl FacebookSource {
    pub(crate) fn new(r: Resolved, spec: &FacebookSpec) -> Result<Self, SourceError> {
        if spec.page_id.is_empty() || !spec.page_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SourceError::Invalid {
                source_name: r.name.clone(),
                detail: format!("page_id '{}' must be the numeric Page id", spec.page_id),
            });
        }
        if !spec.api_version.starts_with('v') {
            return Err(SourceError::Invalid {
                source_name: r.name.clone(),
                detail: format!("api_version '{}' must look like v21.0", spec.api_version),
            });
        }
        Ok(FacebookSource {
            ctx: FacebookContext {
                brand: r.brand.clone(),
                page_id: spec.page_id.clone(),
                brand_names: r.accounts.clone(),
            },
            api_version: spec.api_version.clone(),
            messenger: spec.messenger,
            threshold: spec.usage_threshold_percent.clamp(1, 100),
            lookback_secs: i64::from(spec.lookback_days) * 86_400,
            r,
        })
    }
}

impl Source for FacebookSource {
    fn name(&self) -> &str {
        &self.r.name
    }
    fn platform(&self) -> Platform {
        Platform::Facebook
    }
    fn settings(&self) -> PollSettings {
        self.r.settings
    }
    fn streams(&self) -> Vec<&'static str> {
        if self.messenger {
            vec!["comments", "messenger"]
        } else {
            vec!["comments"]
        }
    }
    fn describe(&self) -> String {
        format!(
            "Facebook Page {} feed comments{} from {}",
            self.ctx.page_id,
            if self.messenger {
                " and Messenger conversations"
            } else {
                ""
            },
            self.r.base
        )
    }
    fn order(&self, _stream: &str, _stored: Option<&str>) -> Order {
        Order::NewestFirst
    }
    fn is_auth_error(&self, status: u16, body: &[u8]) -> bool {
        // Graph answers an invalid or expired token with 400 and OAuthException code 190.
        status == 401
            || status == 403
            || (status == 400 && {
                let b = String::from_utf8_lossy(body);
                b.contains("\"code\":190") || b.contains("\"code\": 190")
            })
    }
    fn request(
        &self,
        http: &reqwest::Client,
        stream: &str,
        stored: Option<&str>,
        next: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, FetchError> {
        let token = self.r.token.expose_secret();
        if let Some(n) = next {
            // paging.next carries the token as a query parameter: drop it, send the header.
            let mut url = same_origin(&self.r.base, n)?;
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "access_token")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut().clear().extend_pairs(kept);
            return Ok(http.get(url).bearer_auth(token));
        }
        let limit = self.r.page_size.unwrap_or(25).clamp(1, 100).to_string();
        let (edge, fields) = if stream == "messenger" {
            (
                "conversations",
                "id,updated_time,participants,messages.limit(25){id,message,from,created_time}",
            )
        } else {
            (
                "feed",
                "id,message,from,created_time,permalink_url,comments.filter(stream).order(reverse_chronological).limit(100){id,message,from,created_time,parent{id},like_count,comment_count,permalink_url}",
            )
        };
        let url = self
            .r
            .base
            .join(&format!("{}/{}/{edge}", self.api_version, self.ctx.page_id))
            .map_err(|e| FetchError::Build(e.to_string()))?;
        let mut q: Vec<(&str, String)> = vec![("fields", fields.into()), ("limit", limit)];
        if stream == "messenger" {
            q.push(("platform", "messenger".into()));
        } else {
            let from = stored_ts(stored).unwrap_or_else(|| Utc::now().timestamp());
            q.push(("since", (from - self.lookback_secs).max(0).to_string()));
        }
        Ok(http.get(url).query(&q).bearer_auth(token))
    }
    fn parse_page(
        &self,
        stream: &str,
        stored: Option<&str>,
        page: &RawPage,
    ) -> Result<Page, ParseError> {
        if stream == "messenger" {
            parse_conversations(&self.ctx, stored, &page.body)
        } else {
            parse_feed(&self.ctx, stored, &page.body)
        }
    }
    fn rate_limit(&self, headers: &HeaderMap) -> RateLimit {
        http::rate_limit_buc(headers, self.threshold, self.r.settings.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> FacebookContext {
        FacebookContext {
            brand: "acme".into(),
            page_id: "1234".into(),
            brand_names: vec![],
        }
    }

    #[test]
    fn graph_times() {
        assert_eq!(
            parse_time("2024-05-02T10:05:00+0000").unwrap().timestamp(),
            1_714_644_300
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn feed_fixture_threads_comments() {
        let body = include_bytes!("../../tests/fixtures/facebook/feed.json");
        let page = parse_feed(&ctx(), None, body).unwrap();
        assert!(page.next.unwrap().contains("after=QVFIUmFmdA"));
        let ids: Vec<_> = page
            .messages
            .iter()
            .map(|m| m.external_id.as_str())
            .collect();
        assert_eq!(ids, ["1234_2_c1", "1234_2_c2", "1234_3", "1234_3_c1"]);
        let c1 = &page.messages[0];
        assert_eq!(c1.direction, Direction::Inbound);
        assert_eq!(c1.reply_to, None);
        assert_eq!(c1.conversation_ref.as_deref(), Some("1234_2_c1"));
        assert_eq!(c1.engagement, Some(4 + 1));
        let c2 = &page.messages[1];
        assert_eq!(c2.direction, Direction::Outbound);
        assert_eq!(c2.reply_to.as_deref(), Some("1234_2_c1"));
        assert_eq!(page.messages[3].reply_to.as_deref(), Some("1234_3"));
        assert_eq!(page.newest.as_deref(), Some("1714644300"));
        // Resuming from the cursor keeps only what is not older.
        let page = parse_feed(&ctx(), Some("1714644300"), body).unwrap();
        assert_eq!(page.messages.len(), 1);
    }

    #[test]
    fn conversations_fixture() {
        let body = include_bytes!("../../tests/fixtures/facebook/conversations.json");
        let page = parse_conversations(&ctx(), None, body).unwrap();
        assert_eq!(page.messages.len(), 2);
        let out = &page.messages[0];
        assert_eq!(out.direction, Direction::Outbound);
        assert_eq!(out.customer.as_deref(), Some("Hana"));
        assert_eq!(out.conversation_ref.as_deref(), Some("t_100"));
        assert_eq!(page.messages[1].direction, Direction::Inbound);
        assert!(parse_conversations(&ctx(), None, b"{\"data\":[{").is_err());
    }
}
