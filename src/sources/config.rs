//! Configuration of platform sources (`[[sources]]` entries of `config.toml`, tagged by
//! `kind`), and `build_source`, which resolves the token from the environment through a
//! caller-supplied lookup and builds the platform's `Source`.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Url;
use secrecy::SecretString;
use serde::Deserialize;

use super::{bluesky, facebook, mastodon, x, PollSettings, Source, SourceError};

fn default_interval() -> u64 {
    120
}
fn default_timeout() -> u64 {
    20
}
fn default_max_pages() -> u32 {
    20
}
fn default_max_rate_wait() -> u64 {
    900
}
fn default_true() -> bool {
    true
}
fn default_fb_version() -> String {
    "v21.0".into()
}
fn default_usage_threshold() -> u8 {
    75
}
fn default_lookback_days() -> u32 {
    7
}

fn default_push_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8090))
}

/// `[sources.push]`: inbound by push for one source, protected by a secret from the
/// environment.
///
/// * Facebook sources serve the Page webhook at `/webhooks/{name}`: deliveries must carry
///   `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body with the app secret>`, and the
///   subscription handshake (`GET` with `hub.verify_token`) is answered when
///   `verify_token_env` is set.
/// * Every kind serves `POST /push/{name}/ingest`: carepulse JSON lines with
///   `Authorization: Bearer <secret>`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSpec {
    /// Address to listen on (default 127.0.0.1:8090). Put it behind a public HTTPS proxy for
    /// platform webhooks. Sources may share an address; each has its own paths.
    #[serde(default = "default_push_listen")]
    pub listen: SocketAddr,
    /// Environment variable holding the secret: the Facebook app secret that signs webhook
    /// deliveries, and the bearer token of `POST /push/{name}/ingest`.
    pub secret_env: String,
    /// Facebook only: environment variable holding the verify token of the webhook
    /// subscription handshake.
    #[serde(default)]
    pub verify_token_env: Option<String>,
}

macro_rules! spec_struct {
    ($(#[$sm:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$sm])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Unique name of this source, used in logs and cursor keys (e.g. `x-acme`).
            pub name: String,
            /// Brand the messages of this source belong to (`NewMessage::brand`).
            pub brand: String,
            /// Further brand account handles: their posts count as outbound (the brand's
            /// replies), like the main account's. Compared case-insensitively, `@` optional.
            #[serde(default)]
            pub accounts: Vec<String>,
            /// Name of the environment variable that holds the token (for Bluesky: the app
            /// password). The token itself never appears in the configuration or in logs.
            pub token_env: String,
            /// API base URL; defaults to the platform's public endpoint. Set it for
            /// self-hosted instances and tests.
            #[serde(default)]
            pub base_url: Option<String>,
            /// Seconds between two polls (default 120).
            #[serde(default = "default_interval")]
            pub poll_interval_secs: u64,
            /// Timeout of one HTTP request in seconds (default 20).
            #[serde(default = "default_timeout")]
            pub timeout_secs: u64,
            /// Pages fetched per stream and poll at most (default 20).
            #[serde(default = "default_max_pages")]
            pub max_pages: u32,
            /// Items per page asked for (platform default when unset; clamped to its range).
            #[serde(default)]
            pub page_size: Option<u32>,
            /// Longest wait for a rate-limit reset in seconds before giving up the poll until
            /// the next interval (default 900).
            #[serde(default = "default_max_rate_wait")]
            pub max_rate_wait_secs: u64,
            /// Also accept this source's messages by push (`[sources.push]`): the app then
            /// serves HTTP on `push.listen` (see `sources::push`).
            #[serde(default)]
            pub push: Option<PushSpec>,
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $name {
            pub(crate) fn settings(&self) -> PollSettings {
                PollSettings {
                    interval: Duration::from_secs(self.poll_interval_secs.max(1)),
                    timeout: Duration::from_secs(self.timeout_secs.max(1)),
                    max_pages: self.max_pages.max(1),
                    max_rate_wait: Duration::from_secs(self.max_rate_wait_secs),
                }
            }
        }
    };
}

spec_struct! {
    /// X (Twitter) API v2: mentions of the brand account and its own tweets (replies).
    XSpec {
        /// Numeric user id of the brand account whose mentions are read.
        user_id: String,
        /// Username of that account (without `@`), for links and direction.
        handle: String,
        /// Also read the account's own tweets (`GET /2/users/:id/tweets`), i.e. its replies
        /// (default true).
        #[serde(default = "default_true")]
        include_own: bool,
    }
}

spec_struct! {
    /// Mastodon: mention notifications of the brand account and its own statuses.
    MastodonSpec {
        /// Account id (on the instance) of the brand account.
        account_id: String,
        /// Its `acct` (`brand` on its own instance), for direction.
        handle: String,
        /// Also read the account's own statuses (default true).
        #[serde(default = "default_true")]
        include_own: bool,
    }
}

spec_struct! {
    /// Bluesky: mention, reply and quote notifications, and the brand's own posts.
    BlueskySpec {
        /// Handle or DID to log in with (an app password in `token_env`).
        identifier: String,
        /// Also read the account's own posts (`app.bsky.feed.getAuthorFeed`) (default true).
        #[serde(default = "default_true")]
        include_own: bool,
    }
}

spec_struct! {
    /// Facebook Page: comments on the Page's feed and Messenger conversations, with a Page
    /// access token.
    FacebookSpec {
        /// Numeric id of the Page.
        page_id: String,
        /// Graph API version path segment (default `v21.0`).
        #[serde(default = "default_fb_version")]
        api_version: String,
        /// Also read Messenger conversations (needs `pages_messaging`) (default true).
        #[serde(default = "default_true")]
        messenger: bool,
        /// Pause when any `X-Business-Use-Case-Usage` figure reaches this percentage
        /// (default 75).
        #[serde(default = "default_usage_threshold")]
        usage_threshold_percent: u8,
        /// On the first poll, read posts of the last this many days (default 7).
        #[serde(default = "default_lookback_days")]
        lookback_days: u32,
    }
}

/// One `[[sources]]` entry, tagged by `kind = "x" | "mastodon" | "bluesky" | "facebook"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SourceSpec {
    X(XSpec),
    Mastodon(MastodonSpec),
    Bluesky(BlueskySpec),
    Facebook(FacebookSpec),
}

