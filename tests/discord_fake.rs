//! The Discord transport against a fake Discord REST API on loopback (no network): command
//! registration, digest messages with embeds and PNG attachments, interaction answers and
//! deferred edits, error sorting, and the Ed25519-verified HTTP interactions endpoint.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use carepulse::chat::discord::{
    build_http, interactions_router, register_commands, Clock, DiscordChat, DiscordConfig,
    InteractionsState, Responder, Suggest,
};
use carepulse::chat::{Chat, ChatError, CommandHandler, Invocation};
use carepulse::digest::charts::{line_chart, Labels, Series};
use carepulse::digest::post::{Action, Attachment, Post, Tone};
use chrono::NaiveDate;
use ed25519_dalek::{Signer, SigningKey};
use secrecy::SecretString;
use serde_json::{json, Value};
use serenity::all::Interaction;

const APP: u64 = 4242;
const TOKEN: &str = "test-bot-token-not-real";

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    content_type: String,
    authorization: String,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct FakeState {
    log: Arc<Mutex<Vec<Recorded>>>,
    fail_with: Arc<Mutex<Option<u16>>>,
    gateway_url: Arc<Mutex<Option<String>>>,
}

struct Fake {
    base: String,
    state: FakeState,
}

impl Fake {
    fn requests(&self) -> Vec<Recorded> {
        self.state.log.lock().unwrap().clone()
    }

    fn fail_with(&self, status: Option<u16>) {
        *self.state.fail_with.lock().unwrap() = status;
    }

    async fn wait_for(&self, pred: impl Fn(&Recorded) -> bool) -> Recorded {
        for _ in 0..200 {
            if let Some(r) = self.requests().into_iter().find(|r| pred(r)) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected request never arrived; got {:#?}", self.requests());
    }
}

fn message_json(id: &str, channel: &str) -> Value {
    json!({
        "id": id, "channel_id": channel,
        "author": { "id": "1", "username": "carepulse", "discriminator": "0", "avatar": null, "bot": true },
        "content": "", "timestamp": "2026-11-23T08:00:00+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0
    })
}

async fn fake_discord(
    State(state): State<FakeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let path = uri.path().to_string();
    state.log.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: body.to_vec(),
    });
    if let Some(status) = *state.fail_with.lock().unwrap() {
        let status = StatusCode::from_u16(status).unwrap();
        return (
            status,
            Json(json!({ "code": 50001, "message": "Missing Access" })),
        )
            .into_response();
    }
    let parts: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("PUT", ["applications", app, .., "commands"]) => {
            let sent: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
            let echoed: Vec<Value> = sent
                .into_iter()
                .enumerate()
                .map(|(i, mut c)| {
                    c["id"] = json!((9000 + i).to_string());
                    c["application_id"] = json!(app);
                    c["version"] = json!("1");
                    c["type"] = json!(1);
                    c
                })
                .collect();
            Json(echoed).into_response()
        }
        ("POST", ["channels", channel, "messages"]) => {
            Json(message_json("5001", channel)).into_response()
        }
        ("GET", ["gateway"]) => match state.gateway_url.lock().unwrap().clone() {
            Some(url) => Json(json!({ "url": url })).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        ("POST", ["interactions", _, _, "callback"]) => StatusCode::NO_CONTENT.into_response(),
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) => {
            Json(message_json("5002", "99")).into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({ "code": 0, "message": "404: Not Found" })),
        )
            .into_response(),
    }
}

async fn start_fake() -> Fake {
    let state = FakeState::default();
    let app = Router::new()
        .fallback(fake_discord)
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { base, state }
}

fn config(base: &str) -> DiscordConfig {
    let mut c = DiscordConfig::new(APP);
    c.api_base_url = Some(base.to_string());
    c.request_timeout_secs = 5;
    c.channels.insert("care".into(), 99);
    c
}

fn token() -> SecretString {
    SecretString::from(TOKEN.to_string())
}

