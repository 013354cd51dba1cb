//! carepulse command line (minimal: the alerts subcommand).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "carepulse",
    version,
    about = "Chat-ops bot for social customer care teams"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Spike alerts: backtest the detector on a series.
    Alerts(carepulse::cli::alerts::AlertsArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Alerts(args) => carepulse::cli::alerts::run_alerts(args, std::io::stdout().lock()),
    }
}
