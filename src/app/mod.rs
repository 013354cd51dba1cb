//! Builds everything from `Config` and runs it: the store, the classifier, sources (the demo
//! simulator), the digest scheduler, the command handler and the chat, with graceful
//! shutdown. The only module that composes I/O pieces; it also reads the clock.

pub mod alerts;
pub mod push;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};

use crate::chat::console::{command_loop, ConsoleChat};
use crate::chat::discord::{DiscordChat, DiscordConfig, Suggest};
use crate::chat::{Chat, CommandHandler, Invocation};
use crate::classify::{Classifier, KeywordRule as RuleKeyword, Rules};
use crate::commands::Filters;
use crate::config::{ChatKind, Config, DigestWindow, SourceSpec};
use crate::digest::post::Post;
use crate::ingest::{Ingestor, Labeler};
use crate::kpi::full::{full_report, FullReport};
use crate::kpi::inputs::KpiRules;
use crate::kpi::report::DayPoint;
use crate::kpi::window::{self, WindowSpec};
use crate::model::{Classification, NewMessage, ReportQuery};
use crate::sources::demo::DemoGenerator;
use crate::store::{IngestOutcome, Store};

pub mod chat;
pub mod outbox;

/// Memory of the long-running bot: glibc's allocator keeps what was freed after the start-up
/// peak (the demo catch-up, the alert warm-up, the catch-up digests with their charts) in its
/// per-thread arenas, so an idle bot would hold three times its live data. The bot caps the
/// arenas and hands freed pages back to the OS after each busy spell.
pub mod memory {
    use std::time::Duration;

    /// How often the bot returns freed heap pages to the OS.
    pub const TRIM_EVERY: Duration = Duration::from_secs(30);

    /// Worker threads of the bot's runtime: the bot waits on chat, sources and SQLite (which
    /// has threads of its own); two workers keep it responsive on any machine.
    pub const BOT_WORKER_THREADS: usize = 2;

    /// Most threads for blocking work (stdin, file writes) in the bot's runtime.
    pub const BOT_MAX_BLOCKING_THREADS: usize = 8;

    /// Malloc arenas of the bot (glibc makes up to 8 per core, each keeping its own free
    /// memory; the bot's few threads share two with no measurable contention).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    const BOT_ARENAS: libc::c_int = 2;

    /// Sets the allocator up for a long-running bot. Call before the runtime starts threads.
    pub fn tune_for_bot() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes allocator parameters; it is called before other threads
        // exist and has no memory-safety preconditions.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, BOT_ARENAS);
        }
    }

    /// Returns the allocator's free pages to the OS (glibc's `malloc_trim`); a no-op elsewhere.
    pub fn release_free_memory() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim is thread-safe (it takes each arena's lock) and only releases
        // pages that hold no live allocation.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Releases free memory every `TRIM_EVERY` until shutdown, so what a digest, an alert
    /// check or a command freed does not stay in the process.
    pub async fn trim_loop(mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(TRIM_EVERY) => release_free_memory(),
                _ = shutdown.changed() => return,
            }
        }
    }
}

impl Labeler for Classifier {
    fn label(&self, text: &str) -> Classification {
        self.classify(text)
    }
    fn label_many(&self, texts: &[&str]) -> Vec<Classification> {
        self.classify_many(texts)
    }
    fn version(&self) -> &str {
        Classifier::version(self)
    }
}

/// Classification rules from config.
pub fn classify_rules(config: &Config) -> Rules {
    let conv = |rules: &[crate::config::KeywordRule]| {
        rules
            .iter()
            .map(|r| RuleKeyword {
                name: r.name.clone(),
                keywords: r.keywords.clone(),
            })
            .collect()
    };
    Rules {
        products: conv(&config.products),
        topics: conv(&config.topics),
    }
}

/// Messages per store transaction when back-filling (a source's catch-up, relabelling).
pub const BATCH: usize = 5000;

/// Messages threaded and stored together by a file import (`--batch-rows`).
pub const IMPORT_BATCH: usize = 20_000;

/// Messages per store transaction of a file import (batches of `IMPORT_BATCH` share it; the facts
/// of conversations continued across batches are recomputed once at the end).
pub const IMPORT_COMMIT_ROWS: usize = 50_000;

/// The running pieces.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub ingestor: Ingestor,
}

impl App {
    /// Opens the store and builds the classifier.
    pub async fn open(config: Config) -> anyhow::Result<App> {
        let store = Store::open(&config.database).await?;
        let classifier = Classifier::new(&classify_rules(&config))
            .context("cannot build the classifier from [[products]] and [[topics]]")?;
        let ingestor = Ingestor::from_config(&config, Arc::new(classifier))?;
        // Conversations an interrupted import left without current facts are finished before
        // anything reads them.
        store.finish_pending(&ingestor.rules).await?;
        Ok(App {
            config,
            store,
            ingestor,
        })
    }

