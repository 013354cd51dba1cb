//! The contract every platform source passes, run against a fake of each platform on
//! 127.0.0.1 that serves the real field names, paging and rate-limit headers: multi-page
//! fetch, resume from a stored cursor, empty page, 429 with reset, 500 then success, timeout,
//! malformed JSON, 401, a duplicate delivered twice, and a reply arriving before its parent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use carepulse::model::{Direction, NewMessage};
use carepulse::sources::http::RetryPolicy;
use carepulse::sources::poller::{cursor_key, Poller};
use carepulse::sources::{build_source, FetchError, MemorySink, Sink, Source, SourceSpec};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

const PAGE: usize = 5;

#[derive(Clone, Debug)]
struct Item {
    seq: u64,
    author: String,
    brand: bool,
    text: String,
    reply_to: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    RateLimited,
    ServerError,
    Slow,
    Malformed,
    ExpiredToken,
}

#[derive(Default)]
struct Inner {
    items: Vec<Item>,
    faults: HashMap<usize, Fault>,
    main_hits: usize,
    /// Faults of the Facebook comments edge, by hit number.
    comment_faults: HashMap<usize, Fault>,
    comment_hits: usize,
    deny: bool,
    session: u32,
}

struct Shared {
    inner: Mutex<Inner>,
    base: Mutex<String>,
    t0: DateTime<Utc>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }
    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }
    fn time(&self, seq: u64) -> DateTime<Utc> {
        self.t0 + chrono::Duration::seconds(seq as i64 * 10)
    }
    fn root(&self, it: &Item) -> u64 {
        let items = self.lock().items.clone();
        let mut cur = it.clone();
        while let Some(p) = cur.reply_to {
            match items.iter().find(|i| i.seq == p) {
                Some(parent) => cur = parent.clone(),
                None => break,
            }
        }
        cur.seq
    }
    /// Items matching `keep`, newest first.
    fn items(&self, keep: impl Fn(&Item) -> bool) -> Vec<Item> {
        let mut v: Vec<Item> = self
            .lock()
            .items
            .iter()
            .filter(|i| keep(i))
            .cloned()
            .collect();
        v.sort_by_key(|i| std::cmp::Reverse(i.seq));
        v
    }
    /// Authorization and injected faults; `Some` answers the request.
    async fn gate(&self, headers: &HeaderMap, token: &str, main: bool) -> Option<Response> {
        self.gate_with(headers, token, |g| {
            if main {
                g.main_hits += 1;
                let n = g.main_hits;
                g.faults.remove(&n)
            } else {
                None
            }
        })
        .await
    }
    async fn gate_with(
        &self,
        headers: &HeaderMap,
        token: &str,
        pick: impl FnOnce(&mut Inner) -> Option<Fault>,
    ) -> Option<Response> {
        let (deny, fault) = {
            let mut g = self.lock();
            let fault = pick(&mut g);
            (g.deny, fault)
        };
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if deny || auth != format!("Bearer {token}") {
            return Some(
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "Unauthorized", "message": "invalid token"})),
                )
                    .into_response(),
            );
        }
        match fault {
            None => None,
            Some(Fault::Slow) => {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                None
            }
            Some(Fault::ServerError) => {
                Some((StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response())
            }
            Some(Fault::Malformed) => Some(
                (
                    [("content-type", "application/json")],
                    "{\"data\": [{\"id\": \"1\", \"te",
                )
                    .into_response(),
            ),
            Some(Fault::ExpiredToken) => Some(
                (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
                )
                    .into_response(),
            ),
            Some(Fault::RateLimited) => {
                let reset = Utc::now() + chrono::Duration::seconds(1);
                let h: Vec<(String, String)> = vec![
                    ("x-rate-limit-remaining".into(), "0".into()),
                    ("x-rate-limit-reset".into(), reset.timestamp().to_string()),
                    ("x-ratelimit-remaining".into(), "0".into()),
                    ("x-ratelimit-reset".into(), reset.to_rfc3339_opts(SecondsFormat::Millis, true)),
                    ("ratelimit-remaining".into(), "0".into()),
                    ("ratelimit-reset".into(), "1".into()),
                    (
                        "x-business-use-case-usage".into(),
                        r#"{"1234":[{"type":"pages","call_count":100,"total_cputime":10,"total_time":10,"estimated_time_to_regain_access":0}]}"#.into(),
                    ),
                ];
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    axum::Json(json!({"errors": [{"code": 88, "message": "Rate limit exceeded"}]})),
                )
                    .into_response();
                for (k, v) in h {
                    resp.headers_mut().insert(
                        axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        v.parse().unwrap(),
                    );
                }
                Some(resp)
            }
        }
    }
}

fn query(uri: &Uri) -> Vec<(String, String)> {
    let u = reqwest::Url::parse(&format!("http://h/?{}", uri.query().unwrap_or(""))).unwrap();
    u.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn q1<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

fn with_headers(body: Value, headers: &[(&str, String)]) -> Response {
    let mut r = axum::Json(body).into_response();
    for (k, v) in headers {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

fn uid(author: &str) -> String {
    (200 + author.bytes().map(u64::from).sum::<u64>()).to_string()
}

// ---------------------------------------------------------------------------------------------
// The four fakes

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    X,
    Mastodon,
    Bluesky,
    Facebook,
}

const KINDS: [Kind; 4] = [Kind::X, Kind::Mastodon, Kind::Bluesky, Kind::Facebook];

impl Kind {
    fn spec(self, name: &str, base: &str) -> SourceSpec {
        let common = format!(
            "name = \"{name}\"\nbrand = \"acme\"\nbase_url = \"{base}\"\npoll_interval_secs = 1\ntimeout_secs = 1\npage_size = {PAGE}\nmax_rate_wait_secs = 5\n"
        );
        let text = match self {
            Kind::X => format!("kind = \"x\"\n{common}token_env = \"X_TOKEN\"\nuser_id = \"100\"\nhandle = \"AcmeCare\"\n"),
            Kind::Mastodon => format!("kind = \"mastodon\"\n{common}token_env = \"MASTO_TOKEN\"\naccount_id = \"1\"\nhandle = \"acme\"\n"),
            Kind::Bluesky => format!("kind = \"bluesky\"\n{common}token_env = \"BSKY_PASSWORD\"\nidentifier = \"acme.test\"\n"),
            Kind::Facebook => format!("kind = \"facebook\"\n{common}token_env = \"FB_TOKEN\"\npage_id = \"1234\"\nmessenger = false\n"),
        };
        toml::from_str(&text).unwrap()
    }

    fn main_stream(self) -> &'static str {
        match self {
            Kind::X | Kind::Mastodon => "mentions",
            Kind::Bluesky => "notifications",
            Kind::Facebook => "comments",
        }
    }

    /// A cursor older than every item of the fake.
    fn cursor_before_all(self) -> &'static str {
        match self {
            Kind::X => "1",
            Kind::Mastodon | Kind::Facebook => "0",
            Kind::Bluesky => "2000-01-01T00:00:00.000Z",
        }
    }

    fn external_id(self, shared: &Shared, it: &Item) -> String {
        match self {
            Kind::X => (1000 + it.seq).to_string(),
            Kind::Mastodon => (9000 + it.seq).to_string(),
            Kind::Bluesky => bsky_uri(it),
            Kind::Facebook => {
                if it.reply_to.is_none() {
                    format!("1234_{}", it.seq)
                } else {
                    let _ = shared;
                    format!("c{}", it.seq)
                }
            }
        }
    }

    fn router(self, shared: Arc<Shared>) -> Router {
        let r = Router::new();
        match self {
            Kind::X => r.fallback(x_fake),
            Kind::Mastodon => r.fallback(mastodon_fake),
            Kind::Bluesky => r.fallback(bluesky_fake),
            Kind::Facebook => r.fallback(facebook_fake),
        }
        .with_state(shared)
    }
}

