//! `carepulse kpi` and `carepulse export`: clap arguments and the async commands that read the
//! store, build the full report with the pure KPI engine and print it as aligned text, JSON
//! (KPI.md's keys) or CSV (one row per conversation). `--db` and `--config` are global options
//! resolved by the caller; `--now` (in the scope) overrides the `now` the caller passes.

use std::io::Write;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::commands::{Filters, UnknownName};
use crate::config::Config;
use crate::kpi::inputs::KpiRules;
use crate::kpi::resolution::resolved_at;
use crate::kpi::window::{resolve, Window, WindowSpec};
use crate::kpi::{explain, full_report};
use crate::model::{Platform, ReportQuery};
use crate::store::{Store, StoreError};

/// Output format of `carepulse kpi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KpiFormat {
    Text,
    Json,
}

/// Output format of `carepulse export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
}

/// Which window, in which zone, cut by which brand, platform and product.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportScope {
    /// Only this brand (as stored: the brand's name).
    #[arg(long)]
    pub brand: Option<String>,
    /// Only this platform: x, facebook, mastodon, bluesky.
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Only messages and conversations naming this product.
    #[arg(long)]
    pub product: Option<String>,
    /// today, yesterday, week (last 7 full days) or month (last 30 full days). Default:
    /// yesterday.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub window: Option<String>,
    /// First local day, YYYY-MM-DD (with --to).
    #[arg(long, requires = "to", value_parser = super::parse_day)]
    pub from: Option<NaiveDate>,
    /// Last local day, YYYY-MM-DD, included (with --from).
    #[arg(long, requires = "from", value_parser = super::parse_day)]
    pub to: Option<NaiveDate>,
    /// Time zone of the days (IANA name, e.g. Europe/London); default: config `timezone`.
    #[arg(long, value_parser = super::parse_tz)]
    pub tz: Option<Tz>,
    /// Report as seen at this instant (RFC 3339, e.g. 2026-11-23T09:00:00Z), so an answer can
    /// be reproduced; default: now.
    #[arg(long, value_parser = super::parse_instant)]
    pub now: Option<DateTime<Utc>>,
}

impl ReportScope {
    /// The window spec the options name.
    pub fn spec(&self) -> anyhow::Result<WindowSpec> {
        match (&self.window, self.from, self.to) {
            (Some(w), _, _) => WindowSpec::parse(w).with_context(|| {
                format!("unknown --window '{w}': use today, yesterday, week or month, or --from YYYY-MM-DD --to YYYY-MM-DD")
            }),
            (None, Some(a), Some(b)) => {
                if b < a {
                    bail!("--to {b} is before --from {a}: give the earlier day first");
                }
                Ok(WindowSpec::Dates(a, b))
            }
            _ => Ok(WindowSpec::Yesterday),
        }
    }

    /// Filters as a store query (start and end are set per window).
    pub fn filters(&self) -> ReportQuery {
        ReportQuery {
            start: 0,
            end: 0,
            brand: self.brand.clone(),
            platform: self.platform,
            product: self.product.clone(),
        }
    }

    /// `--brand` and `--product` checked against the known names (`resolve_filters`): a
    /// name in another case becomes the known one, an unknown name is an error listing the
    /// known ones.
    pub async fn check_names(&mut self, store: &Store, config: &Config) -> anyhow::Result<()> {
        let given = Filters {
            brand: self.brand.take(),
            platform: self.platform,
            product: self.product.take(),
        };
        let known = resolve_filters(store, config, given)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.cli_message()))?;
        self.brand = known.brand;
        self.product = known.product;
        Ok(())
    }

    fn rules(&self, config: &Config) -> KpiRules {
        let mut rules = KpiRules::from_config(config);
        if let Some(tz) = self.tz {
            rules.timezone = tz;
        }
        rules
    }
}

/// `commands::resolve_filters` against the brands and products with stored data and those of
/// `config`. If the stored names cannot be read, the filters pass as typed (the report itself
/// then says what went wrong).
pub async fn resolve_filters(
    store: &Store,
    config: &Config,
    filters: Filters,
) -> Result<Filters, UnknownName> {
    let (brand, product) = (filters.brand.is_some(), filters.product.is_some());
    if !brand && !product {
        return Ok(filters);
    }
    // Only the names a filter asks about are read.
    let stored = async {
        let brands = if brand {
            store.known_brands().await?
        } else {
            Vec::new()
        };
        let products = if product {
            store.known_products().await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((brands, products))
    };
    let (mut brands, mut products) = match stored.await {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the stored brand and product names");
            return Ok(filters);
        }
    };
    brands.extend(config.brands.iter().map(|b| b.name.clone()));
    products.extend(config.products.iter().map(|p| p.name.clone()));
    crate::commands::resolve_filters(filters, &brands, &products)
}

