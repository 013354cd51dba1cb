//! Facebook Page source (Graph API, Page access token): comments on the Page's feed (all of
//! them, `filter(stream)`) plus visitor posts, and Messenger conversations. Pages are followed
//! through `paging.next`; polling is time-based: the stored cursor is the Unix time of the
//! newest item stored, and the feed is asked for posts `since` that time minus a look-back
//! window so late comments on older posts are still seen. The feed nests each post's newest 100
//! comments; when a post has more, the page asks the poller to follow that post's comments edge
//! (`post-comments/{post-id}/...` streams, `after` cursors) until it reaches comments older
//! than the stored cursor. `X-Business-Use-Case-Usage` makes
//! the source pause before usage reaches 100 %.

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::config::{FacebookSpec, Resolved};
use super::mastodon::same_origin;
use super::{
    http, is_brand, FetchError, Follow, Order, Page, ParseError, PollSettings, RateLimit, RawPage,
    Source, SourceError,
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
    cursors: Option<Cursors>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

impl Paging {
    /// The token of the page after this one: only when Graph says there is one (`next` is
    /// present; `cursors.after` is given on the last page too). The bare `after` cursor is
    /// preferred, else the `next` URL.
    fn follow_token(&self) -> Option<String> {
        self.next.as_ref()?;
        self.cursors
            .as_ref()
            .and_then(|c| c.after.clone())
            .filter(|a| !a.is_empty())
            .or_else(|| self.next.clone())
    }
}

/// Prefix of the nested streams that page through one post's further comments:
/// `post-comments/{post-id}/{visitor|page}` (who wrote the post decides the threading of its
/// top-level comments).
const POST_COMMENTS: &str = "post-comments/";

fn post_comments_stream(post_id: &str, visitor_post: bool) -> String {
    format!(
        "{POST_COMMENTS}{post_id}/{}",
        if visitor_post { "visitor" } else { "page" }
    )
}

/// The post id and visitor flag of a `post-comments/...` stream.
fn parse_post_comments_stream(stream: &str) -> Option<(&str, bool)> {
    let (post, who) = stream.strip_prefix(POST_COMMENTS)?.rsplit_once('/')?;
    (!post.is_empty()).then_some((post, who == "visitor"))
}

/// The fields asked of every comment, nested in the feed or on a post's comments edge.
const COMMENT_FIELDS: &str =
    "id,message,from,created_time,parent{id},like_count,comment_count,permalink_url";

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
    let mut follow = Vec::new();
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
        let Some(comments) = &post.comments else {
            continue;
        };
        let reached_old = push_comments(
            ctx,
            since,
            &post.id,
            visitor_post,
            &comments.data,
            &mut messages,
            &mut newest,
        )?;
        // More comments than the nested limit: the poller pages through the post's own
        // comments edge, unless this first page already reached what was stored before.
        if !reached_old {
            if let Some(token) = comments.paging.as_ref().and_then(Paging::follow_token) {
                follow.push(Follow {
                    stream: post_comments_stream(&post.id, visitor_post),
                    next: token,
                });
            }
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
        follow,
    })
}

