//! carepulse command line (minimal wiring of the classify commands; the full CLI replaces it).

use clap::{Parser, Subcommand};

use carepulse::cli::classify::{
    run_classify, run_eval, run_train, ClassifyArgs, EvalArgs, TrainArgs,
};

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
    /// Classify one text per stdin line; one JSON object per line on stdout.
    Classify(ClassifyArgs),
    /// Train the complaint model on a labelled CSV.
    Train(TrainArgs),
    /// Evaluate a classifier on labelled data.
    Eval(EvalArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Classify(a) => run_classify(&a, std::io::stdin().lock(), std::io::stdout().lock()),
        Command::Train(a) => run_train(&a),
        Command::Eval(a) => run_eval(&a, std::io::stdout().lock()),
    }
}