async fn x_fake(State(st): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let main = path == "/2/users/100/mentions";
    if !main && path != "/2/users/100/tweets" {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"title": "Not Found Error"})),
        )
            .into_response();
    }
    if let Some(r) = st.gate(&headers, "tok-x", main).await {
        return r;
    }
    let q = query(&uri);
    assert!(q1(&q, "tweet.fields")
        .unwrap()
        .contains("referenced_tweets"));
    let since: u64 = q1(&q, "since_id").map_or(0, |s| s.parse().unwrap());
    let limit: usize = q1(&q, "max_results").unwrap().parse().unwrap();
    let off: usize =
        q1(&q, "pagination_token").map_or(0, |t| t.trim_start_matches('p').parse().unwrap());
    let all = st.items(|i| i.brand != main && 1000 + i.seq > since);
    let page: Vec<&Item> = all.iter().skip(off).take(limit).collect();
    let rl = [
        ("x-rate-limit-limit", "450".to_string()),
        ("x-rate-limit-remaining", "448".to_string()),
        (
            "x-rate-limit-reset",
            (Utc::now().timestamp() + 900).to_string(),
        ),
    ];
    if page.is_empty() {
        return with_headers(json!({"meta": {"result_count": 0}}), &rl);
    }
    let data: Vec<Value> = page
        .iter()
        .map(|i| {
            let author_id = if i.brand { "100".to_string() } else { uid(&i.author) };
            let mut t = json!({
                "edit_history_tweet_ids": [(1000 + i.seq).to_string()],
                "id": (1000 + i.seq).to_string(),
                "text": i.text,
                "author_id": author_id,
                "created_at": st.time(i.seq).to_rfc3339_opts(SecondsFormat::Millis, true),
                "conversation_id": (1000 + st.root(i)).to_string(),
                "public_metrics": {"retweet_count": 0, "reply_count": 1, "like_count": 2, "quote_count": 0},
            });
            if let Some(p) = i.reply_to {
                t["referenced_tweets"] = json!([{"type": "replied_to", "id": (1000 + p).to_string()}]);
            }
            t
        })
        .collect();
    let mut users: Vec<Value> = page
        .iter()
        .filter(|i| !i.brand)
        .map(|i| json!({"id": uid(&i.author), "name": i.author, "username": i.author}))
        .collect();
    users.push(json!({"id": "100", "name": "Acme", "username": "AcmeCare"}));
    let mut meta = json!({
        "newest_id": (1000 + page[0].seq).to_string(),
        "oldest_id": (1000 + page[page.len() - 1].seq).to_string(),
        "result_count": page.len(),
    });
    if off + limit < all.len() {
        meta["next_token"] = json!(format!("p{}", off + limit));
    }
    with_headers(
        json!({"data": data, "includes": {"users": users}, "meta": meta}),
        &rl,
    )
}

async fn mastodon_fake(State(st): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let main = path == "/api/v1/notifications";
    if !main && path != "/api/v1/accounts/1/statuses" {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "Record not found"})),
        )
            .into_response();
    }
    if let Some(r) = st.gate(&headers, "tok-mastodon", main).await {
        return r;
    }
    let q = query(&uri);
    if main && q1(&q, "types[]") != Some("mention") {
        return (StatusCode::BAD_REQUEST, "types[] missing").into_response();
    }
    // Notification ids are the sequence, status ids 9000 + sequence.
    let id = |i: &Item| if main { i.seq } else { 9000 + i.seq };
    let limit: usize = q1(&q, "limit").map_or(40, |l| l.parse().unwrap());
    let min_id: Option<u64> = q1(&q, "min_id").map(|s| s.parse().unwrap());
    let max_id: Option<u64> = q1(&q, "max_id").map(|s| s.parse().unwrap());
    let mut all = st.items(|i| {
        i.brand != main && min_id.map_or(true, |m| id(i) > m) && max_id.map_or(true, |m| id(i) < m)
    });
    let page: Vec<Item> = if min_id.is_some() {
        all.reverse();
        let mut p: Vec<Item> = all.into_iter().take(limit).collect();
        p.reverse();
        p
    } else {
        all.into_iter().take(limit).collect()
    };
    let mut rl = vec![
        ("x-ratelimit-limit", "300".to_string()),
        ("x-ratelimit-remaining", "299".to_string()),
        (
            "x-ratelimit-reset",
            (Utc::now() + chrono::Duration::minutes(5)).to_rfc3339(),
        ),
    ];
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let base = format!("{}{}", st.base(), path);
        let extra = format!(
            "{}&limit={limit}",
            if main { "&types%5B%5D=mention" } else { "" }
        );
        rl.push((
            "link",
            format!(
                "<{base}?max_id={}{extra}>; rel=\"next\", <{base}?min_id={}{extra}>; rel=\"prev\"",
                id(last),
                id(first)
            ),
        ));
    }
    let status = |i: &Item| {
        let acct = if i.brand {
            "acme".to_string()
        } else {
            format!("{}@other.example", i.author)
        };
        let account_id = if i.brand {
            "1".to_string()
        } else {
            uid(&i.author)
        };
        json!({
            "id": (9000 + i.seq).to_string(),
            "created_at": st.time(i.seq).to_rfc3339_opts(SecondsFormat::Millis, true),
            "in_reply_to_id": i.reply_to.map(|p| (9000 + p).to_string()),
            "in_reply_to_account_id": null,
            "sensitive": false, "spoiler_text": "", "visibility": "public", "language": "en",
            "uri": format!("https://m.example/users/x/statuses/{}", 9000 + i.seq),
            "url": format!("https://m.example/@x/{}", 9000 + i.seq),
            "replies_count": 1, "reblogs_count": 0, "favourites_count": 2,
            "content": format!("<p>{}</p>", i.text.replace('&', "&amp;")),
            "reblog": null,
            "account": {"id": account_id, "username": i.author, "acct": acct},
            "mentions": [], "tags": [], "emojis": [], "media_attachments": [],
        })
    };
    let body: Vec<Value> = page
        .iter()
        .map(|i| {
            if main {
                json!({"id": i.seq.to_string(), "type": "mention", "created_at": st.time(i.seq).to_rfc3339(), "group_key": format!("ungrouped-{}", i.seq), "account": status(i)["account"].clone(), "status": status(i)})
            } else {
                status(i)
            }
        })
        .collect();
    with_headers(Value::Array(body), &rl)
}

