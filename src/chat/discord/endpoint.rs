//! Discord's HTTP interactions endpoint: `POST /interactions`, Ed25519-verified with the
//! application's public key (headers `X-Signature-Ed25519`, `X-Signature-Timestamp`). PING is
//! answered with PONG; commands, buttons and autocomplete go to the `Responder`. Unsigned,
//! badly signed, tampered or stale requests (timestamp more than 5 minutes from the clock) get
//! 401 and touch nothing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serenity::all::Interaction;
use serenity::interactions_endpoint::Verifier;

use super::interact::Responder;
use super::DiscordError;

/// Current Unix time in seconds. A parameter so tests can fix it.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Requests signed further than this from the clock, either way, are refused.
pub const MAX_SKEW_SECS: i64 = 300;

/// The system clock, for production.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

/// Everything the endpoint needs. Cheap to clone.
#[derive(Clone)]
pub struct InteractionsState {
    verifier: Verifier,
    responder: Responder,
    clock: Clock,
}

impl InteractionsState {
    /// `public_key_hex`: the application's public key (64 hex digits).
    pub fn new(
        public_key_hex: &str,
        responder: Responder,
        clock: Clock,
    ) -> Result<Self, DiscordError> {
        let bytes = hex::decode(public_key_hex.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                DiscordError::Config(
                    "public_key must be the application's 64-hex-digit public key".into(),
                )
            })?;
        let verifier = Verifier::try_new(bytes)
            .map_err(|e| DiscordError::Config(format!("public_key is not usable: {e}")))?;
        Ok(InteractionsState {
            verifier,
            responder,
            clock,
        })
    }

    /// Whether the request is authentic and fresh.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(signature), Some(timestamp)) = (
            header("x-signature-ed25519"),
            header("x-signature-timestamp"),
        ) else {
            return false;
        };
        let Ok(signed_at) = timestamp.trim().parse::<i64>() else {
            return false;
        };
        if ((self.clock)() - signed_at).abs() > MAX_SKEW_SECS {
            return false;
        }
        self.verifier.verify(signature, timestamp, body).is_ok()
    }
}

/// The router: `POST /interactions`.
pub fn interactions_router(state: InteractionsState) -> Router {
    Router::new()
        .route("/interactions", post(interactions))
        .with_state(state)
}

/// Serves the endpoint on `listen`, with the `extra` routes merged in (push endpoints sharing
/// the port), until `shutdown` completes.
pub async fn serve_interactions(
    listen: SocketAddr,
    state: InteractionsState,
    extra: Option<Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DiscordError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| DiscordError::Endpoint(format!("cannot listen on {listen}: {e}")))?;
    tracing::info!(%listen, "Discord interactions endpoint listening at POST /interactions");
    let mut router = interactions_router(state);
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| DiscordError::Endpoint(e.to_string()))
}

async fn interactions(
    State(state): State<InteractionsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.verify(&headers, &body) {
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON").into_response();
    };
    if value.get("type").and_then(serde_json::Value::as_u64) == Some(1) {
        return Json(serde_json::json!({ "type": 1 })).into_response();
    }
    let interaction: Interaction = match serde_json::from_value(value) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Discord interaction");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    match state.responder.respond(interaction).await {
        Some(response) => Json(response).into_response(),
        None => (StatusCode::BAD_REQUEST, "unsupported interaction type").into_response(),
    }
}
