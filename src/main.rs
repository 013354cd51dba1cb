//! The carepulse binary: parses the command line, sets up logging, runs the command, and turns
//! errors into one clear message and a non-zero exit code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAREPULSE_LOG")
        // The database library warns about every statement over 1 s with its full SQL: a long
        // report or a migration on a big database is expected, not news for the user.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx::query=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = carepulse::cli::Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // The bot idles for days: a small runtime and allocator. Batch commands (import, classify)
    // keep the defaults, sized for throughput.
    if matches!(cli.command, None | Some(carepulse::cli::Cmd::Run)) {
        use carepulse::app::memory;
        memory::tune_for_bot();
        builder
            .worker_threads(memory::BOT_WORKER_THREADS)
            .max_blocking_threads(memory::BOT_MAX_BLOCKING_THREADS);
    }
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(carepulse::cli::dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose text the line already
/// holds (many errors quote their cause in their own message).
fn describe(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}