fn bsky_did(i: &Item) -> String {
    if i.brand {
        "did:plc:brand".into()
    } else {
        format!("did:plc:{}", i.author)
    }
}

fn bsky_uri(i: &Item) -> String {
    format!("at://{}/app.bsky.feed.post/{}", bsky_did(i), i.seq)
}

async fn bluesky_fake(
    State(st): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let session = |st: &Shared| {
        let mut g = st.lock();
        g.session += 1;
        let n = g.session;
        axum::Json(json!({"accessJwt": format!("acc-{n}"), "refreshJwt": format!("ref-{n}"), "did": "did:plc:brand", "handle": "acme.test", "active": true}))
            .into_response()
    };
    if method == Method::POST && path == "/xrpc/com.atproto.server.createSession" {
        let b: Value = serde_json::from_slice(&body).unwrap();
        if st.lock().deny || b["password"] != "app-pass" || b["identifier"] != "acme.test" {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}))).into_response();
        }
        return session(&st);
    }
    if method == Method::POST && path == "/xrpc/com.atproto.server.refreshSession" {
        let n = st.lock().session;
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer ref-{n}") {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "ExpiredToken"})),
            )
                .into_response();
        }
        return session(&st);
    }
    let main = path == "/xrpc/app.bsky.notification.listNotifications";
    if !main && path != "/xrpc/app.bsky.feed.getAuthorFeed" {
        return (
            StatusCode::NOT_IMPLEMENTED,
            axum::Json(json!({"error": "MethodNotImplemented"})),
        )
            .into_response();
    }
    let token = format!("acc-{}", st.lock().session);
    if let Some(r) = st.gate(&headers, &token, main).await {
        return r;
    }
    let q = query(&uri);
    if !main {
        assert_eq!(q1(&q, "actor"), Some("did:plc:brand"));
    }
    let limit: usize = q1(&q, "limit").unwrap().parse().unwrap();
    let off: usize = q1(&q, "cursor").map_or(0, |c| c.parse().unwrap());
    let all = st.items(|i| i.brand != main);
    let page: Vec<&Item> = all.iter().skip(off).take(limit).collect();
    let record = |i: &Item| {
        let mut r = json!({"$type": "app.bsky.feed.post", "text": i.text, "createdAt": st.time(i.seq).to_rfc3339_opts(SecondsFormat::Millis, true), "langs": ["en"]});
        if let Some(p) = i.reply_to {
            let items = st.lock().items.clone();
            let parent = items.iter().find(|x| x.seq == p).unwrap();
            let root = items.iter().find(|x| x.seq == st.root(i)).unwrap();
            r["reply"] = json!({"root": {"uri": bsky_uri(root), "cid": "bafyroot"}, "parent": {"uri": bsky_uri(parent), "cid": "bafyparent"}});
        }
        r
    };
    let author = |i: &Item| json!({"did": bsky_did(i), "handle": if i.brand { "acme.test".to_string() } else { format!("{}.test", i.author) }, "displayName": i.author});
    let indexed = |i: &Item| {
        (st.time(i.seq) + chrono::Duration::milliseconds(500))
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    };
    let mut body = if main {
        json!({"notifications": page.iter().map(|i| json!({
            "uri": bsky_uri(i), "cid": format!("bafy{}", i.seq), "author": author(i),
            "reason": if i.reply_to.is_some() { "reply" } else { "mention" },
            "record": record(i), "isRead": false, "indexedAt": indexed(i), "labels": [],
        })).collect::<Vec<_>>()})
    } else {
        json!({"feed": page.iter().map(|i| json!({"post": {
            "uri": bsky_uri(i), "cid": format!("bafy{}", i.seq), "author": author(i), "record": record(i),
            "replyCount": 0, "repostCount": 1, "likeCount": 3, "quoteCount": 0, "indexedAt": indexed(i),
        }})).collect::<Vec<_>>()})
    };
    if off + limit < all.len() {
        body["cursor"] = json!((off + limit).to_string());
    }
    with_headers(
        body,
        &[
            ("ratelimit-limit", "3000".into()),
            ("ratelimit-remaining", "2999".into()),
            ("ratelimit-reset", "300".into()),
        ],
    )
}

fn fb_from(i: &Item) -> Value {
    if i.brand {
        json!({"name": "Acme", "id": "1234"})
    } else {
        json!({"name": i.author, "id": uid(&i.author)})
    }
}

/// One page of the comments of root `root` (newest first) from offset `off`, Graph-shaped:
/// `paging.next` only when more follow, `cursors.after` always.
fn fb_comments(st: &Shared, root: u64, off: usize, limit: usize) -> Value {
    let everything = st.lock().items.clone();
    let mut comments: Vec<&Item> = everything
        .iter()
        .filter(|i| i.reply_to.is_some() && st.root(i) == root)
        .collect();
    comments.sort_by_key(|i| std::cmp::Reverse(i.seq));
    let ftime = |i: &Item| st.time(i.seq).format("%Y-%m-%dT%H:%M:%S+0000").to_string();
    let data: Vec<Value> = comments
        .iter()
        .skip(off)
        .take(limit)
        .map(|c| {
            let mut v = json!({"id": format!("c{}", c.seq), "message": c.text, "from": fb_from(c), "created_time": ftime(c), "like_count": 1, "comment_count": 0});
            if c.reply_to != Some(root) {
                v["parent"] = json!({"id": format!("c{}", c.reply_to.unwrap())});
            }
            v
        })
        .collect();
    let after = format!("QVFcmt{}", off + data.len());
    let mut paging = json!({"cursors": {"before": format!("QVFcmt{off}"), "after": after}});
    if off + limit < comments.len() {
        paging["next"] = json!(format!(
            "{}/v21.0/1234_{root}/comments?access_token=tok-facebook&limit={limit}&after={after}",
            st.base()
        ));
    }
    json!({"data": data, "paging": paging})
}