    /// Classifies and stores messages in batches; `cursor` is saved with the last batch.
    pub async fn ingest(
        &self,
        messages: Vec<NewMessage>,
        cursor: Option<(&str, Option<&str>)>,
        now: i64,
    ) -> anyhow::Result<IngestOutcome> {
        let mut total = IngestOutcome::default();
        let mut rest = messages;
        loop {
            let tail = rest.split_off(rest.len().min(BATCH));
            let last = tail.is_empty();
            let prepared = self
                .ingestor
                .prepare_all(std::mem::replace(&mut rest, tail));
            // The cursor moves with the last batch only (an empty call still saves it).
            let c = if last { cursor } else { None };
            total += self
                .store
                .ingest(prepared, c, &self.ingestor.rules, now)
                .await?;
            if last {
                break;
            }
        }
        if total.inserted > 0 {
            self.refresh_kpi_blocks().await;
        }
        Ok(total)
    }

    /// Rebuilds the KPI blocks of the days that changed. A failure only slows reports down
    /// (they read dirty days from the conversations), so it is logged, not returned.
    pub async fn refresh_kpi_blocks(&self) {
        if let Err(e) = self.store.refresh_kpi_blocks().await {
            tracing::warn!(error = %e, "KPI blocks not rebuilt; reports read the conversations meanwhile");
        }
    }

    /// Labels stored messages again with the current classifier and rules: those labelled by
    /// another version, or every message with `all`. Pages of `BATCH` are committed one by one
    /// (an interrupted run resumes where it stopped); the rollups are rebuilt at the end.
    /// `progress` hears the running count. Returns how many messages were relabelled.
    pub async fn reclassify(
        &self,
        all: bool,
        progress: &mut dyn FnMut(usize),
    ) -> anyhow::Result<usize> {
        let version = self.ingestor.version().to_string();
        let only_other = (!all).then_some(version.as_str());
        let (mut after, mut done) = (0i64, 0usize);
        loop {
            let page = self
                .store
                .texts_to_relabel(after, only_other, BATCH)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let labels = self.ingestor.relabel(&page);
            self.store
                .relabel(&labels, &version, &self.ingestor.rules)
                .await?;
            done += labels.len();
            progress(done);
        }
        // Also after a run that was interrupted between its last page and the rebuild.
        if done > 0 || self.store.rollups_stale().await? {
            self.store.rebuild_rollups().await?;
        }
        self.refresh_kpi_blocks().await;
        Ok(done)
    }

    /// The full KPI report of a window as seen at `now`, with its comparisons.
    pub async fn report(
        &self,
        spec: WindowSpec,
        filters: &Filters,
        now: DateTime<Utc>,
    ) -> anyhow::Result<FullReport> {
        let rules = KpiRules::from_config(&self.config);
        let w = window::resolve(spec, now, rules.timezone);
        let query = ReportQuery {
            start: w.start_s(),
            end: w.end_s(),
            brand: filters.brand.clone(),
            platform: filters.platform,
            product: filters.product.clone(),
        };
        let inputs = self
            .store
            .kpi_inputs(&query, &spec.label(), w, now.timestamp(), &rules)
            .await?;
        Ok(full_report(&inputs, now.timestamp(), &rules))
    }

    /// Mentions vs resolved per local day over the `days` full days before `now`'s day.
    pub async fn trend(&self, days: u32, now: DateTime<Utc>) -> anyhow::Result<Vec<DayPoint>> {
        let tz = self.config.timezone;
        let today = now.with_timezone(&tz).date_naive();
        let first = today - Duration::days(i64::from(days));
        let last = today - Duration::days(1);
        let r = self
            .report(WindowSpec::Dates(first, last), &Filters::default(), now)
            .await?;
        Ok(r.report.mentions_vs_resolved)
    }

    /// The simulator of a demo source.
    fn demo_generator(&self, spec: &crate::config::DemoSourceConfig) -> DemoGenerator {
        let brand = self.config.brands.iter().find(|b| b.name == spec.brand);
        let products: Vec<String> = self
            .config
            .products
            .iter()
            .map(|p| p.name.clone())
            .collect();
        DemoGenerator::new(spec, brand, &products, self.config.timezone)
    }

