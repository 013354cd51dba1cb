//! Answers chat commands: parses the line with `commands::parse`, reads what the command
//! needs (the full report, the backlog, the daily series, the export rows) and renders the
//! post with the pure `commands` and `digest` functions. Every transport (console, Discord
//! gateway, Discord HTTP interactions) calls `App::answer`; autocomplete calls `App::suggest`.

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::App;
use crate::cli::kpi::{write_export, ExportArgs, ExportFormat, ReportScope};
use crate::commands::answers::{answer_export, BACKLOG_LISTED};
use crate::commands::{self, Command, Filters};
use crate::digest::post::{Post, Tone};
use crate::digest::series::DayVolume;
use crate::kpi::window::WindowSpec;
use crate::model::ReportQuery;

/// Most autocomplete suggestions Discord shows.
const SUGGESTIONS: usize = 25;

fn query_of(filters: &Filters) -> ReportQuery {
    ReportQuery {
        start: 0,
        end: 0,
        brand: filters.brand.clone(),
        platform: filters.platform,
        product: filters.product.clone(),
    }
}

/// The `days` full local days before `now`'s day: (first, last).
pub fn last_full_days(days: u32, now: DateTime<Utc>, tz: chrono_tz::Tz) -> (NaiveDate, NaiveDate) {
    let today = now.with_timezone(&tz).date_naive();
    (
        today - Duration::days(i64::from(days.max(1))),
        today - Duration::days(1),
    )
}

impl App {
    /// Answers one command line as typed in any chat. Wrong or missing arguments get a
    /// private usage message; a failure reading the data gets a private error message.
    pub async fn answer(&self, line: &str, now: DateTime<Utc>) -> Post {
        // A button press (`/button <custom_id>`): alert acknowledge / snooze.
        if let Some(id) = line.trim().strip_prefix("/button ") {
            return match super::alerts::handle_action(self, id.trim(), now).await {
                Some(post) => post,
                None => Post::usage_error(format!(
                    "unknown button '{}': buttons come with alerts (alert:ack:BRAND, alert:snooze1h:BRAND)",
                    id.trim()
                )),
            };
        }
        let mut command = match commands::parse(line) {
            Ok(c) => c,
            Err(usage) => return Post::usage_error(usage),
        };
        if let Some(filters) = command.filters_mut() {
            match self.resolve_filters(std::mem::take(filters)).await {
                Ok(known) => *filters = known,
                Err(unknown) => return Post::usage_error(unknown),
            }
        }
        match self.answer_command(command, now).await {
            Ok(post) => post,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), line, "cannot answer a command");
                let text = format!("Sorry, that answer could not be computed: {e:#}");
                Post {
                    title: "carepulse".into(),
                    summary: text.clone(),
                    lines: vec![text],
                    tone: Tone::Alert,
                    ephemeral: true,
                    ..Post::default()
                }
            }
        }
    }

    /// `commands::resolve_filters` against the brands and products with stored data and
    /// those of the configuration. If the stored names cannot be read, the filters pass as
    /// typed (the report itself then says what went wrong).
    pub async fn resolve_filters(&self, filters: Filters) -> Result<Filters, String> {
        crate::cli::kpi::resolve_filters(&self.store, &self.config, filters)
            .await
            .map_err(|e| e.chat_message())
    }

    /// Answers a parsed command.
    pub async fn answer_command(
        &self,
        command: Command,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Post> {
        Ok(match command {
            Command::Help => commands::answer_help(),
            Command::Explain(name) => commands::answer_explain(&name),
            Command::Kpi { window, filters } => {
                let r = self.report(window, &filters, now).await?;
                let label = commands::answers::filters_label(&filters);
                crate::digest::report_post(&format!("KPIs {}{label}", window.label()), &r)
            }
            Command::Stories { window, filters } => {
                let r = self.report(window, &filters, now).await?;
                commands::answer_stories(&r, &filters)
            }
            Command::Backlog { filters } => {
                let (total, items) = self
                    .store
                    .waiting_conversations(&query_of(&filters), now.timestamp(), BACKLOG_LISTED)
                    .await
                    .context("reading the backlog")?;
                commands::answer_backlog(&items, total, &filters, now.timestamp())
            }
            Command::Chart {
                kind,
                days,
                filters,
            } => {
                let series = self.daily_volume(days, &filters, now).await?;
                commands::answer_chart(kind, &series, &filters)
            }
            Command::Export { window, filters } => {
                let csv = self.export_csv(window, &filters, now).await?;
                answer_export(&window.label(), &filters, csv)
            }
        })
    }

    /// Inbound volume per local day over the `days` full days before `now`'s day.
    pub async fn daily_volume(
        &self,
        days: u32,
        filters: &Filters,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<DayVolume>> {
        let tz = self.config.timezone;
        let (first, last) = last_full_days(days, now, tz);
        self.store
            .daily_volume(&query_of(filters), first, last, tz)
            .await
            .context("reading the daily volumes")
    }

    /// The per-conversation CSV of `carepulse export` for a window, in memory (`filters`
    /// already resolved by `answer`).
    pub async fn export_csv(
        &self,
        window: WindowSpec,
        filters: &Filters,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<u8>> {
        let (word, from, to) = match window {
            WindowSpec::Today => (Some("today"), None, None),
            WindowSpec::Yesterday => (Some("yesterday"), None, None),
            WindowSpec::Week => (Some("week"), None, None),
            WindowSpec::Month => (Some("month"), None, None),
            WindowSpec::Dates(a, b) => (None, Some(a), Some(b)),
        };
        let args = ExportArgs {
            scope: ReportScope {
                brand: filters.brand.clone(),
                platform: filters.platform,
                product: filters.product.clone(),
                window: word.map(str::to_string),
                from,
                to,
                tz: None,
                now: Some(now),
            },
            format: ExportFormat::Csv,
        };
        let mut out = Vec::new();
        write_export(args, &self.store, &self.config, now, &mut out)
            .await
            .context("building the export")?;
        Ok(out)
    }

    /// Autocomplete: values seen in the data for `brand`, `platform` and `product`, metric
    /// keys for `name` (explain). Errors give no suggestions (and are logged).
    pub async fn suggest(&self, option: &str, typed: &str) -> Vec<String> {
        if option == "name" {
            let t = typed.trim().to_ascii_lowercase();
            return crate::kpi::docs::METRICS
                .iter()
                .filter(|m| m.key.contains(&t) || m.title.to_ascii_lowercase().contains(&t))
                .map(|m| m.key.to_string())
                .take(SUGGESTIONS)
                .collect();
        }
        match self.store.suggestions(option, typed, SUGGESTIONS).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, option, "no autocomplete suggestions");
                Vec::new()
            }
        }
    }
}
