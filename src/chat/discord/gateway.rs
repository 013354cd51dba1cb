//! The gateway way in: a serenity client (sharing our REST client) whose event handler
//! registers `/kpi` when ready and passes every interaction to the `Responder`.

use std::future::Future;
use std::sync::Arc;

use secrecy::SecretString;
use serenity::all::{Context, EventHandler, GatewayIntents, Interaction, Ready};

use super::interact::Responder;
use super::{describe, make_http, register_commands, DiscordConfig, DiscordError};

struct Handler {
    responder: Responder,
    guild_id: Option<u64>,
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "connected to the Discord gateway");
        match register_commands(&ctx.http, self.guild_id).await {
            Ok(n) => tracing::info!(commands = n, guild = ?self.guild_id, "registered /kpi"),
            Err(e) => tracing::error!(error = %e, "could not register /kpi"),
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let responder = self.responder.clone();
        // Each interaction runs on its own task so a slow answer never holds up the shard.
        tokio::spawn(async move {
            if let Err(e) = responder.handle(interaction).await {
                tracing::warn!(error = %describe(&e), "answering a Discord interaction failed");
            }
        });
    }
}

/// Connects to the gateway (through `api_base_url` when set, for `GET /gateway/bot` too),
/// registers `/kpi` on ready (in `guild_id` or globally), and answers interactions with
/// `responder` until `shutdown` completes or the connection fails for good.
pub async fn run_gateway(
    config: &DiscordConfig,
    token: &SecretString,
    responder: Responder,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DiscordError> {
    let http = make_http(config, token)?;
    // Interactions arrive without any privileged or unprivileged intent.
    let mut client = serenity::client::ClientBuilder::new_with_http(http, GatewayIntents::empty())
        .event_handler(Handler {
            responder,
            guild_id: config.guild_id,
        })
        .await
        .map_err(|e| DiscordError::Gateway(describe(&e)))?;
    let shards = Arc::clone(&client.shard_manager);
    tokio::spawn(async move {
        shutdown.await;
        shards.shutdown_all().await;
    });
    client
        .start()
        .await
        .map_err(|e| DiscordError::Gateway(describe(&e)))
}