/// `carepulse kpi`: the KPI report of a window.
#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct KpiArgs {
    #[command(subcommand)]
    pub command: Option<KpiCommand>,
    #[command(flatten)]
    pub scope: ReportScope,
    /// text (aligned, with units and changes) or json (KPI.md's keys, seconds, shares in [0, 1]).
    #[arg(long, value_enum, default_value = "text")]
    pub format: KpiFormat,
}

/// Subcommands of `carepulse kpi`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KpiCommand {
    /// Print a metric's definition, attribution rule and formula.
    Explain {
        /// JSON key or title of the metric, e.g. frt_median_s or "grade of service".
        name: String,
    },
}

/// Runs `carepulse kpi`.
pub async fn run_kpi(
    mut args: KpiArgs,
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if let Some(KpiCommand::Explain { name }) = &args.command {
        return explain_metric(name, out);
    }
    args.scope.check_names(store, config).await?;
    let now = args.scope.now.unwrap_or(now);
    let rules = args.scope.rules(config);
    let spec = args.scope.spec()?;
    let window = resolve(spec, now, rules.timezone);
    // Days changed since the last rebuild are read from the conversations either way; this
    // makes the next report fast.
    if let Err(e) = store.refresh_kpi_blocks().await {
        tracing::warn!(error = %e, "KPI blocks not rebuilt; reading the conversations instead");
    }
    let inputs = store
        .kpi_inputs(
            &args.scope.filters(),
            &spec.label(),
            window,
            now.timestamp(),
            &rules,
        )
        .await
        .context("reading the KPI data from the database")?;
    let report = full_report(&inputs, now.timestamp(), &rules);
    match args.format {
        KpiFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report.to_json())?;
            writeln!(out)?;
        }
        KpiFormat::Text => write!(out, "{}", report.to_text())?,
    }
    Ok(())
}

/// Prints `explain NAME`, or the list of metric keys when the name is unknown.
pub fn explain_metric(name: &str, out: &mut impl Write) -> anyhow::Result<()> {
    match explain(name) {
        Some(text) => {
            write!(out, "{text}")?;
            Ok(())
        }
        None => {
            let keys: Vec<&str> = crate::kpi::docs::METRICS.iter().map(|m| m.key).collect();
            bail!(
                "no metric named '{name}'. Known metrics: {}",
                keys.join(", ")
            )
        }
    }
}

/// `carepulse export`: one CSV row per conversation started in the window.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub scope: ReportScope,
    /// Output format (csv).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
}

/// CSV columns of `carepulse export`.
pub const EXPORT_COLUMNS: [&str; 15] = [
    "conversation_id",
    "brand",
    "platform",
    "customer",
    "start",
    "first_reply",
    "frt_s",
    "resolved_at",
    "resolution",
    "replies",
    "reopens",
    "category",
    "actionable",
    "sentiment",
    "link",
];

/// Runs `carepulse export`. Instants are RFC 3339 in the report's zone; `sentiment` is the
/// compound score of the opening message; `resolved_at` is empty while unresolved at now.
pub async fn run_export(
    mut args: ExportArgs,
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    args.scope.check_names(store, config).await?;
    write_export(args, store, config, now, out).await
}

/// `run_export` for a scope whose brand and product names are already checked (chat checks
/// them when it parses the command).
pub async fn write_export(
    args: ExportArgs,
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let now = args.scope.now.unwrap_or(now);
    let rules = args.scope.rules(config);
    let window: Window = resolve(args.scope.spec()?, now, rules.timezone);
    let query = ReportQuery {
        start: window.start_s(),
        end: window.end_s(),
        ..args.scope.filters()
    };
    let conversations = store
        .conversations_started(&query)
        .await
        .context("reading conversations from the database")?;
    let tz = rules.timezone;
    let time = |t: Option<i64>| {
        t.and_then(|t| tz.timestamp_opt(t, 0).single())
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
    };
    let mut w = csv::Writer::from_writer(out);
    w.write_record(EXPORT_COLUMNS)?;
    let n = now.timestamp();
    for c in &conversations {
        let reply = c.first_response_at.filter(|&r| r <= n);
        let resolved = resolved_at(c, n, rules.auto_resolve_after_s);
        w.write_record([
            c.id.to_string(),
            c.brand.clone(),
            c.platform.map(|p| p.as_str()).unwrap_or("").to_string(),
            c.customer.clone(),
            time(c.first_inbound_at),
            time(reply),
            reply
                .zip(c.first_inbound_at)
                .map(|(r, f)| (r - f).to_string())
                .unwrap_or_default(),
            time(resolved.map(|r| r.0)),
            resolved.map(|r| r.1.as_str()).unwrap_or("").to_string(),
            c.replies.to_string(),
            c.reopen_count.to_string(),
            c.category.map(|x| x.as_str()).unwrap_or("").to_string(),
            c.actionable.to_string(),
            c.opening_compound
                .map(|x| format!("{x:.4}"))
                .unwrap_or_default(),
            c.first_inbound_url.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