/// `GET /v21.0/1234_{root}/comments`: the comments edge of one post.
async fn facebook_comments_edge(
    st: &Shared,
    root: u64,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    if let Some(r) = st
        .gate_with(headers, "tok-facebook", |g| {
            g.comment_hits += 1;
            let n = g.comment_hits;
            g.comment_faults.remove(&n)
        })
        .await
    {
        return r;
    }
    let q = query(uri);
    assert_eq!(q1(&q, "filter"), Some("stream"));
    assert_eq!(q1(&q, "order"), Some("reverse_chronological"));
    assert!(q1(&q, "fields").unwrap().contains("parent{id}"));
    assert!(
        q1(&q, "access_token").is_none(),
        "token must not travel in the URL"
    );
    let limit: usize = q1(&q, "limit").unwrap().parse().unwrap();
    let off: usize = q1(&q, "after")
        .and_then(|a| a.strip_prefix("QVFcmt"))
        .expect("an after cursor this fake handed out")
        .parse()
        .unwrap();
    with_headers(
        fb_comments(st, root, off, limit),
        &[("x-business-use-case-usage", r#"{"1234":[{"type":"pages","call_count":3,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}"#.into())],
    )
}

async fn facebook_fake(State(st): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    if let Some(root) = path
        .strip_prefix("/v21.0/1234_")
        .and_then(|r| r.strip_suffix("/comments"))
        .and_then(|r| r.parse::<u64>().ok())
    {
        return facebook_comments_edge(&st, root, &uri, &headers).await;
    }
    if path != "/v21.0/1234/feed" {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "Unsupported get request", "type": "GraphMethodException", "code": 100}}))).into_response();
    }
    if let Some(r) = st.gate(&headers, "tok-facebook", true).await {
        return r;
    }
    let q = query(&uri);
    if q1(&q, "access_token").is_some() {
        return (StatusCode::BAD_REQUEST, "token must not travel in the URL").into_response();
    }
    let fields = q1(&q, "fields").unwrap();
    assert!(fields.contains("comments.filter(stream)"));
    // The nested comment limit, `comments....limit(N){...}`.
    let nested: usize = fields
        .split("limit(")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .map_or(25, |n| n.parse().unwrap());
    let since: i64 = q1(&q, "since").unwrap().parse().unwrap();
    let limit: usize = q1(&q, "limit").unwrap().parse().unwrap();
    let off: usize = q1(&q, "after").map_or(0, |a| a.parse().unwrap());
    let roots = st.items(|i| i.reply_to.is_none() && st.time(i.seq).timestamp() >= since);
    let from = fb_from;
    let ftime = |i: &Item| st.time(i.seq).format("%Y-%m-%dT%H:%M:%S+0000").to_string();
    let data: Vec<Value> = roots
        .iter()
        .skip(off)
        .take(limit)
        .map(|r| {
            json!({
                "id": format!("1234_{}", r.seq), "message": r.text, "from": from(r), "created_time": ftime(r),
                "permalink_url": format!("https://www.facebook.com/1234/posts/{}", r.seq),
                "comments": fb_comments(&st, r.seq, 0, nested),
            })
        })
        .collect();
    let mut paging =
        json!({"cursors": {"before": off.to_string(), "after": (off + limit).to_string()}});
    if off + limit < roots.len() {
        paging["next"] = json!(format!(
            "{}/v21.0/1234/feed?access_token=tok-facebook&fields=id%2Cmessage%2Ccomments.filter(stream)&limit={limit}&since={since}&after={}",
            st.base(),
            off + limit
        ));
    }
    with_headers(
        json!({"data": data, "paging": paging}),
        &[("x-business-use-case-usage", r#"{"1234":[{"type":"pages","call_count":3,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}"#.into())],
    )
}

// ---------------------------------------------------------------------------------------------
// Harness

struct Harness {
    kind: Kind,
    shared: Arc<Shared>,
    source: Arc<dyn Source>,
    sink: Arc<MemorySink>,
    poller: Arc<Poller>,
}

fn env(k: &str) -> Option<String> {
    Some(
        match k {
            "X_TOKEN" => "tok-x",
            "MASTO_TOKEN" => "tok-mastodon",
            "BSKY_PASSWORD" => "app-pass",
            "FB_TOKEN" => "tok-facebook",
            _ => return None,
        }
        .to_string(),
    )
}

fn customer_items(n: u64) -> Vec<Item> {
    (1..=n)
        .map(|s| Item {
            seq: s,
            author: format!("cust{}", s % 4),
            brand: false,
            text: format!("message {s} & more"),
            reply_to: None,
        })
        .collect()
}

async fn harness(kind: Kind, name: &str, items: Vec<Item>) -> Harness {
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 7200, 0).unwrap();
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            items,
            ..Inner::default()
        }),
        base: Mutex::new(String::new()),
        t0,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *shared.base.lock().unwrap() = base.clone();
    let app = kind.router(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let source: Arc<dyn Source> = Arc::from(build_source(&kind.spec(name, &base), &env).unwrap());
    let sink = Arc::new(MemorySink::new());
    let policy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(40),
        max_delay: Duration::from_millis(200),
        max_rate_limit_waits: 3,
    };
    let poller = Arc::new(Poller::new(sink.clone() as Arc<dyn Sink>, policy).unwrap());
    Harness {
        kind,
        shared,
        source,
        sink,
        poller,
    }
}

impl Harness {
    fn key(&self) -> String {
        cursor_key(self.source.name(), self.kind.main_stream())
    }
    fn fault(&self, at: usize, f: Fault) {
        self.shared.lock().faults.insert(at, f);
    }
    fn main_hits(&self) -> usize {
        self.shared.lock().main_hits
    }
    fn stored_ids(&self) -> Vec<String> {
        self.sink
            .messages()
            .into_iter()
            .map(|m| m.external_id)
            .collect()
    }
    fn find(&self, seq: u64) -> Option<NewMessage> {
        let items = self.shared.lock().items.clone();
        let it = items.iter().find(|i| i.seq == seq).unwrap();
        let id = self.kind.external_id(&self.shared, it);
        self.sink
            .messages()
            .into_iter()
            .find(|m| m.external_id == id)
    }
    fn assert_unique(&self) {
        let mut ids = self.stored_ids();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "{:?}: a message was stored twice", self.kind);
    }
}

