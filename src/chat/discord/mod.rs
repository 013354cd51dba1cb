//! Discord transport on serenity: posting `Post`s to channels over REST (embed, PNG/CSV
//! attachments, buttons), registering the `/kpi` command, and receiving commands either over
//! the gateway (`gateway`) or on the HTTP interactions endpoint (`endpoint`). Both ways in call
//! the one `CommandHandler` through a `Responder` (`interact`).
//!
//! The bot token is a `SecretString` resolved by the config loader from the environment
//! variable named in `token_env`; it is never logged or printed (`Debug` hides it).

pub mod commands;
pub mod endpoint;
pub mod gateway;
pub mod interact;
pub mod render;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serenity::all::{ApplicationId, ChannelId, Command, GuildId};
use serenity::builder::Builder;
use serenity::http::{Http, HttpBuilder, HttpError};

use crate::chat::{BoxFuture, Chat, ChatError, PostedRef};
use crate::digest::post::Post;

pub use endpoint::{
    interactions_router, serve_interactions, system_clock, Clock, InteractionsState,
};
pub use gateway::run_gateway;
pub use interact::{Responder, Suggest};

/// Default name of the environment variable that holds the bot token.
pub const DEFAULT_TOKEN_ENV: &str = "CAREPULSE_DISCORD_TOKEN";

/// How the bot receives slash commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    /// A websocket to Discord's gateway; needs no public URL.
    #[default]
    Gateway,
    /// Discord POSTs interactions to our `listen` address (behind a public HTTPS URL).
    Http,
}

/// `[chat.discord]` in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// Environment variable holding the bot token.
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// The application (client) id from the developer portal.
    pub application_id: u64,
    /// Register `/kpi` in this guild only (instant); otherwise globally.
    #[serde(default)]
    pub guild_id: Option<u64>,
    /// The application's public key (64 hex digits); required in `http` mode.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Another REST base URL (tests, an HTTP proxy), e.g. `http://127.0.0.1:9000`. Disables
    /// serenity's client-side rate limiter, which only talks to discord.com.
    #[serde(default)]
    pub api_base_url: Option<String>,
    #[serde(default)]
    pub mode: DiscordMode,
    /// Where the HTTP interactions endpoint listens in `http` mode.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Channel names used by digests and alerts, mapped to Discord channel ids. A channel
    /// given as a number is used as an id directly.
    #[serde(default)]
    pub channels: BTreeMap<String, u64>,
    /// Timeout for each REST request, in seconds.
    #[serde(default = "default_timeout_secs")]
    pub request_timeout_secs: u64,
}

fn default_token_env() -> String {
    DEFAULT_TOKEN_ENV.to_string()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_timeout_secs() -> u64 {
    15
}

/// What went wrong setting Discord up.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("discord config: {0}")]
    Config(String),
    #[error("the environment variable {0} with the Discord bot token is not set; set it or change discord.token_env")]
    MissingToken(String),
    #[error("registering the /kpi command failed: {0}")]
    Register(String),
    #[error("discord gateway: {0}")]
    Gateway(String),
    #[error("interactions endpoint: {0}")]
    Endpoint(String),
}

impl DiscordConfig {
    /// A config with defaults for everything but the application id.
    pub fn new(application_id: u64) -> Self {
        DiscordConfig {
            token_env: default_token_env(),
            application_id,
            guild_id: None,
            public_key: None,
            api_base_url: None,
            mode: DiscordMode::default(),
            listen: default_listen(),
            channels: BTreeMap::new(),
            request_timeout_secs: default_timeout_secs(),
        }
    }

