//! Answers Discord interactions with the transport-neutral `CommandHandler`: slash commands
//! and button presses become an `Invocation` line, autocomplete goes to a `Suggest` callback.
//! When the handler takes longer than `defer_after` (2 s by default; Discord allows 3 s) the
//! interaction is deferred first (type 5) and the answer is edited into the original response.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    AutocompleteOption, CommandInteraction, ComponentInteraction, Interaction, InteractionId,
};
use serenity::builder::{
    Builder, CreateAutocompleteResponse, CreateInteractionResponse,
    CreateInteractionResponseMessage,
};
use serenity::http::{Http, HttpError};

use super::commands::line_from_options;
use super::{describe, render};
use crate::chat::{BoxFuture, CommandHandler, Invocation};
use crate::digest::post::Post;

/// Autocomplete: `(option name, text typed so far)` to suggestions (Discord shows 25).
pub type Suggest = Arc<dyn Fn(String, String) -> BoxFuture<'static, Vec<String>> + Send + Sync>;

/// Discord's deadline for the first answer is 3 s; answer or defer well before it.
pub const DEFAULT_DEFER_AFTER: Duration = Duration::from_secs(2);
/// How long autocomplete may take before an empty list is sent instead.
pub const SUGGEST_TIMEOUT: Duration = Duration::from_millis(2500);
/// Discord's maximum number of autocomplete choices.
pub const MAX_CHOICES: usize = 25;

/// Routes interactions to the handler and sends the answers over REST. Cheap to clone.
#[derive(Clone)]
pub struct Responder {
    http: Arc<Http>,
    handler: CommandHandler,
    suggest: Option<Suggest>,
    defer_after: Duration,
}

/// What an interaction asks of us, whichever way it came in.
enum Request {
    /// A command or a button: run the handler with this invocation.
    Answer {
        id: InteractionId,
        token: String,
        invocation: Invocation,
    },
    /// Autocomplete of one option.
    Suggest {
        id: InteractionId,
        token: String,
        option: String,
        typed: String,
    },
    /// Anything else (pings over the gateway, modals): ignored.
    Other,
}

/// The invocation line and who/where for a slash command.
pub fn command_invocation(c: &CommandInteraction) -> Invocation {
    Invocation {
        line: line_from_options(&c.data.name, &c.data.options),
        user: c.user.id.to_string(),
        channel: c.channel_id.to_string(),
    }
}

/// The invocation for a button press: `/button <custom_id>`.
pub fn component_invocation(c: &ComponentInteraction) -> Invocation {
    Invocation {
        line: format!("/button {}", c.data.custom_id),
        user: c.user.id.to_string(),
        channel: c.channel_id.to_string(),
    }
}

fn classify(interaction: &Interaction) -> Request {
    match interaction {
        Interaction::Command(c) => Request::Answer {
            id: c.id,
            token: c.token.clone(),
            invocation: command_invocation(c),
        },
        Interaction::Component(c) => Request::Answer {
            id: c.id,
            token: c.token.clone(),
            invocation: component_invocation(c),
        },
        Interaction::Autocomplete(c) => {
            let focused: Option<AutocompleteOption<'_>> = c.data.autocomplete();
            Request::Suggest {
                id: c.id,
                token: c.token.clone(),
                option: focused
                    .as_ref()
                    .map(|f| f.name.to_string())
                    .unwrap_or_default(),
                typed: focused.map(|f| f.value.to_string()).unwrap_or_default(),
            }
        }
        _ => Request::Other,
    }
}

impl Responder {
    pub fn new(http: Arc<Http>, handler: CommandHandler) -> Self {
        Responder {
            http,
            handler,
            suggest: None,
            defer_after: DEFAULT_DEFER_AFTER,
        }
    }

    /// Autocomplete suggestions for `platform`, `brand`, `product` and `explain name`.
    pub fn with_suggest(mut self, suggest: Suggest) -> Self {
        self.suggest = Some(suggest);
        self
    }