/// Splits a multipart body into (content-disposition line, bytes) parts.
fn multipart(r: &Recorded) -> Vec<(String, Vec<u8>)> {
    let boundary = r
        .content_type
        .split("boundary=")
        .nth(1)
        .expect("multipart boundary")
        .trim_matches('"')
        .to_string();
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let body = &r.body;
    let mut starts = Vec::new();
    let mut i = 0;
    while i + delim.len() <= body.len() {
        if body[i..i + delim.len()] == delim[..] {
            starts.push(i);
            i += delim.len();
        } else {
            i += 1;
        }
    }
    for w in starts.windows(2) {
        let chunk = &body[w[0] + delim.len()..w[1]];
        let sep = chunk
            .windows(4)
            .position(|x| x == b"\r\n\r\n")
            .expect("part header end");
        let head = String::from_utf8_lossy(&chunk[..sep]).to_string();
        let mut data = chunk[sep + 4..].to_vec();
        if data.ends_with(b"\r\n") {
            data.truncate(data.len() - 2);
        }
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or_default()
            .to_string();
        parts.push((disposition, data));
    }
    parts
}

fn payload_json(r: &Recorded) -> Value {
    if r.content_type.starts_with("multipart/form-data") {
        let (_, data) = multipart(r)
            .into_iter()
            .find(|(d, _)| d.contains("name=\"payload_json\""))
            .expect("payload_json part");
        serde_json::from_slice(&data).unwrap()
    } else {
        serde_json::from_slice(&r.body).unwrap()
    }
}

fn chart_png() -> Vec<u8> {
    let start = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    line_chart(
        &Labels::new("Mentions", "day", "mentions"),
        &[Series::new(
            "mentions",
            (0..7)
                .map(|d| (start + chrono::Duration::days(d), (d * 3) as f64))
                .collect(),
        )],
    )
    .unwrap()
}

fn digest_post() -> Post {
    let mut p = Post::new("Morning digest: Acme")
        .field("Mentions", "1,204 (+12%)", true)
        .field("Complaints", "211", true)
        .field("FRT median", "14 min", true)
        .line("**Top story**: delivery delays in Berlin")
        .line("<https://example.com/story/1>");
    p.summary = "1,204 mentions, 211 complaints".into();
    p.tone = Tone::Warning;
    p.attachments
        .push(Attachment::png("volume.png", "Volume", chart_png()));
    p.attachments
        .push(Attachment::png("platforms.png", "Platforms", chart_png()));
    p.attachments.push(Attachment::csv(
        "kpi.csv",
        "KPIs",
        b"day,mentions\n2026-11-22,1204\n".to_vec(),
    ));
    p.actions.push(Action {
        id: "ack:digest-1".into(),
        label: "Seen".into(),
    });
    p
}

/// A handler that records invocations and answers after `delay`.
fn recording_handler(
    seen: Arc<Mutex<Vec<Invocation>>>,
    delay: Duration,
    answer: Post,
) -> CommandHandler {
    Arc::new(move |inv: Invocation| {
        let seen = Arc::clone(&seen);
        let answer = answer.clone();
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            let mut post = answer;
            post.lines.push(format!("you asked: {}", inv.line));
            seen.lock().unwrap().push(inv);
            post
        })
    })
}

fn user_json() -> Value {
    json!({ "id": "777", "username": "agent", "discriminator": "0", "avatar": null })
}

fn command_interaction(options: Value) -> Value {
    json!({
        "id": "1001", "application_id": APP.to_string(), "type": 2,
        "data": { "id": "9000", "name": "kpi", "type": 1, "options": options },
        "channel_id": "99", "user": user_json(), "token": "itok", "version": 1,
        "locale": "en-US", "entitlements": [], "attachment_size_limit": 26214400,
        "app_permissions": "0"
    })
}

fn today_options() -> Value {
    json!([{ "name": "today", "type": 1, "options": [
        { "name": "brand", "type": 3, "value": "Acme" },
        { "name": "platform", "type": 3, "value": "x" }
    ]}])
}

