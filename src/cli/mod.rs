//! The command line (clap): `run`, `import`, `demo`, `kpi`, `classify`, `train`, `eval`, with
//! the global `--config` and `--db`. Each command resolves config and the clock here and then
//! calls into `app`; the per-area argument sets live in their own files.

pub mod alerts;
pub mod classify;
pub mod kpi;
pub mod sources;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::App;
use crate::config::{process_env, Config};
use crate::sources::demo::DemoGenerator;
use crate::sources::files;

#[derive(Parser, Debug)]
#[command(
    name = "carepulse",
    version,
    about = "Chat-ops bot for social customer care teams: mentions in, care KPIs, digests and alerts out.",
    long_about = "carepulse pulls brand mentions and the brand's replies into SQLite, classifies every message \
(complaint, inquiry, praise, other; sentiment; products; topics), computes the care KPIs and speaks in team chat.\n\n\
With no command it runs the bot (`carepulse run`) on ./config.toml: as shipped, a demo source and the console chat."
)]
pub struct Cli {
    /// Configuration file [default: ./config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// SQLite database file (overrides the config's `database`)
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the bot: sources, digest scheduler and chat together (Ctrl-C stops it cleanly)
    Run,
    /// Import a file of messages (idempotent: importing twice stores every message once)
    Import(ImportArgs),
    /// Fill the database with simulated care days, or write them to a file
    Demo(DemoArgs),
    /// Print the care KPIs for a window (or `kpi explain NAME` for a metric's definition)
    Kpi(kpi::KpiArgs),
    /// One CSV row per conversation started in a window
    Export(kpi::ExportArgs),
    /// Classify one text per stdin line; one JSON object per line on stdout
    Classify(classify::ClassifyArgs),
    /// Label the stored messages again after a model or rule change (products, topics,
    /// redirect patterns); resumes where an interrupted run stopped
    Reclassify(ReclassifyArgs),
    /// Train the complaint model on a labelled CSV
    Train(classify::TrainArgs),
    /// Evaluate the classifier on labelled data
    Eval(classify::EvalArgs),
    /// Check the configured platform sources
    Sources(sources::SourcesArgs),
    /// Spike alerts: replay a count series (a CSV or the store) through the bot's alerter
    Alerts(alerts::AlertsArgs),
}

#[derive(Args, Debug)]
pub struct ReclassifyArgs {
    /// Relabel every message, not only those labelled by another classifier version
    #[arg(long)]
    pub all: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// "Customer Support on Twitter" CSV: tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id
    Twcs,
    /// One JSON message per line: platform, external_id, brand, author, direction, created_at, text, reply_to?, ...
    Jsonl,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Format of the file
    #[arg(long, value_enum)]
    pub format: FileFormat,
    /// Read, check and classify the file but store nothing (reports bad rows and timings)
    #[arg(long)]
    pub dry_run: bool,
    /// Messages per transaction: a killed import keeps what was committed, and a re-run
    /// stores the rest
    #[arg(long, default_value_t = crate::app::IMPORT_COMMIT_ROWS)]
    pub commit_rows: usize,
    /// Messages threaded and stored together: larger batches are faster (fewer conversations
    /// straddle two batches) and take more memory
    #[arg(long, default_value_t = crate::app::IMPORT_BATCH, value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(|n| n as usize))]
    pub batch_rows: usize,
    /// The file to import
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Days of simulated history, ending now (or at --now)
    #[arg(long, default_value_t = 14)]
    pub days: u32,
    /// Random seed: the same seed gives the same messages
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Inbound messages per hour at the daily peak (the load generator's rate)
    #[arg(long)]
    pub rate: Option<f64>,
    /// Write the messages to this file instead of the database
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Format of --out
    #[arg(long, value_enum, default_value = "twcs")]
    pub format: FileFormat,
    /// End of the simulated span (RFC 3339), for reproducible data
    #[arg(long)]
    pub now: Option<String>,
}

/// Parses `--now`, or reads the clock.
pub fn resolve_now(now: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    match now {
        None => Ok(Utc::now()),
        Some(s) => parse_instant(s).map_err(|e| anyhow::anyhow!("--now '{s}': {e}")),
    }
}

/// An instant given on the command line: RFC 3339, with an example in the error.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("{e}; give an RFC 3339 instant, e.g. 2026-11-23T09:00:00Z"))
}