    /// How long to wait for the handler before deferring (tests shorten it).
    pub fn with_defer_after(mut self, defer_after: Duration) -> Self {
        self.defer_after = defer_after;
        self
    }

    pub fn http(&self) -> Arc<Http> {
        Arc::clone(&self.http)
    }

    async fn suggestions(&self, option: String, typed: String) -> CreateAutocompleteResponse {
        let mut found = match &self.suggest {
            Some(s) => tokio::time::timeout(SUGGEST_TIMEOUT, s(option, typed))
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        found.retain(|s| !s.is_empty());
        found.truncate(MAX_CHOICES);
        found
            .into_iter()
            .fold(CreateAutocompleteResponse::new(), |r, s| {
                let s = render::clip(&s, 100);
                r.add_string_choice(s.clone(), s)
            })
    }

    /// Edits the deferred original response with the answer. Retries briefly on 404, which
    /// Discord returns while it has not yet processed the deferral sent in an HTTP response.
    async fn edit_original(&self, token: &str, post: &Post) -> Result<(), serenity::Error> {
        let mut attempt = 0;
        loop {
            match render::interaction_edit(post)
                .execute(&*self.http, token)
                .await
            {
                Ok(_) => return Ok(()),
                Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(r)))
                    if r.status_code.as_u16() == 404 && attempt < 4 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Gateway path: answers one interaction entirely over REST (callback, then any edit).
    pub async fn handle(&self, interaction: Interaction) -> Result<(), serenity::Error> {
        match classify(&interaction) {
            Request::Answer {
                id,
                token,
                invocation,
            } => {
                let mut answer = (self.handler)(invocation);
                match tokio::time::timeout(self.defer_after, &mut answer).await {
                    Ok(post) => {
                        CreateInteractionResponse::Message(render::interaction_message(&post))
                            .execute(&*self.http, (id, &token))
                            .await
                    }
                    Err(_) => {
                        CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new())
                            .execute(&*self.http, (id, &token))
                            .await?;
                        let post = answer.await;
                        self.edit_original(&token, &post).await
                    }
                }
            }
            Request::Suggest {
                id,
                token,
                option,
                typed,
            } => {
                let choices = self.suggestions(option, typed).await;
                CreateInteractionResponse::Autocomplete(choices)
                    .execute(&*self.http, (id, &token))
                    .await
            }
            Request::Other => Ok(()),
        }
    }

    /// HTTP-endpoint path: returns the response to put in the HTTP reply. An answer with files
    /// (which a JSON reply cannot carry) or one slower than `defer_after` is deferred and
    /// edited in by a spawned task.
    pub async fn respond(&self, interaction: Interaction) -> Option<CreateInteractionResponse> {
        match classify(&interaction) {
            Request::Answer {
                token, invocation, ..
            } => {
                let mut answer = (self.handler)(invocation);
                match tokio::time::timeout(self.defer_after, &mut answer).await {
                    Ok(post) if post.attachments.is_empty() => Some(
                        CreateInteractionResponse::Message(render::interaction_message(&post)),
                    ),
                    Ok(post) => {
                        let ephemeral = post.ephemeral;
                        self.spawn_edit(token, Box::pin(async move { post }));
                        Some(CreateInteractionResponse::Defer(
                            CreateInteractionResponseMessage::new().ephemeral(ephemeral),
                        ))
                    }
                    Err(_) => {
                        self.spawn_edit(token, answer);
                        Some(CreateInteractionResponse::Defer(
                            CreateInteractionResponseMessage::new(),
                        ))
                    }
                }
            }
            Request::Suggest { option, typed, .. } => Some(
                CreateInteractionResponse::Autocomplete(self.suggestions(option, typed).await),
            ),
            Request::Other => None,
        }
    }

    fn spawn_edit(&self, token: String, answer: BoxFuture<'static, Post>) {
        let me = self.clone();
        tokio::spawn(async move {
            let post = answer.await;
            if let Err(e) = me.edit_original(&token, &post).await {
                tracing::warn!(error = %describe(&e), "editing a deferred Discord answer failed");
            }
        });
    }
}