fn interaction(v: Value) -> Interaction {
    serde_json::from_value(v).expect("interaction json")
}

#[tokio::test]
async fn registers_the_kpi_command_per_guild_and_globally() {
    let fake = start_fake().await;
    let http = build_http(&config(&fake.base), &token()).unwrap();
    assert_eq!(register_commands(&http, Some(7)).await.unwrap(), 1);
    assert_eq!(register_commands(&http, None).await.unwrap(), 1);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "PUT");
    assert_eq!(
        reqs[0].path,
        format!("/api/v10/applications/{APP}/guilds/7/commands")
    );
    assert_eq!(
        reqs[1].path,
        format!("/api/v10/applications/{APP}/commands")
    );
    assert_eq!(reqs[0].authorization, format!("Bot {TOKEN}"));

    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    let kpi = &body[0];
    assert_eq!(kpi["name"], "kpi");
    let subs = kpi["options"].as_array().unwrap();
    let find = |name: &str| subs.iter().find(|s| s["name"] == name).unwrap().clone();
    for name in [
        "today",
        "yesterday",
        "week",
        "month",
        "range",
        "stories",
        "backlog",
        "chart",
        "export",
        "explain",
        "help",
    ] {
        assert_eq!(find(name)["type"], 1, "{name} is a subcommand");
    }
    let today = find("today");
    let filters: Vec<(&str, bool)> = today["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["autocomplete"] == true))
        .collect();
    assert_eq!(
        filters,
        [("platform", true), ("brand", true), ("product", true)]
    );
    let range = find("range");
    assert_eq!(range["options"][0]["name"], "from");
    assert_eq!(range["options"][0]["required"], true);
    assert_eq!(range["options"][1]["name"], "to");
    assert_eq!(range["options"].as_array().unwrap().len(), 5);
    let chart = find("chart");
    let kinds: Vec<&str> = chart["options"][0]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["volume", "sentiment", "platforms", "complaints-vs-praise"]
    );
    assert_eq!(chart["options"][1]["type"], 4);
    assert_eq!(chart["options"][1]["min_value"], 1);
    assert_eq!(chart["options"][1]["max_value"], 90);
    assert_eq!(
        find("export")["options"][0]["choices"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(find("explain")["options"][0]["autocomplete"], true);
    assert!(find("help")
        .get("options")
        .map_or(true, |o| o.as_array().unwrap().is_empty()));
}

#[tokio::test]
async fn digest_post_sends_an_embed_with_fields_png_attachments_and_buttons() {
    let fake = start_fake().await;
    let chat = DiscordChat::new(&config(&fake.base), &token()).unwrap();
    let post = digest_post();
    let posted = chat.post("care", &post).await.unwrap();
    assert_eq!(posted.0, "5001");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/api/v10/channels/99/messages")
    );
    assert!(
        r.content_type.starts_with("multipart/form-data"),
        "{}",
        r.content_type
    );
    let payload = payload_json(r);
    let embed = &payload["embeds"][0];
    assert_eq!(embed["title"], "Morning digest: Acme");
    assert_eq!(embed["color"], 0xFEE75C);
    assert_eq!(embed["fields"][0]["name"], "Mentions");
    assert_eq!(embed["fields"][0]["value"], "1,204 (+12%)");
    assert_eq!(embed["fields"].as_array().unwrap().len(), 3);
    assert!(embed["description"]
        .as_str()
        .unwrap()
        .contains("delivery delays"));
    assert_eq!(embed["image"]["url"], "attachment://volume.png");
    assert_eq!(embed["footer"]["text"], "carepulse");
    assert_eq!(
        payload["components"][0]["components"][0]["custom_id"],
        "ack:digest-1"
    );
    assert_eq!(payload["attachments"].as_array().unwrap().len(), 3);

    let files: Vec<(String, Vec<u8>)> = multipart(r)
        .into_iter()
        .filter(|(d, _)| d.contains("name=\"files["))
        .collect();
    assert_eq!(files.len(), 3);
    assert!(files[0].0.contains("filename=\"volume.png\""));
    assert_eq!(
        files[0].1, post.attachments[0].bytes,
        "PNG sent byte for byte"
    );
    assert!(files[1].1.starts_with(b"\x89PNG"));
    assert!(files[2].0.contains("filename=\"kpi.csv\""));
    assert_eq!(files[2].1, b"day,mentions\n2026-11-22,1204\n");
}