/// A calendar day given on the command line, with an example in the error.
pub fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("{e}; give a day as YYYY-MM-DD, e.g. 2026-11-23"))
}

/// A time zone given on the command line, with examples in the error.
pub fn parse_tz(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse().map_err(|_| {
        "not a time zone name; give an IANA name, e.g. Europe/London or America/New_York"
            .to_string()
    })
}

/// Loads the config (default ./config.toml) and applies --db.
pub fn load_config(path: Option<&Path>, db: Option<&Path>) -> anyhow::Result<Config> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("config.toml"));
    let mut config = Config::load(&path, &process_env)?;
    if let Some(db) = db {
        config.database = db.to_path_buf();
    }
    Ok(config)
}

/// Runs the parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Cmd::Run);
    match command {
        Cmd::Classify(a) => {
            classify::run_classify(&a, std::io::stdin().lock(), std::io::stdout().lock())
        }
        Cmd::Train(a) => classify::run_train(&a),
        Cmd::Eval(a) => classify::run_eval(&a, std::io::stdout().lock()),
        Cmd::Sources(a) => {
            let config = load_config(cli.config.as_deref(), cli.db.as_deref())?;
            let specs = crate::app::platform_specs(&config)?;
            let env = |k: &str| process_env(k);
            sources::run(&a, &specs, &env).await
        }
        Cmd::Run => crate::app::run(load_config(cli.config.as_deref(), cli.db.as_deref())?).await,
        Cmd::Import(a) => {
            let app = App::open(load_config(cli.config.as_deref(), cli.db.as_deref())?).await?;
            import(&app, &a, &mut std::io::stderr()).await.map(|_| ())
        }
        Cmd::Reclassify(a) => {
            let app = App::open(load_config(cli.config.as_deref(), cli.db.as_deref())?).await?;
            let started = std::time::Instant::now();
            let mut last_shown = 0;
            let n = app
                .reclassify(a.all, &mut |done| {
                    if done - last_shown >= 100_000 {
                        eprintln!("relabelled {done} messages...");
                        last_shown = done;
                    }
                })
                .await?;
            eprintln!(
                "relabelled {n} messages with classifier {} in {:.1} s; conversations and rollups updated",
                app.ingestor.version(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Cmd::Demo(a) => demo(load_config(cli.config.as_deref(), cli.db.as_deref())?, &a).await,
        Cmd::Kpi(a) => {
            if let Some(kpi::KpiCommand::Explain { name }) = &a.command {
                return kpi::explain_metric(name, &mut std::io::stdout().lock());
            }
            let config = load_config(cli.config.as_deref(), cli.db.as_deref())?;
            let store = crate::store::Store::open_for_reports(&config.database).await?;
            // One write at the end, not one per line of the report.
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let result = kpi::run_kpi(a, &store, &config, Utc::now(), &mut out).await;
            store.close().await;
            result.and_then(|()| Ok(out.flush()?))
        }
        Cmd::Export(a) => {
            let config = load_config(cli.config.as_deref(), cli.db.as_deref())?;
            let store = crate::store::Store::open_for_reports(&config.database).await?;
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let result = kpi::run_export(a, &store, &config, Utc::now(), &mut out)
                .await
                .and_then(|()| Ok(out.flush()?));
            store.close().await;
            result
        }
        Cmd::Alerts(a) => alerts_backtest(cli.config.as_deref(), cli.db.as_deref(), a).await,
    }
}

/// `alerts backtest`: a CSV series needs nothing else; `--store` reads the configured database
/// (loaded up front, since the replay itself is synchronous).
async fn alerts_backtest(
    config_path: Option<&Path>,
    db: Option<&Path>,
    args: alerts::AlertsArgs,
) -> anyhow::Result<()> {
    let alerts::AlertsCommand::Backtest(b) = &args.command;
    let mut preloaded: Option<(alerts::DbSeriesRequest, alerts::Series)> = None;
    if b.store {
        let config = load_config(config_path, db)?;
        let store = crate::store::Store::open(&config.database).await?;
        let brand = b.brand.clone().unwrap_or_default();
        let Some((first, last)) = store.brand_span(&brand).await? else {
            let known = store.known_brands().await?;
            anyhow::bail!(
                "no messages for brand '{brand}' in {}; brands stored: {}",
                config.database.display(),
                if known.is_empty() {
                    "none (import or run the demo first)".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        let req = alerts::DbSeriesRequest {
            brand: brand.clone(),
            platform: b.platform,
            metric: b.metric,
            bucket_s: b.bucket,
        };
        let series = store
            .inbound_series(&crate::store::SeriesQuery {
                brand,
                platform: b.platform,
                metric: b.metric,
                bucket_s: b.bucket,
                from: first,
                to: last + 1,
            })
            .await?;
        store.close().await;
        preloaded = Some((req, series));
    }
    alerts::run_alerts_with(args, std::io::stdout().lock(), &|req| match &preloaded {
        Some((r, series)) if r == req => Ok(series.clone()),
        _ => anyhow::bail!("the store series was not loaded for {req:?}"),
    })
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub imported: usize,
    pub duplicates: usize,
    pub rejected: usize,
}

/// Streams a file into the store: a reader thread parses and classifies batches while the
/// store writes the previous one. Bad rows are reported (line and reason) and skipped. The
/// summary ends with where the time went (reading, classifying, storing), so a slow import
/// says which stage to look at.
pub async fn import(
    app: &App,
    args: &ImportArgs,
    report_to: &mut dyn Write,
) -> anyhow::Result<ImportSummary> {
    use std::time::{Duration, Instant};
    let started = Instant::now();
    // Few malloc arenas: the reader, the store's worker and the runtime's threads would each
    // keep freed batches in an arena of their own.
    crate::app::memory::tune_for_bot();
    let path = args.file.clone();
    let open =
        |p: &Path| std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()));
    let brands = match args.format {
        FileFormat::Twcs => {
            files::twcs_brands(std::io::BufReader::with_capacity(1 << 20, open(&path)?))
                .with_context(|| format!("cannot read {}", path.display()))?
        }
        FileFormat::Jsonl => Default::default(),
    };
    let scan = started.elapsed();
    let file = open(&path)?;
    let format = args.format;
    let batch_rows = args.batch_rows;
    let ingestor = app.ingestor.clone();
    type Batch = (Vec<crate::store::ClassifiedMessage>, Vec<files::RowError>);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(1);
    // The store acknowledges each batch as it starts storing it, and the reader reads the
    // next one only then: one batch is stored while the next is read and classified, and no
    // third waits in between (memory stays at two batches).
    let (taken_tx, taken_rx) = std::sync::mpsc::channel::<()>();
    // Returns (time spent parsing, time spent classifying).
    let reader = std::thread::spawn(move || -> (Duration, Duration) {
        let mut rows: Box<dyn Iterator<Item = Result<crate::model::NewMessage, files::RowError>>> =
            match format {
                FileFormat::Twcs => Box::new(files::read_twcs(
                    std::io::BufReader::with_capacity(1 << 20, file),
                    brands,
                )),
                FileFormat::Jsonl => Box::new(files::read_jsonl(
                    std::io::BufReader::with_capacity(1 << 20, file),
                )),
            };
        let (mut parsing, mut classifying) = (Duration::ZERO, Duration::ZERO);
        let mut raw = Vec::with_capacity(batch_rows);
        let mut errors = Vec::new();
        loop {
            let t = Instant::now();
            let mut done = true;
            for row in rows.by_ref() {
                match row {
                    Ok(m) => raw.push(m),
                    Err(e) => errors.push(e),
                }
                if raw.len() >= batch_rows {
                    done = false;
                    break;
                }
            }
            parsing += t.elapsed();
            let t = Instant::now();
            let batch = ingestor.prepare_all(std::mem::take(&mut raw));
            classifying += t.elapsed();
            if tx
                .blocking_send((batch, std::mem::take(&mut errors)))
                .is_err()
                || done
                || taken_rx.recv().is_err()
            {
                return (parsing, classifying);
            }
        }
    });
    let mut summary = ImportSummary::default();
    let now = Utc::now().timestamp();
    let mut storing = Duration::ZERO;
    const SHOWN_ERRORS: usize = 20;
    let mut import = if args.dry_run {
        None
    } else {
        Some(
            app.store
                .begin_import(&app.ingestor.rules, args.commit_rows, now)
                .await?,
        )
    };
    while let Some((batch, errors)) = rx.recv().await {
        // The reader may go on (it stops by itself once this side is gone).
        let _ = taken_tx.send(());
        for e in &errors {
            if summary.rejected < SHOWN_ERRORS {
                writeln!(report_to, "skipped {}: {e}", path.display())?;
            }
            summary.rejected += 1;
        }
        if batch.is_empty() {
            continue;
        }
        let Some(import) = import.as_mut() else {
            summary.imported += batch.len();
            continue;
        };
        let t = Instant::now();
        let o = import.ingest(batch).await?;
        // The batch's strings were freed on the store's worker thread: give their pages back,
        // so memory stays flat however long the file is.
        crate::app::memory::release_free_memory();
        storing += t.elapsed();
        summary.imported += o.inserted;
        summary.duplicates += o.duplicates;
    }
    let mut finishing = Duration::ZERO;
    if let Some(import) = import {
        let t = Instant::now();
        import.finish().await?;
        // The KPI blocks of the imported days, so the first report is fast.
        app.refresh_kpi_blocks().await;
        finishing = t.elapsed();
        storing += finishing;
    }
    let (parsing, classifying) = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the file reader stopped unexpectedly"))?;
    if summary.rejected > SHOWN_ERRORS {
        writeln!(
            report_to,
            "... and {} more rejected rows",
            summary.rejected - SHOWN_ERRORS
        )?;
    }
    let total = started.elapsed();
    let rows = summary.imported + summary.duplicates + summary.rejected;
    writeln!(
        report_to,
        "{} {} messages, {} duplicates skipped, {} rows rejected, from {}",
        if args.dry_run {
            "checked (dry run, nothing stored)"
        } else {
            "imported"
        },
        summary.imported,
        summary.duplicates,
        summary.rejected,
        path.display()
    )?;
    let finished = if args.dry_run {
        String::new()
    } else {
        format!(
            " (of which finishing conversations and KPI blocks {:.1} s)",
            finishing.as_secs_f64()
        )
    };
    writeln!(
        report_to,
        "{rows} rows in {:.1} s ({:.0} rows/s): scanning {:.1} s, parsing {:.1} s, classifying {:.1} s (beside storing), storing {:.1} s{finished}",
        total.as_secs_f64(),
        rows as f64 / total.as_secs_f64().max(1e-9),
        scan.as_secs_f64(),
        parsing.as_secs_f64(),
        classifying.as_secs_f64(),
        storing.as_secs_f64(),
    )?;
    Ok(summary)
}

async fn demo(config: Config, args: &DemoArgs) -> anyhow::Result<()> {
    let now = resolve_now(args.now.as_deref())?;
    let mut spec = config
        .sources
        .iter()
        .find_map(|s| match s {
            crate::config::SourceSpec::Demo(d) => Some(d.clone()),
            crate::config::SourceSpec::Platform { .. } => None,
        })
        .unwrap_or(crate::config::DemoSourceConfig {
            name: "demo".into(),
            brand: config
                .brands
                .first()
                .map(|b| b.name.clone())
                .unwrap_or_else(|| "Northwind".into()),
            seed: args.seed,
            per_hour: 40.0,
            history_days: args.days,
        });
    spec.seed = args.seed;
    if let Some(r) = args.rate {
        anyhow::ensure!(
            r > 0.0 && r.is_finite(),
            "--rate must be a positive number of messages per hour"
        );
        spec.per_hour = r;
    }
    let brand = config.brands.iter().find(|b| b.name == spec.brand);
    let products: Vec<String> = config.products.iter().map(|p| p.name.clone()).collect();
    let generator = DemoGenerator::new(&spec, brand, &products, config.timezone);
    let start = now - chrono::Duration::days(i64::from(args.days));
    if let Some(out) = &args.out {
        let file = std::fs::File::create(out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let w = std::io::BufWriter::new(file);
        enum Sink<W: Write> {
            Twcs(Box<files::TwcsWriter<W>>),
            Jsonl(W),
        }
        let mut sink = match args.format {
            FileFormat::Twcs => Sink::Twcs(Box::new(files::TwcsWriter::new(w)?)),
            FileFormat::Jsonl => Sink::Jsonl(w),
        };
        let mut n = 0usize;
        let mut day = start;
        while day < now {
            let end = (day + chrono::Duration::days(1)).min(now);
            for m in generator.generate(day, end) {
                match &mut sink {
                    Sink::Twcs(t) => t.write(&m)?,
                    Sink::Jsonl(w) => {
                        serde_json::to_writer(&mut *w, &m)?;
                        w.write_all(b"\n")?;
                    }
                }
                n += 1;
            }
            day = end;
        }
        match sink {
            Sink::Twcs(t) => t.finish()?,
            Sink::Jsonl(mut w) => w.flush()?,
        }
        eprintln!(
            "wrote {n} simulated messages ({} days) to {}",
            args.days,
            out.display()
        );
        return Ok(());
    }
    let app = App::open(config).await?;
    let mut total = crate::store::IngestOutcome::default();
    let mut day = start;
    while day < now {
        let end = (day + chrono::Duration::days(1)).min(now);
        total += app
            .ingest(generator.generate(day, end), None, Utc::now().timestamp())
            .await?;
        day = end;
    }
    let (m, c) = app.store.counts().await?;
    eprintln!(
        "simulated {} days: {} new messages ({} already there); the database now holds {m} messages in {c} conversations",
        args.days, total.inserted, total.duplicates
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn parse_error(args: &[&str]) -> String {
        match Cli::try_parse_from(args) {
            Ok(_) => panic!("{args:?} parsed"),
            Err(e) => e.to_string(),
        }
    }

    /// A malformed instant, day or zone on the command line names the option, the value and
    /// what a right value looks like; right values parse.
    #[test]
    fn bad_instants_days_and_zones_say_what_is_expected() {
        let e = parse_error(&["carepulse", "kpi", "--now", "garbage"]);
        assert!(e.contains("'garbage'") && e.contains("--now"), "{e}");
        assert!(e.contains("e.g. 2026-11-23T09:00:00Z"), "{e}");
        let e = parse_error(&[
            "carepulse",
            "kpi",
            "--from",
            "2026-13-01",
            "--to",
            "2026-12-02",
        ]);
        assert!(e.contains("--from") && e.contains("YYYY-MM-DD"), "{e}");
        let e = parse_error(&["carepulse", "export", "--tz", "Mars/Base"]);
        assert!(
            e.contains("Mars/Base") && e.contains("Europe/London"),
            "{e}"
        );
        let ok = Cli::try_parse_from([
            "carepulse",
            "kpi",
            "--now",
            "2026-11-23T09:00:00+01:00",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
            "--tz",
            "Europe/London",
        ]);
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(
            parse_instant("2026-11-23T09:00:00+01:00"),
            Ok(Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap())
        );
        let e = resolve_now(Some("tomorrow")).unwrap_err().to_string();
        assert!(
            e.starts_with("--now 'tomorrow':") && e.contains("RFC 3339"),
            "{e}"
        );
    }
}
