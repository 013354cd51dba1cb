//! Builds everything from `Config` and runs it: the store, the classifier, sources (the demo
//! simulator), the digest scheduler, the command handler and the chat, with graceful
//! shutdown. The only module that composes I/O pieces; it also reads the clock.

pub mod push;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};

use crate::chat::console::{command_loop, ConsoleChat};
use crate::chat::{Chat, CommandHandler, Invocation};
use crate::classify::{Classifier, KeywordRule as RuleKeyword, Rules};
use crate::commands::{self, Command, Filters};
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

impl Labeler for Classifier {
    fn label(&self, text: &str) -> Classification {
        self.classify(text)
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

/// Messages per store transaction when importing or back-filling.
pub const BATCH: usize = 5000;

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
        Ok(total)
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

    /// Answers one command line as typed in any chat.
    pub async fn answer(&self, line: &str, now: DateTime<Utc>) -> Post {
        match commands::parse(line) {
            Err(usage) => Post::usage_error(usage),
            Ok(Command::Help) => commands::answer_help(),
            Ok(Command::Explain(name)) => Post::usage_error(format!(
                "no explanation for '{name}' yet; /kpi help lists the commands"
            )),
            Ok(Command::Kpi { window, filters }) => {
                match self.report(window, &filters, now).await {
                    Ok(r) => crate::digest::report_post(&format!("KPIs {}", window.label()), &r),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot compute a report");
                        Post::usage_error(format!("could not compute the report: {e}"))
                    }
                }
            }
        }
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

    /// Posts every digest whose slot is due and not yet claimed.
    pub async fn run_due_digests(
        &self,
        chat: &dyn Chat,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        let mut posted = 0;
        for d in &self.config.digests {
            let catch_up = Duration::from_std(d.catch_up).unwrap_or(Duration::hours(6));
            let Some(slot) =
                crate::schedule::latest_due(&d.cron, self.config.timezone, now, catch_up)
            else {
                continue;
            };
            if !self
                .store
                .claim_job(
                    &format!("digest:{}", d.name),
                    slot.timestamp(),
                    now.timestamp(),
                )
                .await?
            {
                continue;
            }
            let spec = match d.window {
                DigestWindow::Today => WindowSpec::Today,
                DigestWindow::Yesterday => WindowSpec::Yesterday,
                DigestWindow::Week => WindowSpec::Week,
                DigestWindow::Month => WindowSpec::Month,
            };
            let r = self.report(spec, &Filters::default(), slot).await?;
            let late = (now - slot).num_seconds();
            let mut post = crate::digest::digest_post(&d.name, &r, Some(late));
            let trend = self.trend(14, slot).await?;
            post.attachments = crate::digest::digest_charts(&r, &trend);
            let mut outcome = Err(String::new());
            for attempt in 0..3u32 {
                match chat.post(&d.channel, &post).await {
                    Ok(_) => {
                        outcome = Ok(());
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(digest = %d.name, attempt, error = %e, "digest post failed");
                        outcome = Err(e.to_string());
                        tokio::time::sleep(StdDuration::from_secs(2u64.pow(attempt))).await;
                    }
                }
            }
            let job = format!("digest:{}", d.name);
            match outcome {
                Ok(()) => {
                    posted += 1;
                    self.store
                        .finish_job(&job, slot.timestamp(), "posted", None, now.timestamp())
                        .await?;
                }
                Err(e) => {
                    self.store
                        .finish_job(&job, slot.timestamp(), "failed", Some(&e), now.timestamp())
                        .await?
                }
            }
        }
        Ok(posted)
    }
}

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

/// Runs the bot until Ctrl-C (or end of stdin for the console chat).
pub async fn run(config: Config) -> anyhow::Result<()> {
    if config.chat.kind != ChatKind::Console {
        anyhow::bail!(
            "chat.kind = \"discord\" is not wired in this build yet; use chat.kind = \"console\""
        );
    }
    let app = Arc::new(App::open(config).await?);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let chat = Arc::new(ConsoleChat::new(
        Box::new(std::io::stdout()),
        app.config.chat.charts_dir.clone(),
    ));
    eprintln!(
        "carepulse is running on {} with the console chat. Type /kpi today, /kpi help, or Ctrl-C to stop.",
        app.store.path()
    );

    // Demo history is filled before anything reports, so the first digests have numbers.
    let mut tasks = Vec::new();
    for s in &app.config.sources {
        if let SourceSpec::Demo(d) = s {
            eprintln!(
                "Simulating demo history for source '{}' (up to {} days)...",
                d.name, d.history_days
            );
            let n = app.catch_up_demo(&app.demo_generator(d), d).await?;
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
    if let Some(server) = push::serve_push(app.clone(), shutdown_rx.clone()).await? {
        tasks.push(server);
    }
    // Opening digest: today so far.
    let now = Utc::now();
    let r = app
        .report(WindowSpec::Today, &Filters::default(), now)
        .await?;
    let post = crate::digest::report_post("carepulse digest: today so far", &r);
    chat.post("care-team", &post).await?;

    let sched_app = app.clone();
    let sched_chat = chat.clone();
    let mut sched_shutdown = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        loop {
            if let Err(e) = sched_app
                .run_due_digests(sched_chat.as_ref(), Utc::now())
                .await
            {
                tracing::error!(error = %e, "digest scheduler");
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
    let console_chat = chat.clone();
    let console_shutdown = shutdown_rx.clone();
    let console = tokio::spawn(async move {
        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
        command_loop(stdin, &console_chat, handler, console_shutdown).await;
    });

    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!("\nStopping carepulse..."),
        _ = console => {
            // End of stdin: keep running for the scheduler and sources until Ctrl-C.
            tokio::signal::ctrl_c().await.ok();
            eprintln!("\nStopping carepulse...");
        }
    }
    let _ = shutdown_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(StdDuration::from_secs(10), t).await;
    }
    app.store.close().await;
    Ok(())
}