#[tokio::test]
async fn post_failures_are_sorted_into_transient_and_permanent() {
    let fake = start_fake().await;
    let chat = DiscordChat::new(&config(&fake.base), &token()).unwrap();
    let post = Post::new("alert");
    for (status, transient) in [
        (503, true),
        (500, true),
        (429, true),
        (403, false),
        (404, false),
        (400, false),
    ] {
        fake.fail_with(Some(status));
        match chat.post("care", &post).await {
            Err(ChatError::Transient(m)) => assert!(transient, "{status} was transient: {m}"),
            Err(ChatError::Permanent(m)) => {
                assert!(!transient, "{status} was permanent: {m}");
                assert!(
                    m.contains(&status.to_string()),
                    "message names the status: {m}"
                );
            }
            Ok(_) => panic!("{status} succeeded"),
        }
    }
    fake.fail_with(None);
    let before = fake.requests().len();
    assert!(matches!(
        chat.post("no-such-channel", &post).await,
        Err(ChatError::Permanent(_))
    ));
    assert_eq!(
        fake.requests().len(),
        before,
        "unknown channel sends nothing"
    );

    // Nothing listening: a dropped connection is worth retrying. The token never shows.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let chat = DiscordChat::new(&config(&closed), &token()).unwrap();
    match chat.post("care", &post).await {
        Err(ChatError::Transient(m)) => assert!(!m.contains(TOKEN)),
        other => panic!("expected transient, got {other:?}"),
    }
}

