//! Scheduled digests through the outbox to a fake Discord REST API on loopback: a digest is
//! enqueued with its job claim, a 500, a 429 or a timeout is retried with backoff, a refusal
//! parks the post, a restart delivers what is pending and never posts a delivered digest
//! again, and two senders on one database never send the same post twice.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use secrecy::SecretString;
use serde_json::json;

use carepulse::app::outbox::{deliver_due, Delivery, OutboxPolicy};
use carepulse::app::App;
use carepulse::chat::discord::{DiscordChat, DiscordConfig};
use carepulse::config::Config;
use carepulse::store::OutboxCounts;

/// 2026-11-23 09:05 UTC, a Monday: the morning (daily 09:00) and weekly (Monday 09:00)
/// digests of the shipped config are both due.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 5, 0)
        .single()
        .unwrap()
}

fn later(s: i64) -> DateTime<Utc> {
    now() + chrono::Duration::seconds(s)
}

/// (status answered, request body) of one message POST.
type Posted = (u16, Vec<u8>);

/// What the fake answers, in order; after the script, 200. `0` hangs past the timeout.
#[derive(Clone, Default)]
struct FakeState {
    script: Arc<Mutex<VecDeque<u16>>>,
    posts: Arc<Mutex<Vec<Posted>>>,
}

struct Fake {
    base: String,
    state: FakeState,
}

impl Fake {
    fn script(&self, statuses: &[u16]) {
        self.state.script.lock().unwrap().extend(statuses);
    }
    /// (status answered, body) of every message POST.
    fn posts(&self) -> Vec<Posted> {
        self.state.posts.lock().unwrap().clone()
    }
    fn delivered(&self) -> usize {
        self.posts().iter().filter(|p| p.0 == 200).count()
    }
}

async fn fake_discord(
    State(state): State<FakeState>,
    method: Method,
    uri: Uri,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let parts: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    let ["channels", channel, "messages"] = parts.as_slice() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"code": 0, "message": "404: Not Found"})),
        )
            .into_response();
    };
    assert_eq!(method, Method::POST);
    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
    state.posts.lock().unwrap().push((status, body.to_vec()));
    match status {
        0 => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        200 => Json(json!({
            "id": "5001", "channel_id": channel,
            "author": { "id": "1", "username": "carepulse", "discriminator": "0", "avatar": null, "bot": true },
            "content": "", "timestamp": "2026-11-23T09:05:00+00:00", "edited_timestamp": null,
            "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": false, "type": 0
        }))
        .into_response(),
        429 => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"code": 0, "message": "You are being rate limited.", "retry_after": 0.1, "global": false})),
        )
            .into_response(),
        s => (
            StatusCode::from_u16(s).unwrap(),
            Json(json!({"code": 50001, "message": "Missing Access"})),
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

fn discord(fake: &Fake) -> DiscordChat {
    let mut c = DiscordConfig::new(4242);
    c.api_base_url = Some(fake.base.clone());
    c.request_timeout_secs = 1;
    c.channels.insert("care-team".into(), 99);
    DiscordChat::new(&c, &SecretString::from("test-token".to_string())).unwrap()
}

async fn open_app(dir: &std::path::Path) -> App {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .expect("shipped config");
    let mut config =
        Config::parse(&text, &dir.join("config.toml"), &|_| None).expect("config parses");
    config.database = dir.join("outbox.db");
    App::open(config).await.expect("app opens")
}

async fn counts(app: &App) -> OutboxCounts {
    app.store.outbox_counts().await.unwrap()
}

#[tokio::test]
async fn a_500_is_retried_with_backoff_and_a_restart_posts_nothing_twice() {
    let fake = start_fake().await;
    let chat = discord(&fake);
    let dir = tempfile::tempdir().unwrap();
    let policy = OutboxPolicy::default();

    let app = open_app(dir.path()).await;
    assert_eq!(app.run_due_digests(now()).await.unwrap(), 2);
    assert_eq!(
        app.run_due_digests(later(30)).await.unwrap(),
        0,
        "slots are claimed"
    );
    assert_eq!(counts(&app).await.pending, 2);

    fake.script(&[500]);
    let first = deliver_due(&app.store, &chat, now(), &policy)
        .await
        .unwrap();
    assert_eq!(
        first,
        Delivery {
            delivered: 1,
            retrying: 1,
            parked: 0
        }
    );
    // Not due again before the backoff.
    let early = deliver_due(&app.store, &chat, later(3), &policy)
        .await
        .unwrap();
    assert_eq!(early, Delivery::default());
    let retry = deliver_due(&app.store, &chat, later(6), &policy)
        .await
        .unwrap();
    assert_eq!(retry.delivered, 1);
    assert_eq!(fake.posts().len(), 3);
    assert_eq!(fake.delivered(), 2);
    assert_eq!(
        counts(&app).await,
        OutboxCounts {
            pending: 0,
            delivered: 2,
            parked: 0
        }
    );

    // Both attempts of the retried digest carried the same idempotency nonce; the two
    // digests carried different ones.
    let nonce = |body: &[u8]| {
        let s = String::from_utf8_lossy(body);
        let i = s.find("\"nonce\":\"").expect("nonce sent");
        s[i + 9..].split('"').next().unwrap().to_string()
    };
    let nonces: Vec<String> = fake.posts().iter().map(|p| nonce(&p.1)).collect();
    assert_eq!(nonces[0], nonces[2], "{nonces:?}");
    assert_ne!(nonces[0], nonces[1], "{nonces:?}");
    // Each delivered digest carried its four PNG charts.
    for (status, body) in fake.posts() {
        let s = String::from_utf8_lossy(&body);
        assert!(s.contains("\"enforce_nonce\":true"));
        if status == 200 {
            for chart in [
                "mentions-trend.png",
                "mentions-by-platform.png",
                "complaints-vs-praise.png",
                "mentions-vs-resolved.png",
            ] {
                assert!(s.contains(&format!("filename=\"{chart}\"")), "{chart}");
            }
            let pngs = body
                .windows(8)
                .filter(|w| *w == b"\x89PNG\r\n\x1a\n")
                .count();
            assert_eq!(pngs, 4);
        }
    }

    // Restart: a new process on the same database claims nothing and sends nothing.
    app.store.close().await;
    drop(app);
    let app = open_app(dir.path()).await;
    assert_eq!(app.run_due_digests(later(60)).await.unwrap(), 0);
    let after = deliver_due(&app.store, &chat, later(3600), &policy)
        .await
        .unwrap();
    assert_eq!(after, Delivery::default());
    assert_eq!(fake.posts().len(), 3);
}

#[tokio::test]
async fn a_restart_delivers_what_was_pending() {
    let fake = start_fake().await;
    let chat = discord(&fake);
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path()).await;
    assert_eq!(app.run_due_digests(now()).await.unwrap(), 2);
    app.store.close().await;
    drop(app); // the bot stops before delivering

    let app = open_app(dir.path()).await;
    let policy = OutboxPolicy::default();
    let d = deliver_due(&app.store, &chat, later(120), &policy)
        .await
        .unwrap();
    assert_eq!(d.delivered, 2);
    let again = deliver_due(&app.store, &chat, later(240), &policy)
        .await
        .unwrap();
    assert_eq!(again, Delivery::default());
    assert_eq!(fake.posts().len(), 2);
}