// ---------------------------------------------------------------------------------------------
// The contract

#[tokio::test]
async fn multi_page_fetch_then_resume_then_empty() {
    for kind in KINDS {
        let h = harness(kind, "main", customer_items(12)).await;
        h.sink.set_cursor(&h.key(), kind.cursor_before_all());
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert_eq!(h.sink.messages().len(), 12, "{kind:?}");
        assert!(
            h.main_hits() >= 3,
            "{kind:?}: 12 items at {PAGE} a page need 3 pages, got {}",
            h.main_hits()
        );
        let cursor = h.sink.stored_cursor(&h.key()).unwrap();
        assert_ne!(
            cursor,
            kind.cursor_before_all(),
            "{kind:?}: cursor not advanced"
        );
        let m = h.find(12).unwrap();
        assert_eq!(m.direction, Direction::Inbound);
        assert_eq!(m.brand, "acme");
        assert_eq!(m.text, "message 12 & more");
        assert_eq!(m.created_at, h.shared.time(12), "{kind:?}");
        assert!(m.url.is_some(), "{kind:?}");

        // Resume: only the new items arrive.
        {
            let mut g = h.shared.lock();
            g.items.extend(customer_items(15).into_iter().skip(12));
        }
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert_eq!(r.inserted(), 3, "{kind:?}");
        assert_eq!(h.sink.messages().len(), 15);
        let main = r
            .streams
            .iter()
            .find(|s| s.stream == kind.main_stream())
            .unwrap();
        assert!(
            main.duplicates <= 1,
            "{kind:?}: resumed from the cursor, not from scratch ({} duplicates)",
            main.duplicates
        );

        // Nothing new: an empty page, the cursor stays.
        let before = h.sink.stored_cursor(&h.key());
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok() && r.inserted() == 0, "{kind:?}");
        assert_eq!(h.sink.stored_cursor(&h.key()), before);
        h.assert_unique();
    }
}

#[tokio::test]
async fn fresh_start_and_empty_account() {
    for kind in KINDS {
        let h = harness(kind, "fresh", customer_items(3)).await;
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert_eq!(h.sink.messages().len(), 3, "{kind:?}");
        assert!(h.sink.stored_cursor(&h.key()).is_some(), "{kind:?}");

        let h = harness(kind, "empty", vec![]).await;
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert!(h.sink.messages().is_empty());
        assert_eq!(h.sink.stored_cursor(&h.key()), None, "{kind:?}");
    }
}

#[tokio::test]
async fn rate_limited_429_waits_for_reset_then_continues() {
    for kind in KINDS {
        let h = harness(kind, "limited", customer_items(7)).await;
        h.sink.set_cursor(&h.key(), kind.cursor_before_all());
        h.fault(2, Fault::RateLimited);
        let t = Instant::now();
        let r = h.poller.poll_once(h.source.as_ref()).await;
        let waited = t.elapsed();
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert_eq!(h.sink.messages().len(), 7, "{kind:?}");
        assert!(
            waited >= Duration::from_millis(200),
            "{kind:?}: did not wait ({waited:?})"
        );
        assert!(
            waited < Duration::from_secs(4),
            "{kind:?}: waited too long ({waited:?})"
        );
        h.assert_unique();
    }
}

#[tokio::test]
async fn server_error_then_success_and_timeout_are_retried() {
    for kind in KINDS {
        let h = harness(kind, "flaky", customer_items(7)).await;
        h.sink.set_cursor(&h.key(), kind.cursor_before_all());
        h.fault(1, Fault::ServerError);
        h.fault(3, Fault::Slow);
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert_eq!(h.sink.messages().len(), 7, "{kind:?}");
        assert!(h.main_hits() >= 4, "{kind:?}: retries not made");
        h.assert_unique();
    }
}

#[tokio::test]
async fn malformed_json_keeps_the_cursor_and_stores_nothing_twice() {
    for kind in KINDS {
        let h = harness(kind, "broken", customer_items(12)).await;
        h.sink.set_cursor(&h.key(), kind.cursor_before_all());
        h.fault(2, Fault::Malformed);
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert_eq!(r.errors.len(), 1, "{kind:?}");
        let text = r.errors[0].to_string();
        assert!(
            text.contains("broken") && text.contains("malformed"),
            "{kind:?}: {text}"
        );
        let after_failure = h.sink.stored_cursor(&h.key());
        let first_pass = h.sink.messages().len();
        assert!(
            first_pass <= PAGE,
            "{kind:?}: only the first page can be stored"
        );
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert_eq!(h.sink.messages().len(), 12, "{kind:?}");
        h.assert_unique();
        let final_cursor = h.sink.stored_cursor(&h.key());
        assert_ne!(
            after_failure, final_cursor,
            "{kind:?}: cursor moved past the failed page"
        );
    }
}

#[tokio::test]
async fn unauthorized_is_reported_and_other_sources_carry_on() {
    for kind in KINDS {
        let bad = harness(kind, "denied", customer_items(3)).await;
        bad.shared.lock().deny = true;
        let r = bad.poller.poll_once(bad.source.as_ref()).await;
        assert!(!r.is_ok(), "{kind:?}");
        let e = &r.errors[0];
        assert!(
            matches!(
                e.fetch_error(),
                Some(FetchError::Unauthorized { status: 401, .. })
            ),
            "{kind:?}: {e}"
        );
        let text = e.to_string();
        assert!(
            text.contains("denied") && text.contains("credentials refused"),
            "{kind:?}: {text}"
        );
        for secret in ["tok-", "app-pass"] {
            assert!(!text.contains(secret), "{kind:?}: token leaked in {text}");
        }

        // Both run in their own tasks; the good one fills its sink while the bad one fails.
        let good = harness(kind, "good", customer_items(4)).await;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut tasks = bad.poller.spawn_all(vec![bad.source.clone()], rx.clone());
        tasks.extend(good.poller.spawn_all(vec![good.source.clone()], rx));
        let deadline = Instant::now() + Duration::from_secs(5);
        while good.sink.messages().len() < 4 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tx.send(true).unwrap();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .unwrap()
                .unwrap();
        }
        assert_eq!(good.sink.messages().len(), 4, "{kind:?}");
        assert!(bad.sink.messages().is_empty());
    }
}

