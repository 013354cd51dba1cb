//! Serves inbound push for the sources whose `[sources.push]` asks for it: one axum server per
//! listen address, carrying every such source's routes (`sources::push::source_routes`), with
//! pushed messages classified and stored through the app like polled ones. Stops on shutdown.
//! The routes of an address the Discord interactions endpoint already listens on are not bound
//! here but handed back, to be merged into that server (one port, one axum server).

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

/// What `serve_push_sharing` started.
#[derive(Default)]
pub struct PushServing {
    /// The servers it bound (`None` when it bound none); ends after shutdown.
    pub handle: Option<tokio::task::JoinHandle<()>>,
    /// The addresses bound (a `:0` port resolved).
    pub bound: Vec<SocketAddr>,
    /// The routes for the shared address, to merge into the server already listening there.
    pub shared: Option<Router>,
}

/// Starts the push endpoint when any configured source needs push. Push routes whose listen
/// address is `shared` (the Discord interactions endpoint's) are returned instead of bound,
/// to be merged into that server. Binds every other listen address before returning, so a
/// taken port is an error here, not later.
pub async fn serve_push(
    app: Arc<App>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    shared: Option<SocketAddr>,
) -> anyhow::Result<PushServing> {
    serve_push_sharing(
        app,
        shutdown,
        &|k: &str| crate::config::process_env(k),
        shared,
    )
    .await
}

/// `serve_push` with an injectable environment and no shared address; also returns the bound
/// addresses, for tests. `None` when no source needs push.
pub async fn serve_push_with(
    app: Arc<App>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<(tokio::task::JoinHandle<()>, Vec<SocketAddr>)>> {
    let s = serve_push_sharing(app, shutdown, env, None).await?;
    Ok(s.handle.map(|h| (h, s.bound)))
}

/// `serve_push` with an injectable environment.
pub async fn serve_push_sharing(
    app: Arc<App>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    env: &dyn Fn(&str) -> Option<String>,
    shared: Option<SocketAddr>,
) -> anyhow::Result<PushServing> {
    let mut servers = push_servers(app, env)?;
    let mut serving = PushServing {
        shared: shared.and_then(|a| servers.remove(&a)),
        ..PushServing::default()
    };
    if let Some(addr) = shared.filter(|_| serving.shared.is_some()) {
        tracing::info!(%addr, "push endpoint served by the Discord interactions server");
    }
    if servers.is_empty() {
        return Ok(serving);
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
    serving.handle = Some(tokio::spawn(async move {
        for t in tasks {
            let _ = t.await;
        }
    }));
    serving.bound = bound;
    Ok(serving)
}
