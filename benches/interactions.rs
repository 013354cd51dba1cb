//! `/kpi today` through the signed HTTP interactions endpoint on loopback, answered by the
//! real `App::answer` over a real database: p50, p99 and max of the round trip (signature
//! check, parse, KPI report, render, JSON reply). Target: p99 under 100 ms.
//!
//! Needs a database: `CAREPULSE_BENCH_DB=/tmp/bench.db`, filled for example with
//! `carepulse --db /tmp/bench.db demo --days 60`. Without it the bench says so and exits.
//! Run: `cargo bench --bench interactions`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use carepulse::app::App;
use carepulse::chat::discord::{
    build_http, interactions_router, system_clock, DiscordConfig, InteractionsState, Responder,
};
use carepulse::chat::{CommandHandler, Invocation};
use carepulse::config::Config;
use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey};
use secrecy::SecretString;
use serde_json::json;

const REQUESTS: usize = 300;

fn main() {
    let Some(db) = std::env::var_os("CAREPULSE_BENCH_DB") else {
        eprintln!("interactions bench skipped: set CAREPULSE_BENCH_DB to a database (carepulse --db /tmp/bench.db demo --days 60)");
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
            .expect("shipped config");
        let mut config = Config::parse(&text, std::path::Path::new("config.toml"), &|_| None)
            .expect("config");
        config.database = db.into();
        let app = Arc::new(App::open(config).await.expect("open the bench database"));
        // As `carepulse run` does at start and after each ingest.
        app.refresh_kpi_blocks().await;
        let (messages, _) = app.store.counts().await.expect("counts");

        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public_hex = hex::encode(key.verifying_key().to_bytes());
        let mut dc = DiscordConfig::new(4242);
        dc.api_base_url = Some("http://127.0.0.1:9".into()); // never called: answers are inline
        let http = build_http(&dc, &SecretString::from("bench".to_string())).expect("http");
        let handler_app = app.clone();
        let handler: CommandHandler = Arc::new(move |inv: Invocation| {
            let app = handler_app.clone();
            Box::pin(async move { app.answer(&inv.line, Utc::now()).await })
        });
        let state = InteractionsState::new(&public_hex, Responder::new(http, handler), system_clock())
            .expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/interactions", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, interactions_router(state)).await });

        let body = serde_json::to_vec(&json!({
            "id": "1001", "application_id": "4242", "type": 2,
            "data": { "id": "9000", "name": "kpi", "type": 1,
                      "options": [{ "name": "today", "type": 1, "options": [] }] },
            "channel_id": "99",
            "user": { "id": "777", "username": "agent", "discriminator": "0", "avatar": null },
            "token": "itok", "version": 1, "locale": "en-US", "entitlements": [],
            "attachment_size_limit": 26214400, "app_permissions": "0"
        }))
        .expect("body");
        let client = reqwest::Client::new();
        let mut times: Vec<Duration> = Vec::with_capacity(REQUESTS);
        for i in 0..REQUESTS + 10 {
            let ts = Utc::now().timestamp().to_string();
            let mut signed = ts.as_bytes().to_vec();
            signed.extend_from_slice(&body);
            let sig = hex::encode(key.sign(&signed).to_bytes());
            let start = Instant::now();
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .header("X-Signature-Ed25519", sig)
                .header("X-Signature-Timestamp", ts)
                .body(body.clone())
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200);
            let v: serde_json::Value = r.json().await.expect("json");
            assert_eq!(v["type"], 4, "answered in place: {v}");
            if i >= 10 {
                times.push(start.elapsed()); // the first 10 warm caches up
            }
        }
        times.sort();
        let pct = |p: f64| times[((p * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "/kpi today over HTTP interactions, {messages} messages, {REQUESTS} requests: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
    });
}
