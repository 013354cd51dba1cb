//! carepulse's command line (minimal: `kpi` and `export`).

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

use carepulse::cli::kpi::{run_export, run_kpi, ExportArgs, KpiArgs};
use carepulse::config::{process_env, Config};
use carepulse::store::Store;

#[derive(Parser)]
#[command(name = "carepulse", version, about = "Care KPIs from social mentions")]
struct Cli {
    /// Configuration file (default: ./config.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// SQLite database (default: the config's `database`).
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    /// The current instant, RFC 3339 (default: the clock).
    #[arg(long, global = true)]
    now: Option<DateTime<Utc>>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// KPIs of a window, or `kpi explain NAME`.
    Kpi(KpiArgs),
    /// One CSV row per conversation started in a window.
    Export(ExportArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = match &cli.config {
        Some(p) => Config::load(p, &process_env)?,
        None if PathBuf::from("config.toml").exists() => {
            Config::load(&PathBuf::from("config.toml"), &process_env)?
        }
        None => Config::parse(
            "[[brands]]\nname = \"default\"\n",
            &PathBuf::from("(defaults)"),
            &process_env,
        )?,
    };
    let now = cli.now.unwrap_or_else(Utc::now);
    let mut out = std::io::stdout().lock();
    if let Command::Kpi(a) = &cli.command {
        if let Some(carepulse::cli::kpi::KpiCommand::Explain { name }) = &a.command {
            return carepulse::cli::kpi::explain_metric(name, &mut out);
        }
    }
    let db = cli.db.clone().unwrap_or_else(|| config.database.clone());
    let store = Store::open(&db)
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    match cli.command {
        Command::Kpi(a) => run_kpi(a, &store, &config, now, &mut out).await?,
        Command::Export(a) => run_export(a, &store, &config, now, &mut out).await?,
    }
    store.close().await;
    Ok(())
}