impl SourceSpec {
    pub fn name(&self) -> &str {
        match self {
            SourceSpec::X(s) => &s.name,
            SourceSpec::Mastodon(s) => &s.name,
            SourceSpec::Bluesky(s) => &s.name,
            SourceSpec::Facebook(s) => &s.name,
        }
    }

    /// The push settings of this source, if it accepts pushed messages.
    pub fn push(&self) -> Option<&PushSpec> {
        match self {
            SourceSpec::X(s) => s.push.as_ref(),
            SourceSpec::Mastodon(s) => s.push.as_ref(),
            SourceSpec::Bluesky(s) => s.push.as_ref(),
            SourceSpec::Facebook(s) => s.push.as_ref(),
        }
    }

    /// The brand of this source.
    pub fn brand(&self) -> &str {
        match self {
            SourceSpec::X(s) => &s.brand,
            SourceSpec::Mastodon(s) => &s.brand,
            SourceSpec::Bluesky(s) => &s.brand,
            SourceSpec::Facebook(s) => &s.brand,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::X(_) => "x",
            SourceSpec::Mastodon(_) => "mastodon",
            SourceSpec::Bluesky(_) => "bluesky",
            SourceSpec::Facebook(_) => "facebook",
        }
    }
}

/// Fields every platform needs, checked and resolved.
pub(crate) struct Resolved {
    pub name: String,
    pub brand: String,
    pub accounts: Vec<String>,
    pub token: SecretString,
    pub base: Url,
    pub settings: PollSettings,
    pub page_size: Option<u32>,
}