#[tokio::test]
async fn slash_command_over_the_gateway_path_is_answered_in_place() {
    let fake = start_fake().await;
    let http = build_http(&config(&fake.base), &token()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(Arc::clone(&seen), Duration::ZERO, Post::new("Today"));
    let responder = Responder::new(http, handler);
    responder
        .handle(interaction(command_interaction(today_options())))
        .await
        .unwrap();

    let inv = seen.lock().unwrap()[0].clone();
    assert_eq!(inv.line, "/kpi today platform:x brand:Acme");
    assert_eq!((inv.user.as_str(), inv.channel.as_str()), ("777", "99"));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/api/v10/interactions/1001/itok/callback");
    let body = payload_json(&reqs[0]);
    assert_eq!(body["type"], 4);
    assert_eq!(body["data"]["embeds"][0]["title"], "Today");
    assert!(body["data"]["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("/kpi today platform:x brand:Acme"));
}

#[tokio::test]
async fn usage_errors_are_answered_ephemerally() {
    let fake = start_fake().await;
    let http = build_http(&config(&fake.base), &token()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(seen, Duration::ZERO, Post::usage_error("days must be 1-90"));
    let opts = json!([{ "name": "chart", "type": 1, "options": [
        { "name": "days", "type": 4, "value": 14 }, { "name": "kind", "type": 3, "value": "volume" }
    ]}]);
    Responder::new(http, handler)
        .handle(interaction(command_interaction(opts)))
        .await
        .unwrap();
    let body = payload_json(&fake.requests()[0]);
    assert_eq!(body["data"]["flags"], 64);
}

#[tokio::test]
async fn slow_answers_are_deferred_then_edited_into_the_original() {
    let fake = start_fake().await;
    let http = build_http(&config(&fake.base), &token()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(Arc::clone(&seen), Duration::from_millis(300), digest_post());
    let responder = Responder::new(http, handler).with_defer_after(Duration::from_millis(50));
    responder
        .handle(interaction(command_interaction(today_options())))
        .await
        .unwrap();

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_eq!(reqs[0].path, "/api/v10/interactions/1001/itok/callback");
    assert_eq!(payload_json(&reqs[0])["type"], 5);
    assert_eq!(reqs[1].method, "PATCH");
    assert_eq!(
        reqs[1].path,
        format!("/api/v10/webhooks/{APP}/itok/messages/@original")
    );
    let edit = payload_json(&reqs[1]);
    assert_eq!(edit["embeds"][0]["title"], "Morning digest: Acme");
    let pngs = multipart(&reqs[1])
        .into_iter()
        .filter(|(d, data)| d.contains("files[") && data.starts_with(b"\x89PNG"))
        .count();
    assert_eq!(pngs, 2);
}

#[tokio::test]
async fn autocomplete_and_buttons_reach_their_callbacks() {
    let fake = start_fake().await;
    let http = build_http(&config(&fake.base), &token()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(Arc::clone(&seen), Duration::ZERO, Post::new("Acknowledged"));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let asked2 = Arc::clone(&asked);
    let suggest: Suggest = Arc::new(move |option: String, typed: String| {
        asked2.lock().unwrap().push((option.clone(), typed.clone()));
        Box::pin(async move {
            ["Acme", "Acme Labs", "Other"]
                .iter()
                .filter(|b| b.to_lowercase().starts_with(&typed.to_lowercase()))
                .map(|s| s.to_string())
                .collect()
        })
    });
    let responder = Responder::new(http, handler).with_suggest(suggest);

    let mut auto = command_interaction(json!([{ "name": "week", "type": 1, "options": [
        { "name": "brand", "type": 3, "value": "ac", "focused": true }
    ]}]));
    auto["type"] = json!(4);
    responder.handle(interaction(auto)).await.unwrap();
    assert_eq!(
        asked.lock().unwrap()[0],
        ("brand".to_string(), "ac".to_string())
    );
    let body = payload_json(&fake.requests()[0]);
    assert_eq!(body["type"], 8);
    let choices: Vec<&str> = body["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(choices, ["Acme", "Acme Labs"]);

    let button = json!({
        "id": "1002", "application_id": APP.to_string(), "type": 3,
        "data": { "custom_id": "ack:alert-17", "component_type": 2 },
        "channel_id": "99", "user": user_json(), "token": "btok", "version": 1,
        "locale": "en-US", "entitlements": [], "attachment_size_limit": 26214400,
        "app_permissions": "0", "message": message_json("5001", "99")
    });
    responder.handle(interaction(button)).await.unwrap();
    assert_eq!(seen.lock().unwrap()[0].line, "/button ack:alert-17");
    let reqs = fake.requests();
    assert_eq!(reqs[1].path, "/api/v10/interactions/1002/btok/callback");
    assert_eq!(
        payload_json(&reqs[1])["data"]["embeds"][0]["title"],
        "Acknowledged"
    );
}

// ---- HTTP interactions endpoint ---------------------------------------------------------

const NOW: i64 = 1_795_000_000;

struct Endpoint {
    url: String,
    key: SigningKey,
    calls: Arc<AtomicUsize>,
    client: reqwest::Client,
}

async fn start_endpoint(fake: &Fake, answer: Post) -> Endpoint {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public_hex = hex::encode(key.verifying_key().to_bytes());
    let http = build_http(&config(&fake.base), &token()).unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let calls2 = Arc::clone(&calls);
    let handler: CommandHandler = Arc::new(move |inv: Invocation| {
        calls2.fetch_add(1, Ordering::SeqCst);
        let mut post = answer.clone();
        post.lines.push(format!("you asked: {}", inv.line));
        Box::pin(async move { post })
    });
    let clock: Clock = Arc::new(|| NOW);
    let state = InteractionsState::new(&public_hex, Responder::new(http, handler), clock).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/interactions", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, interactions_router(state))
            .await
            .unwrap()
    });
    Endpoint {
        url,
        key,
        calls,
        client: reqwest::Client::new(),
    }
}

impl Endpoint {
    fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut msg = timestamp.as_bytes().to_vec();
        msg.extend_from_slice(body);
        hex::encode(self.key.sign(&msg).to_bytes())
    }

    async fn send(
        &self,
        body: &[u8],
        signature: Option<&str>,
        timestamp: &str,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req
                .header("X-Signature-Ed25519", sig)
                .header("X-Signature-Timestamp", timestamp);
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn signed_ping_gets_pong_and_signed_command_gets_an_answer() {
    let fake = start_fake().await;
    let ep = start_endpoint(&fake, Post::new("Today")).await;
    let ts = NOW.to_string();

    let ping = br#"{"id":"1","application_id":"4242","type":1,"token":"t","version":1}"#;
    let r = ep.send(ping, Some(&ep.sign(&ts, ping)), &ts).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "type": 1 }));

    let body = serde_json::to_vec(&command_interaction(today_options())).unwrap();
    let r = ep.send(&body, Some(&ep.sign(&ts, &body)), &ts).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["type"], 4);
    assert_eq!(answer["data"]["embeds"][0]["title"], "Today");
    assert!(answer["data"]["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("/kpi today platform:x brand:Acme"));
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
    assert!(
        fake.requests().is_empty(),
        "answered in the HTTP reply, no REST call"
    );
}

#[tokio::test]
async fn unsigned_tampered_or_stale_requests_get_401_and_touch_nothing() {
    let fake = start_fake().await;
    let ep = start_endpoint(&fake, Post::new("Today")).await;
    let body = serde_json::to_vec(&command_interaction(today_options())).unwrap();
    let ts = NOW.to_string();
    let good = ep.sign(&ts, &body);

    // Missing signature.
    assert_eq!(ep.send(&body, None, &ts).await.status(), 401);
    // Tampered body (one byte changed after signing).
    let mut tampered = body.clone();
    let pos = tampered.windows(4).position(|w| w == b"Acme").unwrap();
    tampered[pos] = b'B';
    assert_eq!(ep.send(&tampered, Some(&good), &ts).await.status(), 401);
    // Signature from another key.
    let other = SigningKey::from_bytes(&[9u8; 32]);
    let mut msg = ts.as_bytes().to_vec();
    msg.extend_from_slice(&body);
    let foreign = hex::encode(other.sign(&msg).to_bytes());
    assert_eq!(ep.send(&body, Some(&foreign), &ts).await.status(), 401);
    // Garbage signature.
    assert_eq!(ep.send(&body, Some("zz"), &ts).await.status(), 401);
    // Validly signed but stale (6 minutes old) or from the future.
    for skew in [-360i64, 360] {
        let old = (NOW + skew).to_string();
        assert_eq!(
            ep.send(&body, Some(&ep.sign(&old, &body)), &old)
                .await
                .status(),
            401
        );
    }
    // Signed timestamp swapped for a fresh one.
    let fresh = (NOW + 1).to_string();
    let old = (NOW - 360).to_string();
    assert_eq!(
        ep.send(&body, Some(&ep.sign(&old, &body)), &fresh)
            .await
            .status(),
        401
    );

    assert_eq!(ep.calls.load(Ordering::SeqCst), 0, "handler never ran");
    assert!(fake.requests().is_empty(), "Discord never called");

    // Within the window (4 minutes old) still works.
    let recent = (NOW - 240).to_string();
    let r = ep
        .send(&body, Some(&ep.sign(&recent, &body)), &recent)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(ep.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn answers_with_charts_over_http_are_deferred_then_edited() {
    let fake = start_fake().await;
    let ep = start_endpoint(&fake, digest_post()).await;
    let ts = NOW.to_string();
    let opts = json!([{ "name": "chart", "type": 1, "options": [
        { "name": "kind", "type": 3, "value": "volume" }, { "name": "days", "type": 4, "value": 14 }
    ]}]);
    let body = serde_json::to_vec(&command_interaction(opts)).unwrap();
    let r = ep.send(&body, Some(&ep.sign(&ts, &body)), &ts).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["type"], 5);
    let edit = fake.wait_for(|r| r.method == "PATCH").await;
    assert_eq!(
        edit.path,
        format!("/api/v10/webhooks/{APP}/itok/messages/@original")
    );
    let payload = payload_json(&edit);
    assert!(payload["embeds"][0]["description"]
        .as_str()
        .unwrap()
        .contains("/kpi chart volume 14"));
    assert!(multipart(&edit)
        .iter()
        .any(|(d, data)| d.contains("volume.png") && data.starts_with(b"\x89PNG")));
}

// ---- Gateway ----------------------------------------------------------------------------

/// A one-connection fake Discord gateway: HELLO, then READY after IDENTIFY, then one
/// INTERACTION_CREATE; acknowledges heartbeats. Records the IDENTIFY payload.
async fn start_fake_gateway(interaction: Value) -> (String, Arc<Mutex<Option<Value>>>) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let identify = Arc::new(Mutex::new(None));
    let identify2 = Arc::clone(&identify);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let resume_url = url.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        let hello = json!({ "op": 10, "d": { "heartbeat_interval": 45000 }, "s": null, "t": null });
        ws.send(Message::Text(hello.to_string())).await.unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            match v["op"].as_u64() {
                Some(1) => {
                    let ack = json!({ "op": 11, "d": null, "s": null, "t": null });
                    let _ = ws.send(Message::Text(ack.to_string())).await;
                }
                Some(2) => {
                    *identify2.lock().unwrap() = Some(v["d"].clone());
                    let ready = json!({ "op": 0, "s": 1, "t": "READY", "d": {
                        "v": 10,
                        "user": { "id": "1", "username": "carepulse", "discriminator": "0",
                                  "avatar": null, "bot": true },
                        "guilds": [], "session_id": "sess", "resume_gateway_url": resume_url,
                        "shard": [0, 1],
                        "application": { "id": APP.to_string(), "flags": 0 }
                    }});
                    ws.send(Message::Text(ready.to_string())).await.unwrap();
                    let create =
                        json!({ "op": 0, "s": 2, "t": "INTERACTION_CREATE", "d": interaction });
                    ws.send(Message::Text(create.to_string())).await.unwrap();
                }
                _ => {}
            }
        }
    });
    (url, identify)
}

#[tokio::test]
async fn gateway_client_registers_on_ready_and_answers_an_interaction() {
    let fake = start_fake().await;
    let (ws_url, identify) = start_fake_gateway(command_interaction(today_options())).await;
    *fake.state.gateway_url.lock().unwrap() = Some(ws_url);

    let mut cfg = config(&fake.base);
    cfg.guild_id = Some(7);
    let http = build_http(&cfg, &token()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handler = recording_handler(Arc::clone(&seen), Duration::ZERO, Post::new("Today"));
    let responder = Responder::new(http, handler);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(async move {
        carepulse::chat::discord::run_gateway(&cfg, &token(), responder, async move {
            let _ = stop_rx.await;
        })
        .await
    });

    let callback = fake.wait_for(|r| r.path.ends_with("/callback")).await;
    assert_eq!(callback.path, "/api/v10/interactions/1001/itok/callback");
    assert_eq!(
        payload_json(&callback)["data"]["embeds"][0]["title"],
        "Today"
    );
    assert_eq!(
        seen.lock().unwrap()[0].line,
        "/kpi today platform:x brand:Acme"
    );
    let register = fake.wait_for(|r| r.method == "PUT").await;
    assert_eq!(
        register.path,
        format!("/api/v10/applications/{APP}/guilds/7/commands")
    );
    let identified = identify.lock().unwrap().clone().expect("client identified");
    assert_eq!(identified["token"], format!("Bot {TOKEN}"));
    assert_eq!(identified["intents"], 0);

    stop_tx.send(()).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), gateway).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "gateway stops cleanly: {ended:?}"
    );
}