    /// Stores the demo messages from the source's cursor (or `history_days` ago) up to now, a
    /// day per transaction, moving the cursor with each day.
    async fn catch_up_demo(
        &self,
        generator: &DemoGenerator,
        spec: &crate::config::DemoSourceConfig,
    ) -> anyhow::Result<usize> {
        let now = Utc::now();
        let from = self
            .store
            .cursor(&spec.name)
            .await?
            .and_then(|c| c.parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .unwrap_or_else(|| now - Duration::days(i64::from(spec.history_days)));
        let mut stored = 0;
        let mut start = from;
        while start < now {
            let end = (start + Duration::days(1)).min(now);
            let cursor = end.timestamp().to_string();
            let o = self
                .ingest(
                    generator.generate(start, end),
                    Some((&spec.name, Some(&cursor))),
                    now.timestamp(),
                )
                .await?;
            stored += o.inserted;
            start = end;
        }
        Ok(stored)
    }

    /// Follows the demo source in real time until shutdown.
    async fn run_demo(
        self: Arc<Self>,
        spec: crate::config::DemoSourceConfig,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let generator = self.demo_generator(&spec);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(15)) => {}
                _ = shutdown.changed() => return,
            }
            match self.catch_up_demo(&generator, &spec).await {
                Ok(n) if n > 0 => {
                    tracing::info!(source = %spec.name, inserted = n, "demo messages stored")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(source = %spec.name, error = %e, "demo messages not stored; will retry")
                }
            }
        }
    }

    /// Enqueues every digest whose slot is due and not yet claimed: the post (with its four
    /// charts) goes into the outbox in the same transaction that claims the (job, slot) row,
    /// so each slot is posted exactly once by the delivery loop, also across restarts, a
    /// second instance and a repeated DST hour. Returns how many digests were enqueued.
    pub async fn run_due_digests(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let tz = self.config.timezone;
        let mut enqueued = 0;
        for d in &self.config.digests {
            let catch_up = Duration::from_std(d.catch_up).unwrap_or(Duration::hours(6));
            let Some(slot) = crate::schedule::latest_due(&d.cron, tz, now, catch_up) else {
                continue;
            };
            let job = format!("digest:{}", d.name);
            let key = crate::schedule::slot_key(slot, tz);
            if self.store.job_claimed(&job, key).await? {
                continue;
            }
            let post = self.digest(d, slot, now).await?;
            let (json, blob) = outbox::encode(&post)?;
            match self
                .store
                .claim_and_enqueue(&job, key, &d.channel, &json, &blob, now.timestamp())
                .await?
            {
                Some(id) => {
                    tracing::info!(digest = %d.name, slot = %slot, outbox = id, "digest enqueued");
                    enqueued += 1;
                }
                None => tracing::debug!(digest = %d.name, slot = %slot, "digest claimed elsewhere"),
            }
        }
        Ok(enqueued)
    }

    /// The digest post of a scheduled slot, as seen at the slot, marked late when `now` is
    /// well after it, with its four charts over the last two weeks.
    pub async fn digest(
        &self,
        d: &crate::config::DigestSchedule,
        slot: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Post> {
        let spec = match d.window {
            DigestWindow::Today => WindowSpec::Today,
            DigestWindow::Yesterday => WindowSpec::Yesterday,
            DigestWindow::Week => WindowSpec::Week,
            DigestWindow::Month => WindowSpec::Month,
        };
        let r = self.report(spec, &Filters::default(), slot).await?;
        let late = (now - slot).num_seconds();
        let mut post = crate::digest::digest_post(&d.name, &r, Some(late));
        let days = self
            .daily_volume(DIGEST_CHART_DAYS, &Filters::default(), slot)
            .await?;
        let trend = self.trend(DIGEST_CHART_DAYS, slot).await?;
        post.attachments = crate::digest::digest_charts(&days, &trend);
        Ok(post)
    }
}

/// Days the digest charts cover.
pub const DIGEST_CHART_DAYS: u32 = 14;

/// The platform sources of the config, parsed and checked.
pub fn platform_specs(config: &Config) -> anyhow::Result<Vec<crate::sources::config::SourceSpec>> {
    let mut specs = Vec::new();
    for s in &config.sources {
        if let SourceSpec::Platform { name, table } = s {
            let spec: crate::sources::config::SourceSpec =
                table.clone().try_into().map_err(|e| {
                    anyhow::anyhow!(
                        "{}: source '{name}' is not valid: {e}",
                        config.path.display()
                    )
                })?;
            specs.push(spec);
        }
    }
    Ok(specs)
}

/// The store as the poller's sink: messages and cursor in one transaction.
struct StoreSink {
    app: Arc<App>,
}