#[allow(clippy::too_many_arguments)]
fn resolve(
    name: &str,
    brand: &str,
    accounts: &[String],
    token_env: &str,
    base_url: Option<&str>,
    default_base: &str,
    what: &'static str,
    settings: PollSettings,
    page_size: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, SourceError> {
    let invalid = |detail: String| SourceError::Invalid {
        source_name: name.to_string(),
        detail,
    };
    if name.trim().is_empty() {
        return Err(invalid("name must not be empty".into()));
    }
    if brand.trim().is_empty() {
        return Err(invalid("brand must not be empty".into()));
    }
    let token = env(token_env)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| SourceError::MissingEnv {
            source_name: name.to_string(),
            var: token_env.to_string(),
            what,
        })?;
    let raw = base_url.unwrap_or(default_base);
    let mut base =
        Url::parse(raw).map_err(|e| invalid(format!("base_url '{raw}' is not a URL ({e})")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(invalid(format!("base_url '{raw}' must be http or https")));
    }
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    Ok(Resolved {
        name: name.to_string(),
        brand: brand.to_string(),
        accounts: accounts.to_vec(),
        token: SecretString::from(token.trim().to_string()),
        base,
        settings,
        page_size,
    })
}

/// Build the source a spec describes, reading its token through `env` (for example
/// `&|k| std::env::var(k).ok()`).
pub fn build_source(
    spec: &SourceSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn Source>, SourceError> {
    match spec {
        SourceSpec::X(s) => {
            let r = resolve(
                &s.name,
                &s.brand,
                &s.accounts,
                &s.token_env,
                s.base_url.as_deref(),
                "https://api.x.com/",
                "X API bearer token",
                s.settings(),
                s.page_size,
                env,
            )?;
            Ok(Box::new(x::XSource::new(r, s)?))
        }
        SourceSpec::Mastodon(s) => {
            let Some(base) = s.base_url.as_deref() else {
                return Err(SourceError::Invalid {
                    source_name: s.name.clone(),
                    detail: "base_url (the instance, e.g. https://mastodon.social) is required"
                        .into(),
                });
            };
            let r = resolve(
                &s.name,
                &s.brand,
                &s.accounts,
                &s.token_env,
                Some(base),
                base,
                "Mastodon access token (read:notifications, read:statuses)",
                s.settings(),
                s.page_size,
                env,
            )?;
            Ok(Box::new(mastodon::MastodonSource::new(r, s)?))
        }
        SourceSpec::Bluesky(s) => {
            let r = resolve(
                &s.name,
                &s.brand,
                &s.accounts,
                &s.token_env,
                s.base_url.as_deref(),
                "https://bsky.social/",
                "Bluesky app password",
                s.settings(),
                s.page_size,
                env,
            )?;
            Ok(Box::new(bluesky::BlueskySource::new(r, s)?))
        }
        SourceSpec::Facebook(s) => {
            let r = resolve(
                &s.name,
                &s.brand,
                &s.accounts,
                &s.token_env,
                s.base_url.as_deref(),
                "https://graph.facebook.com/",
                "Facebook Page access token",
                s.settings(),
                s.page_size,
                env,
            )?;
            Ok(Box::new(facebook::FacebookSource::new(r, s)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        sources: Vec<SourceSpec>,
    }

    const SAMPLE: &str = r#"
[[sources]]
kind = "x"
name = "x-acme"
brand = "acme"
token_env = "ACME_X_TOKEN"
user_id = "783214"
handle = "AcmeCare"

[[sources]]
kind = "mastodon"
name = "masto-acme"
brand = "acme"
token_env = "ACME_MASTO"
base_url = "https://mastodon.example"
account_id = "1"
handle = "acme"
poll_interval_secs = 60

[[sources]]
kind = "bluesky"
name = "bsky-acme"
brand = "acme"
token_env = "ACME_BSKY"
identifier = "acme.bsky.social"

[[sources]]
kind = "facebook"
name = "fb-acme"
brand = "acme"
token_env = "ACME_FB"
page_id = "1234"
messenger = false
"#;

    #[test]
    fn sample_parses_with_defaults() {
        let f: File = toml::from_str(SAMPLE).unwrap();
        assert_eq!(f.sources.len(), 4);
        let SourceSpec::X(x) = &f.sources[0] else {
            panic!("not x")
        };
        assert_eq!(x.poll_interval_secs, 120);
        assert!(x.include_own);
        let SourceSpec::Mastodon(m) = &f.sources[1] else {
            panic!("not mastodon")
        };
        assert_eq!(m.poll_interval_secs, 60);
        let SourceSpec::Facebook(fb) = &f.sources[3] else {
            panic!("not fb")
        };
        assert_eq!(fb.api_version, "v21.0");
        assert!(!fb.messenger);
        assert_eq!(f.sources[2].kind(), "bluesky");
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let bad = SAMPLE.replace(
            "handle = \"AcmeCare\"",
            "handle = \"AcmeCare\"\ntoken = \"oops\"",
        );
        let err = toml::from_str::<File>(&bad)
            .err()
            .expect("unknown field accepted");
        assert!(err.to_string().contains("token"), "{err}");
        let bad = SAMPLE.replace("kind = \"x\"", "kind = \"myspace\"");
        assert!(toml::from_str::<File>(&bad).is_err());
    }

    #[test]
    fn build_names_missing_env_var_and_checks_base_url() {
        let f: File = toml::from_str(SAMPLE).unwrap();
        let none = |_: &str| None;
        for spec in &f.sources {
            let err = build_source(spec, &none)
                .err()
                .expect("built without token");
            let text = err.to_string();
            assert!(
                text.contains(spec.name()) && text.contains("is not set"),
                "{text}"
            );
        }
        let env = |k: &str| (k == "ACME_X_TOKEN").then(|| "secret-token".to_string());
        let src = build_source(&f.sources[0], &env).unwrap();
        assert_eq!(src.name(), "x-acme");
        assert!(!src.describe().contains("secret-token"));
        let SourceSpec::X(mut x) = f.sources[0].clone() else {
            panic!("not x")
        };
        x.base_url = Some("not a url".into());
        let err = build_source(&SourceSpec::X(x), &env).err().unwrap();
        assert!(err.to_string().contains("base_url"), "{err}");
    }
}