#[tokio::test]
async fn duplicate_delivered_twice_is_stored_once() {
    for kind in KINDS {
        let mut items = customer_items(8);
        items.push(items[4].clone());
        let h = harness(kind, "dup", items).await;
        h.sink.set_cursor(&h.key(), kind.cursor_before_all());
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        assert_eq!(h.sink.messages().len(), 8, "{kind:?}");
        h.assert_unique();
        // The platform delivers everything again (a cursor lost upstream): nothing is added.
        h.sink.set_cursor(&h.key(), kind.cursor_before_all());
        let again = h.poller.poll_once(h.source.as_ref()).await;
        assert!(again.is_ok(), "{kind:?}: {:?}", again.errors);
        assert_eq!(again.inserted(), 0, "{kind:?}");
        let dups = |r: &carepulse::sources::poller::PollReport| {
            r.streams.iter().map(|s| s.duplicates).sum::<usize>()
        };
        assert!(dups(&again) >= 8, "{kind:?}");
        // Where the listing itself repeats an item (X, Bluesky, Facebook), it is also caught.
        if kind != Kind::Mastodon {
            assert!(dups(&r) >= 1, "{kind:?}");
        }
        assert_eq!(h.sink.messages().len(), 8, "{kind:?}");
        h.assert_unique();
    }
}

#[tokio::test]
async fn reply_before_parent_keeps_reply_links() {
    for kind in KINDS {
        let items = vec![
            Item {
                seq: 1,
                author: "dana".into(),
                brand: false,
                text: "my blender broke".into(),
                reply_to: None,
            },
            Item {
                seq: 2,
                author: "acme".into(),
                brand: true,
                text: "sorry! DM us".into(),
                reply_to: Some(1),
            },
            Item {
                seq: 3,
                author: "dana".into(),
                brand: false,
                text: "sent".into(),
                reply_to: Some(2),
            },
        ];
        let h = harness(kind, "thread", items).await;
        let r = h.poller.poll_once(h.source.as_ref()).await;
        assert!(r.is_ok(), "{kind:?}: {:?}", r.errors);
        let (m1, m2, m3) = (h.find(1).unwrap(), h.find(2).unwrap(), h.find(3).unwrap());
        assert_eq!(
            m3.reply_to.as_deref(),
            Some(m2.external_id.as_str()),
            "{kind:?}"
        );
        assert_eq!(
            m2.reply_to.as_deref(),
            Some(m1.external_id.as_str()),
            "{kind:?}"
        );
        assert_eq!(m2.direction, Direction::Outbound, "{kind:?}");
        assert_eq!(
            (m1.direction, m3.direction),
            (Direction::Inbound, Direction::Inbound)
        );
        let ids = h.stored_ids();
        let pos = |id: &str| ids.iter().position(|x| x == id).unwrap();
        if kind != Kind::Facebook {
            assert!(
                pos(&m3.external_id) < pos(&m2.external_id),
                "{kind:?}: the reply should arrive first here"
            );
        }
    }
}

/// Post 1 by the Page with `n` customer comments (seqs 2..=n+1), post 2 by a visitor with two.
fn fb_busy_post(n: u64) -> Vec<Item> {
    let mut items = vec![Item {
        seq: 1,
        author: "acme".into(),
        brand: true,
        text: "new blender out today".into(),
        reply_to: None,
    }];
    items.extend((2..=n + 1).map(|s| Item {
        seq: s,
        author: format!("cust{}", s % 7),
        brand: false,
        text: format!("comment {s}"),
        reply_to: Some(1),
    }));
    let v = n + 2;
    items.push(Item {
        seq: v,
        author: "dana".into(),
        brand: false,
        text: "my order is late".into(),
        reply_to: None,
    });
    items.extend((v + 1..=v + 2).map(|s| Item {
        seq: s,
        author: "eli".into(),
        brand: false,
        text: format!("me too {s}"),
        reply_to: Some(v),
    }));
    items
}

#[tokio::test]
async fn facebook_pages_through_a_posts_comments_beyond_the_nested_first_page() {
    let h = harness(Kind::Facebook, "fb-busy", fb_busy_post(250)).await;
    h.sink
        .set_cursor(&h.key(), Kind::Facebook.cursor_before_all());
    // The first request on the comments edge is throttled (429 with usage at 100 %), the
    // second (comments 201..250 of the first post) is malformed: the cycle fails.
    h.shared.lock().comment_faults.insert(1, Fault::RateLimited);
    h.shared.lock().comment_faults.insert(3, Fault::Malformed);
    let t = Instant::now();
    let r = h.poller.poll_once(h.source.as_ref()).await;
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "429 not waited out"
    );
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let text = r.errors[0].to_string();
    assert!(
        text.contains("fb-busy")
            && text.contains("malformed")
            && text.contains("post-comments/1234_1"),
        "{text}"
    );
    assert_eq!(
        h.sink.stored_cursor(&h.key()).as_deref(),
        Some("0"),
        "cursor moved although comments 201..250 were never stored"
    );
    // The comments page that did arrive is stored; the feed page that opened it is not yet.
    assert_eq!(h.sink.messages().len(), 100, "one comments page");

    // Next cycle: everything, each once.
    let r = h.poller.poll_once(h.source.as_ref()).await;
    assert!(r.is_ok(), "{:?}", r.errors);
    h.assert_unique();
    let stored = h.sink.messages();
    let on_post1 = (2..=251).filter(|&seq| h.find(seq).is_some()).count();
    assert_eq!(on_post1, 250, "all 250 comments of the busy post");
    // 250 comments + the visitor post + its 2 comments; the Page's own post is not a message.
    assert_eq!(stored.len(), 253);
    for seq in [2, 101, 102, 151, 152, 251] {
        let m = h
            .find(seq)
            .unwrap_or_else(|| panic!("comment {seq} missing"));
        assert_eq!(m.reply_to, None, "top-level comment on the Page's post");
        assert_eq!(
            m.conversation_ref.as_deref(),
            Some(format!("c{seq}").as_str())
        );
        assert_eq!(m.created_at, h.shared.time(seq));
    }
    let visitor_comment = h.find(253).unwrap();
    assert_eq!(visitor_comment.reply_to.as_deref(), Some("1234_252"));
    assert_eq!(
        h.sink.stored_cursor(&h.key()),
        Some(h.shared.time(254).timestamp().to_string())
    );
    let hits = h.shared.lock().comment_hits;
    // 429 + page 2 + malformed in the first cycle, pages 2 and 3 in the second.
    assert_eq!(hits, 5);

    // Resume: 120 new comments on the busy post. The nested page holds the newest 100; the
    // comments edge is asked once more and stops at the first already stored comment.
    {
        let mut g = h.shared.lock();
        g.items.extend((255..375).map(|s| Item {
            seq: s,
            author: "late".into(),
            brand: false,
            text: format!("comment {s}"),
            reply_to: Some(1),
        }));
    }
    let r = h.poller.poll_once(h.source.as_ref()).await;
    assert!(r.is_ok(), "{:?}", r.errors);
    assert_eq!(r.inserted(), 120);
    assert_eq!(
        h.shared.lock().comment_hits,
        hits + 1,
        "paging stopped at stored comments"
    );
    assert_eq!(h.sink.messages().len(), 373);
    h.assert_unique();

    // Nothing new: no comments-edge request at all.
    let r = h.poller.poll_once(h.source.as_ref()).await;
    assert!(r.is_ok() && r.inserted() == 0, "{:?}", r.errors);
    assert_eq!(h.shared.lock().comment_hits, hits + 1);
}