impl crate::sources::sink::Sink for StoreSink {
    fn commit<'a>(
        &'a self,
        source: &'a str,
        messages: Vec<NewMessage>,
        cursor: Option<String>,
    ) -> crate::sources::BoxFuture<'a, anyhow::Result<crate::sources::sink::CommitOutcome>> {
        Box::pin(async move {
            let c = cursor.as_deref().map(|c| (source, Some(c)));
            let o = self.app.ingest(messages, c, Utc::now().timestamp()).await?;
            Ok(crate::sources::sink::CommitOutcome {
                inserted: o.inserted,
                duplicates: o.duplicates,
            })
        })
    }

    fn cursor<'a>(
        &'a self,
        source: &'a str,
    ) -> crate::sources::BoxFuture<'a, anyhow::Result<Option<String>>> {
        Box::pin(async move { Ok(self.app.store.cursor(source).await?) })
    }
}

/// The `[chat.discord]` section as the Discord transport reads it, checked.
pub fn discord_config(config: &Config) -> anyhow::Result<DiscordConfig> {
    let raw = config.chat.discord.clone().with_context(|| {
        format!(
            "{}: chat.kind = \"discord\" needs a [chat.discord] section with at least application_id (see the commented example in the shipped config.toml)",
            config.path.display()
        )
    })?;
    let parsed: DiscordConfig = raw.try_into().map_err(|e| {
        anyhow::anyhow!(
            "{}: [chat.discord] is not valid: {e}",
            config.path.display()
        )
    })?;
    parsed
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: [chat.discord]: {e}", config.path.display()))?;
    Ok(parsed)
}

