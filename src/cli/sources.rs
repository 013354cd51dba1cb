//! `carepulse sources ...`: commands about the configured platform sources. `check` tries
//! each source once and prints one line per source.

use clap::{Args, Subcommand};

use crate::sources::check;
use crate::sources::SourceSpec;

/// Inspect the configured platform sources.
#[derive(Debug, Clone, Args)]
pub struct SourcesArgs {
    #[command(subcommand)]
    pub command: SourcesCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SourcesCommand {
    /// Try each configured source once and say what it would fetch, or exactly why it cannot
    /// (missing token variable, refused token, unknown account). Stores nothing.
    Check {
        /// Check only the source with this name.
        #[arg(long)]
        name: Option<String>,
    },
}

/// Run a `sources` command against the configured `specs`, reading tokens through `env`.
/// Prints one line per source; fails when any source cannot fetch.
pub async fn run(
    args: &SourcesArgs,
    specs: &[SourceSpec],
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> anyhow::Result<()> {
    let lines = match &args.command {
        SourcesCommand::Check { name } => {
            let chosen: Vec<SourceSpec> = specs
                .iter()
                .filter(|s| name.as_deref().map_or(true, |n| s.name() == n))
                .cloned()
                .collect();
            if chosen.is_empty() {
                anyhow::bail!(match name {
                    Some(n) => format!("no source named '{n}' in the configuration"),
                    None =>
                        "no platform sources are configured ([[sources]] in config.toml)".into(),
                });
            }
            check::check(check::prepare(&chosen, env)).await
        }
    };
    for line in &lines {
        println!("{line}");
    }
    let failed = lines.iter().filter(|l| !l.ok).count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} sources cannot fetch", lines.len());
    }
    Ok(())
}