#[tokio::test]
async fn bluesky_expired_token_is_refreshed() {
    let h = harness(Kind::Bluesky, "bsky", customer_items(3)).await;
    h.fault(1, Fault::ExpiredToken);
    let r = h.poller.poll_once(h.source.as_ref()).await;
    assert!(r.is_ok(), "{:?}", r.errors);
    assert_eq!(h.sink.messages().len(), 3);
    assert_eq!(h.shared.lock().session, 2, "one login, one refresh");
}

#[tokio::test]
async fn check_reports_each_source() {
    use carepulse::sources::check;
    let ok = harness(Kind::X, "x-ok", customer_items(2)).await;
    let denied = harness(Kind::Mastodon, "masto-denied", vec![]).await;
    denied.shared.lock().deny = true;
    let base_ok = ok.shared.base();
    let base_denied = denied.shared.base();
    let specs = vec![
        Kind::X.spec("x-ok", &base_ok),
        Kind::Mastodon.spec("masto-denied", &base_denied),
        Kind::Facebook.spec("fb-missing", &base_ok),
    ];
    let no_fb = |k: &str| if k == "FB_TOKEN" { None } else { env(k) };
    let lines = check::check(check::prepare(&specs, &no_fb)).await;
    assert!(lines[0].ok, "{}", lines[0]);
    assert!(lines[0].message.contains("mentions 2"), "{}", lines[0]);
    assert!(
        !lines[1].ok
            && lines[1].message.contains("MASTO_TOKEN")
            && lines[1].message.contains("401"),
        "{}",
        lines[1]
    );
    assert!(
        !lines[2].ok && lines[2].message.contains("FB_TOKEN is not set"),
        "{}",
        lines[2]
    );
    let mut bad_x = Kind::X.spec("x-unknown", &base_ok);
    if let SourceSpec::X(x) = &mut bad_x {
        x.user_id = "999".into();
    }
    let lines = check::check(check::prepare(&[bad_x], &env)).await;
    assert!(lines[0].message.contains("unknown account"), "{}", lines[0]);
}

/// The shipped config on a temp database, with `extra` sources appended.
async fn push_app(dir: &std::path::Path, extra: &str) -> std::sync::Arc<carepulse::app::App> {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .expect("shipped config");
    let db = dir.join("push.db");
    let text = shipped.replace(
        "database = \"carepulse.db\"",
        &format!("database = {:?}", db.to_str().expect("path")),
    );
    let text = text.replacen("[[sources]]", &format!("{extra}\n[[sources]]"), 1);
    let path = dir.join("config.toml");
    let config = carepulse::config::Config::parse(&text, &path, &|_| None).expect("config");
    std::sync::Arc::new(carepulse::app::App::open(config).await.expect("app"))
}

const FB_PUSH: &str = r#"
[[sources]]
kind = "facebook"
name = "fb-northwind"
brand = "Northwind"
token_env = "FB_TOKEN"
page_id = "1234"
[sources.push]
listen = "127.0.0.1:0"
secret_env = "FB_APP_SECRET"
verify_token_env = "FB_VERIFY"
"#;

fn push_env(k: &str) -> Option<String> {
    match k {
        "FB_APP_SECRET" => Some("app-secret".into()),
        "FB_VERIFY" => Some("verify-me".into()),
        "FB_TOKEN" => Some("page-token".into()),
        _ => None,
    }
}