    /// Checks what serde cannot: ids, the public key in http mode, the base URL.
    pub fn validate(&self) -> Result<(), DiscordError> {
        if self.application_id == 0 {
            return Err(DiscordError::Config(
                "application_id must be the numeric application id from the developer portal"
                    .into(),
            ));
        }
        if self.guild_id == Some(0) {
            return Err(DiscordError::Config(
                "guild_id must be a numeric guild id, or left out to register globally".into(),
            ));
        }
        if self.mode == DiscordMode::Http {
            let key = self.public_key.as_deref().unwrap_or_default();
            if key.len() != 64 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(DiscordError::Config(
                    "mode = \"http\" needs public_key: the application's 64-hex-digit public key"
                        .into(),
                ));
            }
        }
        if let Some(url) = &self.api_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(DiscordError::Config(format!(
                    "api_base_url {url:?} must start with http:// or https://"
                )));
            }
        }
        if self.request_timeout_secs == 0 {
            return Err(DiscordError::Config(
                "request_timeout_secs must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Reads the token from the environment variable named by `token_env`.
    pub fn token_from_env(&self) -> Result<SecretString, DiscordError> {
        match std::env::var(&self.token_env) {
            Ok(t) if !t.trim().is_empty() => Ok(SecretString::from(t)),
            _ => Err(DiscordError::MissingToken(self.token_env.clone())),
        }
    }

    /// The Discord channel id for a channel name from `channels`, or a numeric id as is.
    pub fn channel_id(&self, channel: &str) -> Option<u64> {
        self.channels
            .get(channel)
            .copied()
            .or_else(|| channel.trim().parse().ok())
            .filter(|id| *id != 0)
    }
}

/// Builds serenity's REST client for the config: application id set, request timeout, and
/// the fake/proxy base URL when configured (then without the client-side rate limiter).
pub fn build_http(config: &DiscordConfig, token: &SecretString) -> Result<Arc<Http>, DiscordError> {
    make_http(config, token).map(Arc::new)
}

/// Like `build_http` but owned, for serenity's gateway client.
fn make_http(config: &DiscordConfig, token: &SecretString) -> Result<Http, DiscordError> {
    config.validate()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(config.request_timeout_secs))
        .use_rustls_tls()
        .build()
        .map_err(|e| DiscordError::Config(format!("building the HTTP client: {e}")))?;
    let mut builder = HttpBuilder::new(token.expose_secret())
        .client(client)
        .application_id(ApplicationId::new(config.application_id));
    if let Some(base) = &config.api_base_url {
        builder = builder
            .proxy(base.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    Ok(builder.build())
}

/// Registers the one `/kpi` command: in `guild_id` when given, else globally. Replaces any
/// earlier set (PUT), so re-running it is harmless. Returns how many commands Discord holds.
pub async fn register_commands(http: &Http, guild_id: Option<u64>) -> Result<usize, DiscordError> {
    let command = commands::kpi_command();
    let registered = match guild_id {
        Some(g) => GuildId::new(g).set_commands(http, vec![command]).await,
        None => Command::set_global_commands(http, vec![command]).await,
    };
    registered
        .map(|c| c.len())
        .map_err(|e| DiscordError::Register(describe(&e)))
}

/// Starts receiving `/kpi` commands the configured way and runs until `shutdown` completes:
/// `gateway` mode connects to the gateway (registering `/kpi` on ready); `http` mode registers
/// `/kpi` now and serves `POST /interactions` on `listen`, together with the `extra` routes
/// (push endpoints sharing the port). Posting (`DiscordChat`) needs neither and works alongside.
pub async fn run(
    config: &DiscordConfig,
    token: &SecretString,
    handler: crate::chat::CommandHandler,
    suggest: Option<Suggest>,
    extra: Option<axum::Router>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), DiscordError> {
    let http = build_http(config, token)?;
    let mut responder = Responder::new(Arc::clone(&http), handler);
    if let Some(s) = suggest {
        responder = responder.with_suggest(s);
    }
    match config.mode {
        DiscordMode::Gateway => run_gateway(config, token, responder, shutdown).await,
        DiscordMode::Http => {
            let n = register_commands(&http, config.guild_id).await?;
            tracing::info!(commands = n, guild = ?config.guild_id, "registered /kpi");
            let key = config.public_key.as_deref().unwrap_or_default();
            let state = InteractionsState::new(key, responder, system_clock())?;
            serve_interactions(config.listen, state, extra, shutdown).await
        }
    }
}

/// A log-safe description of a serenity error (status and Discord's message, no URLs).
pub fn describe(e: &serenity::Error) -> String {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => format!(
            "HTTP {} (Discord code {}: {})",
            r.status_code.as_u16(),
            r.error.code,
            r.error.message
        ),
        serenity::Error::Http(HttpError::Request(r)) => {
            let kind = if r.is_timeout() {
                "timed out"
            } else if r.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            // The URL may hold an interaction token: say only what failed.
            match std::error::Error::source(r) {
                Some(cause) => format!("{kind}: {cause}"),
                None => kind.to_string(),
            }
        }
        other => other.to_string(),
    }
}

/// Sorts a serenity error into what the outbox should do: retry (5xx, 429, timeouts,
/// dropped connections) or give up (4xx, payloads Discord or serenity refuse).
pub fn chat_error(e: &serenity::Error) -> ChatError {
    let text = describe(e);
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let s = r.status_code.as_u16();
            if s == 429 || s >= 500 {
                ChatError::Transient(text)
            } else {
                ChatError::Permanent(text)
            }
        }
        serenity::Error::Http(HttpError::Request(_))
        | serenity::Error::Http(HttpError::RateLimitI64F64)
        | serenity::Error::Http(HttpError::RateLimitUtf8)
        | serenity::Error::Io(_) => ChatError::Transient(text),
        _ => ChatError::Permanent(text),
    }
}