/// Runs the bot until Ctrl-C (the console chat also reads commands from stdin): sources,
/// the digest scheduler (enqueueing into the outbox), the outbox delivery loop, and the chat
/// (console by default; Discord's gateway or HTTP interactions endpoint with
/// `chat.kind = "discord"`).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let app = Arc::new(App::open(config).await?);
    let dirty = app.store.dirty_kpi_days().await?;
    if dirty > 0 {
        eprintln!("Building the KPI blocks of {dirty} days...");
        app.refresh_kpi_blocks().await;
    }
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);

    let mut console: Option<Arc<ConsoleChat>> = None;
    let mut discord: Option<(DiscordConfig, secrecy::SecretString)> = None;
    let chat: Arc<dyn Chat> = match app.config.chat.kind {
        ChatKind::Console => {
            let c = Arc::new(ConsoleChat::new(
                Box::new(std::io::stdout()),
                app.config.chat.charts_dir.clone(),
            ));
            console = Some(c.clone());
            c
        }
        ChatKind::Discord => {
            let cfg = discord_config(&app.config)?;
            let token = match app.config.chat.discord_token.clone() {
                Some(t) if cfg.token_env == crate::chat::discord::DEFAULT_TOKEN_ENV => t,
                _ => cfg.token_from_env()?,
            };
            let c = Arc::new(DiscordChat::new(&cfg, &token)?);
            discord = Some((cfg, token));
            c
        }
    };
    match &discord {
        Some((cfg, _)) => eprintln!(
            "carepulse is running on {} with Discord ({:?} mode). Ctrl-C stops it.",
            app.store.path(),
            cfg.mode
        ),
        None => eprintln!(
            "carepulse is running on {} with the console chat. Type /kpi today, /kpi help, or Ctrl-C to stop.",
            app.store.path()
        ),
    }

    // Demo history is filled before anything reports, so the first digests have numbers.
    let mut tasks = Vec::new();
    for s in &app.config.sources {
        if let SourceSpec::Demo(d) = s {
            eprintln!(
                "Simulating demo history for source '{}' (up to {} days)...",
                d.name, d.history_days
            );
            let n = app.catch_up_demo(&app.demo_generator(d), d).await?;
            memory::release_free_memory();
            eprintln!("Stored {n} demo messages.");
            tasks.push(tokio::spawn(
                app.clone().run_demo(d.clone(), shutdown_rx.clone()),
            ));
        }
    }
    let specs = platform_specs(&app.config)?;
    if !specs.is_empty() {
        let env = |k: &str| crate::config::process_env(k);
        let mut built: Vec<Arc<dyn crate::sources::Source>> = Vec::new();
        for spec in &specs {
            match crate::sources::config::build_source(spec, &env) {
                Ok(source) => built.push(Arc::from(source)),
                // One source that cannot start is reported; the others run.
                Err(e) => tracing::error!(error = %e, "a source cannot start"),
            }
        }
        let sink: Arc<dyn crate::sources::sink::Sink> = Arc::new(StoreSink { app: app.clone() });
        let poller = Arc::new(crate::sources::poller::Poller::new(
            sink,
            Default::default(),
        )?);
        tasks.extend(poller.spawn_all(built, shutdown_rx.clone()));
    }
    // Push routes on the Discord interactions endpoint's address join that server.
    let interactions_listen = discord
        .as_ref()
        .filter(|(cfg, _)| cfg.mode == crate::chat::discord::DiscordMode::Http)
        .map(|(cfg, _)| cfg.listen);
    let push = push::serve_push(app.clone(), shutdown_rx.clone(), interactions_listen).await?;
    if let Some(server) = push.handle {
        tasks.push(server);
    }
    let push_on_interactions = push.shared;
    // Console only: an opening report of today so far, so a new user sees the bot work.
    if let Some(c) = &console {
        let r = app
            .report(WindowSpec::Today, &Filters::default(), Utc::now())
            .await?;
        let post = crate::digest::report_post("carepulse digest: today so far", &r);
        c.post("care-team", &post).await?;
    }

    // The outbox delivery loop: posts what is pending (also from before a restart).
    let wake = Arc::new(tokio::sync::Notify::new());
    tasks.push(tokio::spawn(outbox::run_delivery(
        app.store.clone(),
        chat.clone(),
        outbox::OutboxPolicy::default(),
        wake.clone(),
        shutdown_rx.clone(),
    )));

    // Alerts (spikes, waiting customers, badge at risk) reach chat through the outbox.
    if app.config.alerts.enabled {
        let alert_chat: Arc<dyn Chat> =
            Arc::new(outbox::OutboxChat::new(app.store.clone(), wake.clone()));
        tasks.push(tokio::spawn(alerts::run_alerts(
            app.clone(),
            alert_chat,
            shutdown_rx.clone(),
        )));
    }

    tasks.push(tokio::spawn(memory::trim_loop(shutdown_rx.clone())));

    let sched_app = app.clone();
    let mut sched_shutdown = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            match sched_app.run_due_digests(Utc::now()).await {
                Ok(n) if n > 0 => wake.notify_one(),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "digest scheduler"),
            }
            tokio::select! {
                _ = tokio::time::sleep(StdDuration::from_secs(20)) => {}
                _ = sched_shutdown.changed() => return,
            }
        }
    }));

    let handler_app = app.clone();
    let handler: CommandHandler = Arc::new(move |inv: Invocation| {
        let app = handler_app.clone();
        Box::pin(async move { app.answer(&inv.line, Utc::now()).await })
    });

    if let Some((cfg, token)) = discord {
        let suggest_app = app.clone();
        let suggest: Suggest = Arc::new(move |option: String, typed: String| {
            let app = suggest_app.clone();
            Box::pin(async move { app.suggest(&option, &typed).await })
        });
        let mut rx = shutdown_rx.clone();
        let stop = async move {
            let _ = rx.changed().await;
        };
        let extra = push_on_interactions;
        let mut receiver = tokio::spawn(async move {
            crate::chat::discord::run(&cfg, &token, handler, Some(suggest), extra, stop).await
        });
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("\nStopping carepulse..."),
            done = &mut receiver => {
                let _ = shutdown_tx.send(true);
                for t in tasks {
                    let _ = tokio::time::timeout(StdDuration::from_secs(10), t).await;
                }
                app.store.close().await;
                return match done {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(anyhow::anyhow!(e).context("the Discord connection stopped")),
                    Err(e) => Err(anyhow::anyhow!("the Discord task failed: {e}")),
                };
            }
        }
        tasks.push(receiver_task(receiver));
    } else if let Some(console_chat) = console {
        let console_shutdown = shutdown_rx.clone();
        let console_task = tokio::spawn(async move {
            let stdin = tokio::io::BufReader::new(tokio::io::stdin());
            command_loop(stdin, &console_chat, handler, console_shutdown).await;
        });
        tokio::select! {
            _ = tokio::signal::ctrl_c() => eprintln!("\nStopping carepulse..."),
            _ = console_task => {
                // End of stdin: keep running for the scheduler and sources until Ctrl-C.
                tokio::signal::ctrl_c().await.ok();
                eprintln!("\nStopping carepulse...");
            }
        }
    }
    let _ = shutdown_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(StdDuration::from_secs(10), t).await;
    }
    app.store.close().await;
    Ok(())
}

/// The Discord receiver as a plain task handle, so shutdown waits for it like the others.
fn receiver_task(
    receiver: tokio::task::JoinHandle<Result<(), crate::chat::discord::DiscordError>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Ok(Err(e)) = receiver.await {
            tracing::warn!(error = %e, "Discord receiver stopped");
        }
    })
}
