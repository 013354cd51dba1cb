//! Chat transports. The `Chat` trait posts a chat-neutral `Post` to a channel; each transport
//! (console, Discord, later Slack) turns it into its platform's form. Incoming commands from
//! any transport go to one `CommandHandler`, which calls `commands::parse` and `commands::answer`.

pub mod discord;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub mod console;

use crate::digest::post::Post;

/// Where a post landed, as the platform names it (message id), for logs and edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedRef(pub String);

/// Why a post failed, split by what the outbox should do about it.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Worth retrying later: 5xx, 429, a timeout, a dropped connection.
    #[error("temporary chat failure: {0}")]
    Transient(String),
    /// Retrying will not help: bad token, unknown channel, rejected payload.
    #[error("chat refused the post: {0}")]
    Permanent(String),
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A chat transport that can post to named channels.
pub trait Chat: Send + Sync {
    /// Short name for logs: "console", "discord".
    fn name(&self) -> &'static str;
    fn post<'a>(
        &'a self,
        channel: &'a str,
        post: &'a Post,
    ) -> BoxFuture<'a, Result<PostedRef, ChatError>>;

    /// Posts with an idempotency key (at most 25 characters) that the platform may use to
    /// drop a repeat of the same post (Discord's enforced nonce), so a retry after an
    /// unknown outcome does not post twice. Transports without such a key just post.
    fn post_keyed<'a>(
        &'a self,
        channel: &'a str,
        post: &'a Post,
        key: &'a str,
    ) -> BoxFuture<'a, Result<PostedRef, ChatError>> {
        let _ = key;
        self.post(channel, post)
    }
}

/// Who typed a command, where.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// The command line as typed, e.g. `/kpi today platform:x`.
    pub line: String,
    pub user: String,
    pub channel: String,
}

/// Answers commands. Every transport holds one and calls it for each command it receives.
pub type CommandHandler = Arc<dyn Fn(Invocation) -> BoxFuture<'static, Post> + Send + Sync>;