/// Normalise comments of one post (newest first) into `messages`, keeping those created at or
/// after `since`. Returns whether an older comment was seen (the rest of the listing is older).
fn push_comments(
    ctx: &FacebookContext,
    since: Option<i64>,
    post_id: &str,
    visitor_post: bool,
    comments: &[Comment],
    messages: &mut Vec<NewMessage>,
    newest: &mut Option<i64>,
) -> Result<bool, ParseError> {
    let mut reached_old = false;
    for c in comments {
        let t = parse_time(&c.created_time)?;
        if since.is_some_and(|s| t.timestamp() < s) {
            reached_old = true;
            continue;
        }
        *newest = (*newest).max(Some(t.timestamp()));
        let parent = c.parent.as_ref().map(|p| p.id.clone());
        let (reply_to, conversation_ref) = match (parent, visitor_post) {
            (Some(p), _) => (Some(p.clone()), Some(p)),
            (None, true) => (Some(post_id.to_string()), Some(post_id.to_string())),
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
    Ok(reached_old)
}

/// Parse one page of a post's comments edge (`GET /{post-id}/comments`, newest first), keeping
/// comments created at or after the stored cursor; the listing ends at the first older one.
pub fn parse_comments(
    ctx: &FacebookContext,
    stored: Option<&str>,
    post_id: &str,
    visitor_post: bool,
    body: &[u8],
) -> Result<Page, ParseError> {
    let resp: List<Comment> =
        serde_json::from_slice(body).map_err(|e| ParseError::new("Facebook comments JSON", e))?;
    let mut messages = Vec::new();
    let mut newest = None;
    let reached_old = push_comments(
        ctx,
        stored_ts(stored),
        post_id,
        visitor_post,
        &resp.data,
        &mut messages,
        &mut newest,
    )?;
    Ok(Page {
        messages,
        next: if reached_old || resp.data.is_empty() {
            None
        } else {
            resp.paging.as_ref().and_then(Paging::follow_token)
        },
        newest: newest.map(|n| n.to_string()),
        follow: Vec::new(),
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
        follow: Vec::new(),
    })
}

#[derive(Deserialize)]
struct Delivery {
    #[serde(default)]
    object: String,
    #[serde(default = "Vec::new")]
    entry: Vec<DeliveryEntry>,
}

#[derive(Deserialize)]
struct DeliveryEntry {
    #[serde(default = "Vec::new")]
    changes: Vec<Change>,
    #[serde(default = "Vec::new")]
    messaging: Vec<Messaging>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct FeedValue {
    item: String,
    #[serde(default)]
    verb: String,
    from: Option<From>,
    post_id: Option<String>,
    comment_id: Option<String>,
    parent_id: Option<String>,
    #[serde(default)]
    message: String,
    created_time: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Messaging {
    sender: IdOnly,
    recipient: IdOnly,
    /// Milliseconds since the epoch.
    timestamp: i64,
    message: Option<MessagingMessage>,
}

#[derive(Deserialize)]
struct MessagingMessage {
    mid: String,
    #[serde(default)]
    text: String,
}

/// Webhook `created_time` is Unix seconds (sometimes a Graph time string).
fn webhook_time(v: Option<&serde_json::Value>) -> Result<DateTime<Utc>, ParseError> {
    match v {
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(|| ParseError::new("Facebook webhook time", n)),
        Some(serde_json::Value::String(s)) => parse_time(s),
        other => Err(ParseError::new(
            "Facebook webhook time",
            format!("missing or not a time: {other:?}"),
        )),
    }
}

/// Parse one Page webhook delivery (`object: "page"`): feed changes (comments and visitor
/// posts added) and Messenger messages. Edits, removals, likes and the Page's own posts are
/// ignored. Comments thread like `parse_feed`'s: a reply to a comment joins that comment, a
/// top-level comment replies to its post. Messenger deliveries carry no thread id, so those
/// messages are grouped per customer by the silence gap; authors are page-scoped ids.
pub fn parse_webhook(ctx: &FacebookContext, body: &[u8]) -> Result<Vec<NewMessage>, ParseError> {
    let d: Delivery =
        serde_json::from_slice(body).map_err(|e| ParseError::new("Facebook webhook JSON", e))?;
    if d.object != "page" {
        return Err(ParseError::new(
            "Facebook webhook",
            format!("object '{}' is not 'page'", d.object),
        ));
    }
    let mut out = Vec::new();
    for entry in &d.entry {
        for change in entry.changes.iter().filter(|c| c.field == "feed") {
            let v: FeedValue = serde_json::from_value(change.value.clone())
                .map_err(|e| ParseError::new("Facebook webhook feed change", e))?;
            if v.verb != "add" {
                continue;
            }
            let outbound = ctx.is_page(v.from.as_ref());
            let (external_id, reply_to, conversation_ref) = match v.item.as_str() {
                "comment" => {
                    let Some(id) = v.comment_id.clone() else {
                        return Err(ParseError::new(
                            "Facebook webhook comment",
                            "comment_id is missing",
                        ));
                    };
                    match (&v.parent_id, &v.post_id) {
                        (Some(parent), Some(post)) if parent != post => {
                            (id, Some(parent.clone()), Some(parent.clone()))
                        }
                        (_, Some(post)) => (id.clone(), Some(post.clone()), Some(id)),
                        (_, None) => (id.clone(), None, Some(id)),
                    }
                }
                "post" | "status" | "photo" | "video" if !outbound => {
                    let Some(id) = v.post_id.clone() else {
                        return Err(ParseError::new(
                            "Facebook webhook post",
                            "post_id is missing",
                        ));
                    };
                    (id.clone(), None, Some(id))
                }
                _ => continue,
            };
            out.push(NewMessage {
                platform: Platform::Facebook,
                url: Some(format!("https://www.facebook.com/{external_id}")),
                external_id,
                brand: ctx.brand.clone(),
                author: FacebookContext::author(v.from.as_ref()),
                direction: if outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                created_at: webhook_time(v.created_time.as_ref())?,
                text: v.message.clone(),
                reply_to,
                conversation_ref,
                engagement: None,
                customer: None,
            });
        }
        for m in &entry.messaging {
            let Some(msg) = &m.message else { continue };
            let outbound = m.sender.id == ctx.page_id;
            let created_at = DateTime::from_timestamp_millis(m.timestamp)
                .ok_or_else(|| ParseError::new("Facebook webhook timestamp", m.timestamp))?;
            out.push(NewMessage {
                platform: Platform::Facebook,
                external_id: msg.mid.clone(),
                brand: ctx.brand.clone(),
                author: m.sender.id.clone(),
                direction: if outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                created_at,
                text: msg.text.clone(),
                reply_to: None,
                conversation_ref: None,
                url: None,
                engagement: None,
                customer: outbound.then(|| m.recipient.id.clone()),
            });
        }
    }
    Ok(out)
}

/// The `error.code` of a Graph error body, if it is one.
pub fn graph_error_code(body: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: GraphError,
    }
    #[derive(Deserialize)]
    struct GraphError {
        code: i64,
    }
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error.code)
}

/// Graph error codes that mean "slow down" rather than "wrong request": application (4), user
/// (17), Page (32) and custom (613) rate limits, and the Business Use Case throttles
/// (80001 Pages, 80002 Instagram, 80004 ads, 80005 lead ads, 80006 Messenger, 80008 WhatsApp,
/// 80014 catalog). They come with HTTP 400 or 403, not 429.
pub fn is_throttling_code(code: i64) -> bool {
    matches!(
        code,
        4 | 17 | 32 | 613 | 80001 | 80002 | 80003 | 80004 | 80005 | 80006 | 80008 | 80014
    )
}

/// The feed fields: posts with their newest 100 comments nested (the rest are paged through
/// the post's comments edge).
const FEED_FIELDS: &str = "id,message,from,created_time,permalink_url,comments.filter(stream).order(reverse_chronological).limit(100){id,message,from,created_time,parent{id},like_count,comment_count,permalink_url}";

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
    fn is_rate_limited(&self, status: u16, body: &[u8]) -> bool {
        status == 429 || (status >= 400 && graph_error_code(body).is_some_and(is_throttling_code))
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
        if let (Some((post_id, _)), Some(after)) = (parse_post_comments_stream(stream), next) {
            if !after.starts_with("http://") && !after.starts_with("https://") {
                let url = self
                    .r
                    .base
                    .join(&format!("{}/{post_id}/comments", self.api_version))
                    .map_err(|e| FetchError::Build(e.to_string()))?;
                let q = [
                    ("fields", COMMENT_FIELDS),
                    ("filter", "stream"),
                    ("order", "reverse_chronological"),
                    ("limit", "100"),
                    ("after", after),
                ];
                return Ok(http.get(url).query(&q).bearer_auth(token));
            }
        }
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
            ("feed", FEED_FIELDS)
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
        } else if let Some((post_id, visitor_post)) = parse_post_comments_stream(stream) {
            parse_comments(&self.ctx, stored, post_id, visitor_post, &page.body)
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
    fn more_comments_than_nested_are_followed_on_the_posts_edge() {
        let body = br#"{"data":[
          {"id":"1234_7","from":{"id":"1234","name":"Acme"},"created_time":"2024-05-02T10:00:00+0000",
           "comments":{"data":[
             {"id":"7_c3","message":"three","from":{"id":"9","name":"Ann"},"created_time":"2024-05-02T10:03:00+0000"},
             {"id":"7_c2","message":"two","from":{"id":"9","name":"Ann"},"created_time":"2024-05-02T10:02:00+0000"}],
            "paging":{"cursors":{"before":"QA","after":"QUZ"},"next":"https://graph.facebook.com/v21.0/1234_7/comments?access_token=t&after=QUZ"}}},
          {"id":"1234_8","from":{"id":"5","name":"Bo"},"created_time":"2024-05-02T09:00:00+0000",
           "comments":{"data":[{"id":"8_c1","message":"x","from":{"id":"6","name":"Cy"},"created_time":"2024-05-02T09:01:00+0000"}],
            "paging":{"cursors":{"before":"QB","after":"QC"}}}}
        ]}"#;
        let page = parse_feed(&ctx(), None, body).unwrap();
        // Only the post whose nested comments say `next` is followed, by its `after` cursor.
        assert_eq!(
            page.follow,
            [Follow {
                stream: "post-comments/1234_7/page".into(),
                next: "QUZ".into()
            }]
        );
        // A stored cursor newer than the nested page's oldest comment: nothing to follow.
        let t2 = parse_time("2024-05-02T10:02:30+0000").unwrap().timestamp();
        let page = parse_feed(&ctx(), Some(&t2.to_string()), body).unwrap();
        assert!(page.follow.is_empty());
        assert_eq!(page.messages.len(), 1);

        let (post, visitor) = parse_post_comments_stream("post-comments/1234_8/visitor").unwrap();
        assert_eq!((post, visitor), ("1234_8", true));
        assert!(parse_post_comments_stream("comments").is_none());

        let edge = br#"{"data":[
          {"id":"8_c5","message":"reply","from":{"id":"1234","name":"Acme"},"created_time":"2024-05-02T09:05:00+0000","parent":{"id":"8_c4"}},
          {"id":"8_c4","message":"top","from":{"id":"6","name":"Cy"},"created_time":"2024-05-02T09:04:00+0000"}],
          "paging":{"cursors":{"before":"X","after":"Y"},"next":"https://graph.facebook.com/v21.0/1234_8/comments?after=Y"}}"#;
        let page = parse_comments(&ctx(), None, "1234_8", true, edge).unwrap();
        assert_eq!(page.next.as_deref(), Some("Y"));
        assert_eq!(page.messages[0].direction, Direction::Outbound);
        assert_eq!(page.messages[0].reply_to.as_deref(), Some("8_c4"));
        assert_eq!(page.messages[1].reply_to.as_deref(), Some("1234_8"));
        assert_eq!(page.newest.as_deref(), Some("1714640700"));
        // The listing ends at the first comment older than the cursor.
        let page = parse_comments(&ctx(), Some("1714640700"), "1234_8", true, edge).unwrap();
        assert_eq!((page.messages.len(), page.next), (1, None));
        // The last page: `cursors.after` without `next`.
        let last = br#"{"data":[{"id":"8_c1","message":"x","created_time":"2024-05-02T09:01:00+0000"}],"paging":{"cursors":{"before":"X","after":"Y"}}}"#;
        assert_eq!(
            parse_comments(&ctx(), None, "1234_8", false, last)
                .unwrap()
                .next,
            None
        );
        assert!(parse_comments(&ctx(), None, "1234_8", false, b"{\"data\":[{").is_err());
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

    #[test]
    fn webhook_delivery_threads_comments_and_messenger() {
        let body = br#"{"object":"page","entry":[{"id":"1234","time":1714644300,
          "changes":[
            {"field":"feed","value":{"item":"comment","verb":"add","post_id":"1234_9","comment_id":"1234_9_c1","parent_id":"1234_9","from":{"id":"77","name":"Dana"},"message":"my order never came","created_time":1714644000}},
            {"field":"feed","value":{"item":"comment","verb":"add","post_id":"1234_9","comment_id":"1234_9_c2","parent_id":"1234_9_c1","from":{"id":"1234","name":"Acme"},"message":"sorry, DM us","created_time":1714644300}},
            {"field":"feed","value":{"item":"comment","verb":"edited","post_id":"1234_9","comment_id":"1234_9_c1","parent_id":"1234_9","from":{"id":"77","name":"Dana"},"message":"edit","created_time":1714644400}},
            {"field":"feed","value":{"item":"reaction","verb":"add","post_id":"1234_9","from":{"id":"78","name":"Eli"},"created_time":1714644400}},
            {"field":"feed","value":{"item":"status","verb":"add","post_id":"1234_10","from":{"id":"79","name":"Fay"},"message":"hello?","created_time":"2024-05-02T10:05:00+0000"}}
          ],
          "messaging":[
            {"sender":{"id":"555"},"recipient":{"id":"1234"},"timestamp":1714644000123,"message":{"mid":"m_1","text":"hi"}},
            {"sender":{"id":"1234"},"recipient":{"id":"555"},"timestamp":1714644060000,"message":{"mid":"m_2","text":"hello"}},
            {"sender":{"id":"555"},"recipient":{"id":"1234"},"timestamp":1714644070000,"read":{"watermark":1}}
          ]}]}"#;
        let msgs = parse_webhook(&ctx(), body).unwrap();
        let ids: Vec<_> = msgs.iter().map(|m| m.external_id.as_str()).collect();
        assert_eq!(ids, ["1234_9_c1", "1234_9_c2", "1234_10", "m_1", "m_2"]);
        assert_eq!(msgs[0].direction, Direction::Inbound);
        assert_eq!(msgs[0].reply_to.as_deref(), Some("1234_9"));
        assert_eq!(msgs[0].created_at.timestamp(), 1_714_644_000);
        assert_eq!(msgs[1].direction, Direction::Outbound);
        assert_eq!(msgs[1].reply_to.as_deref(), Some("1234_9_c1"));
        assert_eq!(msgs[2].created_at.timestamp(), 1_714_644_300);
        assert_eq!(msgs[3].direction, Direction::Inbound);
        assert_eq!(msgs[4].direction, Direction::Outbound);
        assert_eq!(msgs[4].customer.as_deref(), Some("555"));
        assert!(parse_webhook(&ctx(), br#"{"object":"user","entry":[]}"#).is_err());
        assert!(parse_webhook(&ctx(), b"{").is_err());
    }

    #[test]
    fn throttling_error_codes_are_rate_limits_not_auth_failures() {
        let src = FacebookSource::new(
            Resolved {
                name: "fb".into(),
                brand: "acme".into(),
                accounts: vec![],
                token: secrecy::SecretString::from("t".to_string()),
                base: reqwest::Url::parse("http://127.0.0.1:1/").unwrap(),
                settings: PollSettings::default(),
                page_size: None,
            },
            &toml::from_str::<FacebookSpec>(
                "name='fb'\nbrand='acme'\ntoken_env='T'\npage_id='1234'",
            )
            .unwrap(),
        )
        .unwrap();
        let page = br#"{"error":{"message":"(#32) Page request limit reached","type":"OAuthException","code":32,"fbtrace_id":"A"}}"#;
        let buc = br#"{"error":{"message":"(#80001) There have been too many calls to this Page account.","type":"OAuthException","code":80001}}"#;
        let app = br#"{"error":{"message":"(#4) Application request limit reached","code":4}}"#;
        let token = br#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190}}"#;
        for body in [&page[..], &buc[..], &app[..]] {
            assert!(src.is_rate_limited(400, body));
            assert!(src.is_rate_limited(403, body));
        }
        assert!(src.is_rate_limited(429, b""));
        assert!(!src.is_rate_limited(400, token));
        assert!(src.is_auth_error(400, token));
        assert!(!src.is_rate_limited(400, b"not json"));
        assert_eq!(graph_error_code(buc), Some(80001));
    }
}