#[tokio::test]
async fn rate_limits_and_timeouts_are_retried_refusals_are_parked() {
    let fake = start_fake().await;
    let chat = discord(&fake);
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path()).await;
    let policy = OutboxPolicy::default();
    assert_eq!(app.run_due_digests(now()).await.unwrap(), 2);

    fake.script(&[429, 0]);
    let d = deliver_due(&app.store, &chat, now(), &policy)
        .await
        .unwrap();
    assert_eq!(d.retrying, 2, "{d:?}");
    let d = deliver_due(&app.store, &chat, later(6), &policy)
        .await
        .unwrap();
    assert_eq!(d.delivered, 2, "{d:?}");

    // A refusal (403) is not retried: the post is parked and its job marked failed.
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path()).await;
    assert_eq!(app.run_due_digests(now()).await.unwrap(), 2);
    let before = fake.posts().len();
    fake.script(&[403, 403]);
    let d = deliver_due(&app.store, &chat, now(), &policy)
        .await
        .unwrap();
    assert_eq!(d.parked, 2, "{d:?}");
    let d = deliver_due(&app.store, &chat, later(3600), &policy)
        .await
        .unwrap();
    assert_eq!(d, Delivery::default());
    assert_eq!(fake.posts().len(), before + 2);
    assert_eq!(counts(&app).await.parked, 2);
    assert_eq!(
        app.run_due_digests(later(60)).await.unwrap(),
        0,
        "a failed slot is not claimed again"
    );
}

#[tokio::test]
async fn two_senders_on_one_database_send_each_post_once() {
    let fake = start_fake().await;
    let chat = discord(&fake);
    let dir = tempfile::tempdir().unwrap();
    let a = open_app(dir.path()).await;
    let b = open_app(dir.path()).await;
    // Both instances run the scheduler: each slot is claimed by one of them.
    let (na, nb) = tokio::join!(a.run_due_digests(now()), b.run_due_digests(now()));
    assert_eq!(na.unwrap() + nb.unwrap(), 2);
    let policy = OutboxPolicy::default();
    let (da, db) = tokio::join!(
        deliver_due(&a.store, &chat, now(), &policy),
        deliver_due(&b.store, &chat, now(), &policy)
    );
    assert_eq!(da.unwrap().delivered + db.unwrap().delivered, 2);
    assert_eq!(fake.posts().len(), 2);
}

#[test]
fn the_documented_discord_section_parses_with_every_key() {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .expect("shipped config");
    // Uncomment the example: "# key" lines become keys, "# # comment" lines stay comments.
    let mut text = String::new();
    let mut inside = false;
    for line in shipped.lines() {
        if line.starts_with("# [chat.discord]") {
            inside = true;
        } else if inside && !line.starts_with('#') {
            inside = false;
        }
        match line.strip_prefix("# ") {
            Some(rest) if inside && !rest.starts_with('#') => text.push_str(rest),
            _ => text.push_str(line),
        }
        text.push('\n');
    }
    let config = Config::parse(&text, std::path::Path::new("config.toml"), &|_| None)
        .expect("uncommented config parses");
    let d = carepulse::app::discord_config(&config).expect("[chat.discord] is valid");
    assert_eq!(d.application_id, 123456789012345678);
    assert_eq!(d.guild_id, Some(123456789012345678));
    assert_eq!(d.channel_id("care-team"), Some(123456789012345678));
    assert_eq!(d.request_timeout_secs, 15);
    assert_eq!(d.listen.port(), 8080);
    // Without the section, the error says what to add.
    let plain = Config::parse(&shipped, std::path::Path::new("config.toml"), &|_| None).unwrap();
    let err = carepulse::app::discord_config(&plain)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[chat.discord]") && err.contains("application_id"),
        "{err}"
    );
}
