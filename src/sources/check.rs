//! `carepulse sources check`: build each configured source and try each of its streams once
//! (no retries, no cursor, nothing stored), then say per source what it would fetch or
//! exactly why it cannot (missing token variable, refused token, unknown account, ...).

use super::http::{self, RetryPolicy};
use super::{build_source, FetchError, Source, SourceError, SourceSpec};

/// The verdict on one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub name: String,
    pub ok: bool,
    pub message: String,
}

impl std::fmt::Display for CheckLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = if self.ok { "ok  " } else { "FAIL" };
        write!(f, "{mark} {}: {}", self.name, self.message)
    }
}

/// A source built from its spec (or why it could not be), with the token variable's name
/// kept for messages.
pub struct Prepared {
    name: String,
    token_env: String,
    source: Result<Box<dyn Source>, SourceError>,
}

fn token_env(spec: &SourceSpec) -> &str {
    match spec {
        SourceSpec::X(s) => &s.token_env,
        SourceSpec::Mastodon(s) => &s.token_env,
        SourceSpec::Bluesky(s) => &s.token_env,
        SourceSpec::Facebook(s) => &s.token_env,
    }
}

/// Build every source (reads the environment through `env`, synchronously).
pub fn prepare(specs: &[SourceSpec], env: &dyn Fn(&str) -> Option<String>) -> Vec<Prepared> {
    specs
        .iter()
        .map(|spec| Prepared {
            name: spec.name().to_string(),
            token_env: token_env(spec).to_string(),
            source: build_source(spec, env),
        })
        .collect()
}

fn explain(error: &FetchError, token_env: &str) -> String {
    match error {
        FetchError::Unauthorized { status, detail } => format!(
            "the token in {token_env} was refused (HTTP {status}: {detail}); renew it or grant the missing permission"
        ),
        FetchError::NotFound { detail } => format!(
            "unknown account or endpoint (HTTP 404: {detail}); check the account id and base_url"
        ),
        other => other.to_string(),
    }
}

/// Try one built source once.
pub async fn check_source(
    client: &reqwest::Client,
    source: &dyn Source,
    token_env: &str,
) -> CheckLine {
    let fail = |message: String| CheckLine {
        name: source.name().to_string(),
        ok: false,
        message,
    };
    let policy = RetryPolicy {
        max_attempts: 1,
        max_rate_limit_waits: 0,
        ..RetryPolicy::default()
    };
    if let Err(e) = source.prepare(client).await {
        return fail(format!("cannot log in: {}", explain(&e, token_env)));
    }
    let mut parts = Vec::new();
    for stream in source.streams() {
        let raw = match http::fetch(client, source, stream, None, None, &policy).await {
            Ok(raw) => raw,
            Err(e) => return fail(format!("{stream}: {}", explain(&e, token_env))),
        };
        match source.parse_page(stream, None, &raw) {
            Ok(page) => parts.push(format!("{stream} {}", page.messages.len())),
            Err(e) => return fail(format!("{stream}: {e}")),
        }
    }
    CheckLine {
        name: source.name().to_string(),
        ok: true,
        message: format!(
            "would fetch {} (first page: {})",
            source.describe(),
            parts.join(", ")
        ),
    }
}

/// Check every prepared source, one after the other.
pub async fn check(prepared: Vec<Prepared>) -> Vec<CheckLine> {
    let client = match http::client() {
        Ok(c) => c,
        Err(e) => {
            return prepared
                .into_iter()
                .map(|p| CheckLine {
                    name: p.name,
                    ok: false,
                    message: e.to_string(),
                })
                .collect()
        }
    };
    let mut lines = Vec::with_capacity(prepared.len());
    for p in prepared {
        lines.push(match &p.source {
            Ok(s) => check_source(&client, s.as_ref(), &p.token_env).await,
            Err(e) => CheckLine {
                name: p.name.clone(),
                ok: false,
                message: e.to_string(),
            },
        });
    }
    lines
}