#[tokio::test]
async fn push_endpoint_refuses_unsigned_and_badly_signed_webhooks_and_stores_signed_ones() {
    use carepulse::sources::push::{sign, IngestReply, SIGNATURE_HEADER};
    let dir = tempfile::tempdir().unwrap();
    let app = push_app(dir.path(), FB_PUSH).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (handle, addrs) = carepulse::app::push::serve_push_with(app.clone(), stop_rx, &push_env)
        .await
        .unwrap()
        .expect("a source needs push");
    assert_eq!(addrs.len(), 1);
    let hook = format!("http://{}/webhooks/fb-northwind", addrs[0]);
    let c = reqwest::Client::new();
    let delivery = br#"{"object":"page","entry":[{"id":"1234","time":1714644300,"changes":[
      {"field":"feed","value":{"item":"comment","verb":"add","post_id":"1234_9","comment_id":"1234_9_c1","parent_id":"1234_9","from":{"id":"77","name":"Dana"},"message":"my order never came, so disappointed","created_time":1714644000}},
      {"field":"feed","value":{"item":"comment","verb":"add","post_id":"1234_9","comment_id":"1234_9_c2","parent_id":"1234_9_c1","from":{"id":"1234","name":"Northwind"},"message":"Sorry Dana, we are on it","created_time":1714644300}}
    ]}]}"#;

    // Unsigned, signed with another secret, and a signature of another body: 401, nothing stored.
    let r = c.post(&hook).body(&delivery[..]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("X-Hub-Signature-256"));
    let r = c
        .post(&hook)
        .header(SIGNATURE_HEADER, sign(b"not-the-secret", delivery))
        .body(&delivery[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(&hook)
        .header(SIGNATURE_HEADER, sign(b"app-secret", b"{}"))
        .body(&delivery[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(&hook)
        .header(SIGNATURE_HEADER, "sha256=zz")
        .body(&delivery[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.store.counts().await.unwrap(), (0, 0));

    // Signed: stored and threaded; delivered again: stored once.
    for expected in [(2, 0), (0, 2)] {
        let r = c
            .post(&hook)
            .header(SIGNATURE_HEADER, sign(b"app-secret", delivery))
            .body(&delivery[..])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let reply: IngestReply = r.json().await.unwrap();
        assert_eq!((reply.inserted, reply.duplicates), expected);
    }
    assert_eq!(app.store.counts().await.unwrap(), (2, 1));

    // Subscription handshake.
    let r = c
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=4242"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "4242");
    let r = c
        .get(format!(
            "{hook}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=4242"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The JSON-lines push of the same source: bearer secret.
    let lines = format!("http://{}/push/fb-northwind/ingest", addrs[0]);
    let line = r#"{"platform":"facebook","external_id":"p1","brand":"Northwind","author":"eli","direction":"inbound","created_at":"2024-05-02T12:00:00Z","text":"where is my parcel?"}"#;
    let r = c.post(&lines).body(line).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(&lines)
        .bearer_auth("wrong")
        .body(line)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.store.counts().await.unwrap().0, 2);
    let r = c
        .post(&lines)
        .bearer_auth("app-secret")
        .body(line)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.store.counts().await.unwrap().0, 3);

    // Shutdown stops the server.
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("push server stops on shutdown")
        .unwrap();
    assert!(c.post(&hook).body("x").send().await.is_err());
}

#[tokio::test]
async fn push_is_served_only_when_a_source_needs_it_and_secrets_are_required() {
    let dir = tempfile::tempdir().unwrap();
    let app = push_app(dir.path(), "").await;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    assert!(
        carepulse::app::push::serve_push_with(app, rx.clone(), &push_env)
            .await
            .unwrap()
            .is_none()
    );
    let dir = tempfile::tempdir().unwrap();
    let app = push_app(dir.path(), FB_PUSH).await;
    let err = carepulse::app::push::serve_push_with(app, rx, &|_| None)
        .await
        .expect_err("served without its secret");
    let text = format!("{err:#}");
    assert!(
        text.contains("FB_APP_SECRET") && text.contains("fb-northwind"),
        "{text}"
    );
}

/// A Discord REST fake that accepts the `/kpi` registration (echoes the commands back).
async fn discord_registration_fake() -> String {
    async fn register(uri: Uri, method: Method, body: Bytes) -> Response {
        if method != Method::PUT || !uri.path().ends_with("/commands") {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"code": 0, "message": "404: Not Found"})),
            )
                .into_response();
        }
        let sent: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
        let echoed: Vec<Value> = sent
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                c["id"] = json!((9000 + i).to_string());
                c["application_id"] = json!("4242");
                c["version"] = json!("1");
                c["type"] = json!(1);
                c
            })
            .collect();
        axum::Json(echoed).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(register)).await });
    base
}

#[tokio::test]
async fn push_shares_the_discord_interactions_port() {
    use carepulse::chat::discord::{DiscordConfig, DiscordMode};
    use carepulse::sources::push::{sign, SIGNATURE_HEADER};
    use ed25519_dalek::{Signer, SigningKey};

    // A free port, used by both the push source and the interactions endpoint.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = push_app(
        dir.path(),
        &FB_PUSH.replace("127.0.0.1:0", &listen.to_string()),
    )
    .await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serving = carepulse::app::push::serve_push_sharing(
        app.clone(),
        stop_rx.clone(),
        &push_env,
        Some(listen),
    )
    .await
    .unwrap();
    assert!(
        serving.handle.is_none() && serving.bound.is_empty(),
        "push bound its own listener"
    );
    let routes = serving
        .shared
        .expect("the push routes for the shared address");

    let key = SigningKey::from_bytes(&[7u8; 32]);
    let mut cfg = DiscordConfig::new(4242);
    cfg.mode = DiscordMode::Http;
    cfg.listen = listen;
    cfg.public_key = Some(hex::encode(key.verifying_key().to_bytes()));
    cfg.api_base_url = Some(discord_registration_fake().await);
    cfg.request_timeout_secs = 5;
    let handler: carepulse::chat::CommandHandler =
        Arc::new(|_inv| Box::pin(async { carepulse::digest::post::Post::new("unused") }));
    let mut rx = stop_rx.clone();
    let stop = async move {
        let _ = rx.changed().await;
    };
    let token = secrecy::SecretString::from("bot-token".to_string());
    let server = tokio::spawn(async move {
        carepulse::chat::discord::run(&cfg, &token, handler, None, Some(routes), stop).await
    });

    let c = reqwest::Client::new();
    let base = format!("http://{listen}");
    // Wait until the server listens (registration happens first).
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.get(format!("{base}/interactions")).send().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "interactions endpoint never listened"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    // A signed PING gets its PONG; an unsigned one is refused.
    let ping = br#"{"id":"1","application_id":"4242","type":1,"token":"t","version":1}"#;
    let ts = Utc::now().timestamp().to_string();
    let mut msg = ts.as_bytes().to_vec();
    msg.extend_from_slice(ping);
    let sig = hex::encode(key.sign(&msg).to_bytes());
    let r = c
        .post(format!("{base}/interactions"))
        .header("content-type", "application/json")
        .header("X-Signature-Ed25519", sig)
        .header("X-Signature-Timestamp", &ts)
        .body(&ping[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"type": 1}));
    let r = c
        .post(format!("{base}/interactions"))
        .body(&ping[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A signed Page webhook delivery on the same port is stored; an unsigned one is refused.
    let delivery = br#"{"object":"page","entry":[{"id":"1234","time":1714644300,"changes":[
      {"field":"feed","value":{"item":"comment","verb":"add","post_id":"1234_9","comment_id":"1234_9_c1","parent_id":"1234_9","from":{"id":"77","name":"Dana"},"message":"my order never came","created_time":1714644000}}
    ]}]}"#;
    let hook = format!("{base}/webhooks/fb-northwind");
    let r = c.post(&hook).body(&delivery[..]).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(&hook)
        .header(SIGNATURE_HEADER, sign(b"app-secret", delivery))
        .body(&delivery[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.store.counts().await.unwrap().0, 1);
    // And the JSON-lines push with its bearer secret.
    let line = r#"{"platform":"facebook","external_id":"p1","brand":"Northwind","author":"eli","direction":"inbound","created_at":"2024-05-02T12:00:00Z","text":"where is my parcel?"}"#;
    let r = c
        .post(format!("{base}/push/fb-northwind/ingest"))
        .bearer_auth("app-secret")
        .body(line)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.store.counts().await.unwrap().0, 2);

    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the shared server stops on shutdown")
        .unwrap()
        .unwrap();

    // Without a shared address the same source binds its own listener as before.
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let own = carepulse::app::push::serve_push_sharing(app.clone(), rx, &push_env, None)
        .await
        .unwrap();
    assert_eq!(own.bound, [listen]);
    assert!(own.shared.is_none());
}
