//! Serves inbound push for the sources whose `[sources.push]` asks for it: one axum server per
//! listen address, carrying every such source's routes (`sources::push::source_routes`), with
//! pushed messages classified and stored through the app like polled ones. Stops on shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use chrono::Utc;

use crate::app::App;
use crate::model::NewMessage;
use crate::sources::sink::{CommitOutcome, Sink};
use crate::sources::BoxFuture;

/// Pushed messages go through `App::ingest` (classify, dedupe, thread, store).
struct AppSink {
    app: Arc<App>,
}

impl Sink for AppSink {
    fn commit<'a>(
        &'a self,
        source: &'a str,
        messages: Vec<NewMessage>,
        cursor: Option<String>,
    ) -> BoxFuture<'a, anyhow::Result<CommitOutcome>> {
        Box::pin(async move {
            let c = cursor.as_deref().map(|c| (source, Some(c)));
            let o = self.app.ingest(messages, c, Utc::now().timestamp()).await?;
            Ok(CommitOutcome {
                inserted: o.inserted,
                duplicates: o.duplicates,
            })
        })
    }

    fn cursor<'a>(&'a self, source: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move { Ok(self.app.store.cursor(source).await?) })
    }
}

/// The push routes of every configured source, grouped by listen address.
pub fn push_servers(
    app: Arc<App>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<BTreeMap<SocketAddr, Router>> {
    let specs = crate::app::platform_specs(&app.config)?;
    let sink: Arc<dyn Sink> = Arc::new(AppSink { app: app.clone() });
    let mut servers: BTreeMap<SocketAddr, Router> = BTreeMap::new();
    for spec in &specs {
        let Some((listen, routes)) =
            crate::sources::push::source_routes(spec, sink.clone(), env)
                .with_context(|| format!("{}: cannot serve push", app.config.path.display()))?
        else {
            continue;
        };
        let merged = match servers.remove(&listen) {
            Some(r) => r.merge(routes),
            None => routes,
        };
        servers.insert(listen, merged);
    }
    Ok(servers)
}

/// Starts the push endpoint when any configured source needs push (`None` when none does).
/// Binds every listen address before returning, so a taken port is an error here, not later.
pub async fn serve_push(
    app: Arc<App>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    serve_push_with(app, shutdown, &|k: &str| crate::config::process_env(k))
        .await
        .map(|o| o.map(|(handle, _)| handle))
}

/// `serve_push` with an injectable environment; also returns the bound addresses (a `:0` port
/// is resolved), for tests.
pub async fn serve_push_with(
    app: Arc<App>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<(tokio::task::JoinHandle<()>, Vec<SocketAddr>)>> {
    let servers = push_servers(app, env)?;
    if servers.is_empty() {
        return Ok(None);
    }
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    for (listen, router) in servers {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
            format!("cannot listen on {listen} for push: is another process using the port? Change push.listen")
        })?;
        let addr = listener.local_addr().unwrap_or(listen);
        tracing::info!(%addr, "push endpoint listening");
        bound.push(addr);
        let mut stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    while !*stop.borrow() {
                        if stop.changed().await.is_err() {
                            break;
                        }
                    }
                })
                .await;
            if let Err(e) = served {
                tracing::error!(%addr, error = %e, "push endpoint stopped");
            }
        }));
    }
    let handle = tokio::spawn(async move {
        for t in tasks {
            let _ = t.await;
        }
    });
    Ok(Some((handle, bound)))
}