/// Posts to Discord channels over REST. Cheap to clone.
#[derive(Clone)]
pub struct DiscordChat {
    http: Arc<Http>,
    config: Arc<DiscordConfig>,
}

impl std::fmt::Debug for DiscordChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordChat")
            .field("application_id", &self.config.application_id)
            .field("api_base_url", &self.config.api_base_url)
            .finish_non_exhaustive()
    }
}

impl DiscordChat {
    /// Validates the config and builds the REST client.
    pub fn new(config: &DiscordConfig, token: &SecretString) -> Result<Self, DiscordError> {
        Ok(Self::with_http(build_http(config, token)?, config))
    }

    /// Shares an existing REST client (e.g. with the `Responder`).
    pub fn with_http(http: Arc<Http>, config: &DiscordConfig) -> Self {
        DiscordChat {
            http,
            config: Arc::new(config.clone()),
        }
    }

    pub fn http(&self) -> Arc<Http> {
        Arc::clone(&self.http)
    }

    pub fn config(&self) -> &DiscordConfig {
        &self.config
    }
}

impl Chat for DiscordChat {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn post<'a>(
        &'a self,
        channel: &'a str,
        post: &'a Post,
    ) -> BoxFuture<'a, Result<PostedRef, ChatError>> {
        Box::pin(self.send(channel, post, None))
    }

    fn post_keyed<'a>(
        &'a self,
        channel: &'a str,
        post: &'a Post,
        key: &'a str,
    ) -> BoxFuture<'a, Result<PostedRef, ChatError>> {
        Box::pin(self.send(channel, post, Some(key)))
    }
}

impl DiscordChat {
    /// Sends one message; with `nonce`, Discord returns the earlier message instead of
    /// posting again when the same nonce was used in the last minutes.
    async fn send(
        &self,
        channel: &str,
        post: &Post,
        nonce: Option<&str>,
    ) -> Result<PostedRef, ChatError> {
        let Some(id) = self.config.channel_id(channel) else {
            return Err(ChatError::Permanent(format!(
                "unknown Discord channel {channel:?}: use a numeric channel id or add it under [chat.discord.channels]"
            )));
        };
        let mut message = render::message(post);
        if let Some(n) = nonce {
            let n: String = n.chars().take(25).collect();
            message = message
                .nonce(serenity::all::Nonce::String(n))
                .enforce_nonce(true);
        }
        match message
            .execute(&*self.http, (ChannelId::new(id), None))
            .await
        {
            Ok(m) => Ok(PostedRef(m.id.to_string())),
            Err(e) => Err(chat_error(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_with_defaults_and_rejects_unknown_fields() {
        let c: DiscordConfig = toml::from_str("application_id = 42\nguild_id = 7").unwrap();
        assert_eq!(c.token_env, DEFAULT_TOKEN_ENV);
        assert_eq!(c.mode, DiscordMode::Gateway);
        assert_eq!(c.guild_id, Some(7));
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<DiscordConfig>("application_id = 1\ntoken = \"x\"").is_err());
        let http: DiscordConfig = toml::from_str("application_id = 1\nmode = \"http\"").unwrap();
        assert!(http.validate().is_err(), "http mode without public key");
    }

    #[test]
    fn channels_resolve_by_name_or_number() {
        let mut c = DiscordConfig::new(1);
        c.channels.insert("care".into(), 99);
        assert_eq!(c.channel_id("care"), Some(99));
        assert_eq!(c.channel_id("1234"), Some(1234));
        assert_eq!(c.channel_id("unknown"), None);
    }

    #[test]
    fn debug_output_hides_the_token() {
        let token = SecretString::from("super-secret-token".to_string());
        let chat = DiscordChat::new(&DiscordConfig::new(1), &token).unwrap();
        assert!(!format!("{chat:?}").contains("super-secret"));
        assert!(!format!("{token:?}").contains("super-secret"));
    }
}
