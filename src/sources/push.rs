//! Inbound by push: `POST /ingest` takes messages as JSON lines (one `model::NewMessage` per
//! line, `created_at` in RFC 3339), protected by `Authorization: Bearer <token>`. Good lines are
//! stored even when others are bad; the answer says how many were stored and which lines
//! failed, by number.
//!
//! Also the Facebook Page webhook (`facebook_webhook_router`): deliveries signed with the app
//! secret (`X-Hub-Signature-256`), checked over the raw body before anything is parsed or
//! stored, and the subscription handshake. `source_routes` builds the routes a configured
//! source's `[sources.push]` asks for; the app serves them.

use std::sync::Arc;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;

use super::config::SourceSpec;
use super::facebook::{parse_webhook, FacebookContext};
use super::{Sink, SourceError};
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

/// Header carrying the Facebook webhook signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`): what Facebook sends in
/// `X-Hub-Signature-256` (also handy for tests and other senders).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is a valid `sha256=<hex>` signature of `body` with `secret` (compared in
/// constant time).
pub fn signature_ok(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(given) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|h| hex::decode(h).ok())
    else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

#[derive(Clone)]
struct WebhookState {
    sink: Arc<dyn Sink>,
    source: Arc<str>,
    ctx: Arc<FacebookContext>,
    app_secret: Arc<SecretString>,
    verify_token: Option<Arc<SecretString>>,
}

/// The Facebook Page webhook at `/` (nest it under a path): `GET` answers the subscription
/// handshake when `verify_token` is set; `POST` stores a delivery whose `X-Hub-Signature-256`
/// matches `app_secret`. A missing or wrong signature gets 401 and nothing is parsed or stored.
pub fn facebook_webhook_router(
    sink: Arc<dyn Sink>,
    source: &str,
    ctx: FacebookContext,
    app_secret: SecretString,
    verify_token: Option<SecretString>,
) -> Router {
    Router::new()
        .route("/", get(webhook_handshake).post(webhook_delivery))
        .with_state(WebhookState {
            sink,
            source: Arc::from(source),
            ctx: Arc::new(ctx),
            app_secret: Arc::new(app_secret),
            verify_token: verify_token.map(Arc::new),
        })
}

async fn webhook_handshake(
    State(st): State<WebhookState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(expected) = &st.verify_token else {
        return (
            StatusCode::NOT_FOUND,
            "no verify token configured for this webhook (set verify_token_env)",
        )
            .into_response();
    };
    let given = q.get("hub.verify_token").map(String::as_str).unwrap_or("");
    if q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes())
        && !expected.expose_secret().is_empty()
    {
        let challenge = q.get("hub.challenge").cloned().unwrap_or_default();
        return (StatusCode::OK, challenge).into_response();
    }
    tracing::warn!(source = %st.source, "webhook subscription refused: wrong verify token");
    (StatusCode::FORBIDDEN, "wrong hub.verify_token").into_response()
}

async fn webhook_delivery(
    State(st): State<WebhookState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if !signature_ok(st.app_secret.expose_secret().as_bytes(), &body, header) {
        tracing::warn!(source = %st.source, signed = header.is_some(), "webhook delivery refused: bad signature");
        let why = if header.is_none() {
            "missing X-Hub-Signature-256 header: deliveries must be signed with the app secret"
        } else {
            "X-Hub-Signature-256 does not match the body signed with the configured app secret"
        };
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({ "error": why })),
        )
            .into_response();
    }
    let messages = match parse_webhook(&st.ctx, &body) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(source = %st.source, error = %e, "webhook delivery not understood");
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
                .into_response();
        }
    };
    let received = messages.len();
    let mut reply = IngestReply {
        received,
        ..IngestReply::default()
    };
    if received > 0 {
        match st.sink.commit(&st.source, messages, None).await {
            Ok(o) => {
                reply.inserted = o.inserted;
                reply.duplicates = o.duplicates;
            }
            Err(e) => {
                tracing::error!(source = %st.source, error = %format!("{e:#}"), "storing a webhook delivery failed");
                // A 5xx makes Facebook deliver again later.
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(serde_json::json!({"error": "storing failed; retry later"})),
                )
                    .into_response();
            }
        }
    }
    (StatusCode::OK, Json(reply)).into_response()
}

/// The push routes a configured source asks for (`None` when it has no `[sources.push]`), and
/// the address to serve them on. Secrets are read through `env`.
///
/// * every kind: `POST /push/{name}/ingest` (JSON lines, bearer secret);
/// * Facebook: also `GET|POST /webhooks/{name}` (signed Page webhook).
pub fn source_routes(
    spec: &SourceSpec,
    sink: Arc<dyn Sink>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(SocketAddr, Router)>, SourceError> {
    let Some(push) = spec.push() else {
        return Ok(None);
    };
    let name = spec.name();
    let invalid = |detail: String| SourceError::Invalid {
        source_name: name.to_string(),
        detail,
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(invalid(format!(
            "name '{name}' is used in the push URL: use letters, digits, '-', '_' or '.'"
        )));
    }
    let secret = env(&push.secret_env)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| SourceError::MissingEnv {
            source_name: name.to_string(),
            var: push.secret_env.clone(),
            what: if spec.kind() == "facebook" {
                "Facebook app secret that signs webhook deliveries"
            } else {
                "push token"
            },
        })?;
    let secret = secret.trim().to_string();
    let mut router = Router::new().nest(
        &format!("/push/{name}"),
        push_router(sink.clone(), SecretString::from(secret.clone())),
    );
    if let SourceSpec::Facebook(fb) = spec {
        let verify_token = match &push.verify_token_env {
            None => None,
            Some(var) => Some(SecretString::from(
                env(var)
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| SourceError::MissingEnv {
                        source_name: name.to_string(),
                        var: var.clone(),
                        what: "webhook verify token",
                    })?
                    .trim()
                    .to_string(),
            )),
        };
        let ctx = FacebookContext {
            brand: fb.brand.clone(),
            page_id: fb.page_id.clone(),
            brand_names: fb.accounts.clone(),
        };
        router = router.nest(
            &format!("/webhooks/{name}"),
            facebook_webhook_router(sink, name, ctx, SecretString::from(secret), verify_token),
        );
    } else if push.verify_token_env.is_some() {
        return Err(invalid(
            "push.verify_token_env is for Facebook webhooks only".into(),
        ));
    }
    Ok(Some((push.listen, router)))
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
