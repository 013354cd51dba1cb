//! Inbound by push: `POST /ingest` takes messages as JSON lines (one `model::NewMessage` per
//! line, `created_at` in RFC 3339), protected by `Authorization: Bearer <token>`. Good lines are
//! stored even when others are bad; the answer says how many were stored and which lines
//! failed, by number.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::Sink;
use crate::model::NewMessage;

/// Cursor key the push endpoint commits under (it never sets a cursor).
pub const PUSH_SOURCE: &str = "push";

#[derive(Clone)]
struct PushState {
    sink: Arc<dyn Sink>,
    token: Arc<SecretString>,
}

/// One rejected line.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct LineError {
    /// 1-based line number in the request body.
    pub line: usize,
    pub error: String,
}

/// The JSON answer of `POST /ingest`.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Default)]
pub struct IngestReply {
    pub received: usize,
    pub inserted: usize,
    pub duplicates: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<LineError>,
}

/// The push router: `POST /ingest`. Mount it where the app serves HTTP.
pub fn push_router(sink: Arc<dyn Sink>, token: SecretString) -> Router {
    Router::new()
        .route("/ingest", post(ingest))
        .with_state(PushState {
            sink,
            token: Arc::new(token),
        })
}

/// Compare in time independent of where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn authorized(headers: &HeaderMap, token: &SecretString) -> bool {
    let expected = token.expose_secret();
    if expected.is_empty() {
        return false;
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), expected.as_bytes()))
}

async fn ingest(State(st): State<PushState>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&headers, &st.token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({"error": "missing or wrong bearer token"})),
        )
            .into_response();
    }
    let mut reply = IngestReply::default();
    let mut good = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        reply.received += 1;
        match serde_json::from_str::<NewMessage>(line) {
            Ok(m) if m.external_id.trim().is_empty() => reply.errors.push(LineError {
                line: i + 1,
                error: "external_id must not be empty".into(),
            }),
            Ok(m) => good.push(m),
            Err(e) => reply.errors.push(LineError {
                line: i + 1,
                error: e.to_string(),
            }),
        }
    }
    if !good.is_empty() {
        match st.sink.commit(PUSH_SOURCE, good, None).await {
            Ok(o) => {
                reply.inserted = o.inserted;
                reply.duplicates = o.duplicates;
            }
            Err(e) => {
                tracing::error!(source = PUSH_SOURCE, error = %format!("{e:#}"), "storing pushed messages failed");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(serde_json::json!({"error": "storing failed; retry later"})),
                )
                    .into_response();
            }
        }
    }
    let status = if reply.errors.is_empty() {
        StatusCode::OK
    } else {
        tracing::warn!(
            source = PUSH_SOURCE,
            bad_lines = reply.errors.len(),
            "pushed lines rejected"
        );
        StatusCode::BAD_REQUEST
    };
    (status, Json(reply)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::MemorySink;

    async fn serve(sink: Arc<MemorySink>) -> String {
        let app = push_router(sink, SecretString::from("s3cret".to_string()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/ingest")
    }

    const GOOD: &str = r#"{"platform":"x","external_id":"1","brand":"acme","author":"dana","direction":"inbound","created_at":"2024-05-02T10:00:00Z","text":"help"}"#;
    const GOOD2: &str = r#"{"platform":"mastodon","external_id":"2","brand":"acme","author":"acme","direction":"outbound","created_at":"2024-05-02T10:05:00+02:00","text":"on it","reply_to":"1"}"#;

    #[tokio::test]
    async fn token_lines_and_counts() {
        let sink = Arc::new(MemorySink::new());
        let url = serve(sink.clone()).await;
        let c = reqwest::Client::new();
        let r = c.post(&url).body(GOOD).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c
            .post(&url)
            .bearer_auth("wrong")
            .body(GOOD)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(sink.messages().is_empty());

        let body = format!("{GOOD}\n\n{GOOD2}\n");
        let r = c
            .post(&url)
            .bearer_auth("s3cret")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let reply: IngestReply = r.json().await.unwrap();
        assert_eq!(
            reply,
            IngestReply {
                received: 2,
                inserted: 2,
                duplicates: 0,
                errors: vec![]
            }
        );

        let body = format!(
            "{GOOD}\nnot json\n{}\n",
            GOOD2.replace("2024-05-02T10:05:00+02:00", "yesterday")
        );
        let r = c
            .post(&url)
            .bearer_auth("s3cret")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let reply: IngestReply = r.json().await.unwrap();
        assert_eq!(reply.received, 3);
        assert_eq!(reply.duplicates, 1);
        assert_eq!(
            reply.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            [2, 3]
        );

        let good_line3 = r#"{"platform":"bluesky","external_id":"at://x/app.bsky.feed.post/1","brand":"acme","author":"e","direction":"inbound","created_at":"2024-05-02T11:00:00Z","text":"hi"}"#;
        let body = format!("{{\"platform\":\"myspace\"}}\n{good_line3}");
        let r = c
            .post(&url)
            .bearer_auth("s3cret")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let reply: IngestReply = r.json().await.unwrap();
        assert_eq!(
            (reply.inserted, reply.errors.len(), reply.errors[0].line),
            (1, 1, 1)
        );
        let stored = sink.messages();
        assert_eq!(stored.len(), 3);
        assert_eq!(stored[1].reply_to.as_deref(), Some("1"));
        assert_eq!(
            stored[1].created_at.to_rfc3339(),
            "2024-05-02T08:05:00+00:00"
        );
    }
}
