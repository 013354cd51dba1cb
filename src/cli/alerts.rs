//! `carepulse alerts ...`: replay a count series through the exact spike alerter the bot runs.
//!
//! `carepulse alerts backtest --series FILE.csv [--bucket 5m] [--preset balanced]` reads
//! `timestamp,value` rows (a count per bucket) and writes `timestamp,value,score,alert` for every
//! row. `--store --brand B` reads the series from the configured database instead (the global
//! `--db`/`--config` pick it; the caller supplies the loader through [`run_alerts_with`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDateTime};
use clap::{Args, Subcommand};

use crate::alerts::{self, parse_duration_s, CooldownParams, Metric, Preset, SpikeParams};
use crate::model::{Platform, UnixSeconds};

/// Spike alerts: backtest the detector on a series.
#[derive(Debug, Clone, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: AlertsCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AlertsCommand {
    /// Replay a series of per-bucket counts through the spike alerter and print
    /// `timestamp,value,score,alert` for every row (alert is 1 where the bot would post).
    Backtest(BacktestArgs),
}

/// Arguments of `alerts backtest`.
#[derive(Debug, Clone, Args)]
pub struct BacktestArgs {
    /// CSV of `timestamp,value` rows (header optional); timestamps like `2015-02-26 21:42:53`
    /// (UTC), RFC 3339 or Unix seconds.
    #[arg(long, value_name = "FILE.csv", conflicts_with = "store")]
    pub series: Option<PathBuf>,
    /// Read the series from the carepulse database instead (the global --db or the config's
    /// `database`; needs --brand).
    #[arg(long, requires = "brand")]
    pub store: bool,
    /// Brand whose series to read from the store.
    #[arg(long, value_name = "B")]
    pub brand: Option<String>,
    /// Platform to read from the store (default: all platforms together).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Count to read from the store: complaints, negative or mentions.
    #[arg(long, default_value = "complaints", value_parser = parse_metric)]
    pub metric: Metric,
    /// Bucket length of the series: 5m, 15m, 1h...
    #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
    pub bucket: i64,
    /// Sensitivity preset: sensitive, balanced or strict.
    #[arg(long, default_value = "balanced")]
    pub preset: Preset,
    /// Minimum time between two alerts unless the spike grows by half again.
    #[arg(long, default_value = "60m", value_parser = parse_duration_arg)]
    pub cooldown: i64,
    /// Override the preset's score threshold (standard deviations).
    #[arg(long)]
    pub z: Option<f64>,
    /// Override the preset's minimum ratio to the expected count.
    #[arg(long)]
    pub ratio: Option<f64>,
    /// Override the preset's minimum count per bucket.
    #[arg(long)]
    pub floor: Option<f64>,
}

fn parse_duration_arg(s: &str) -> Result<i64, String> {
    parse_duration_s(s).ok_or_else(|| format!("'{s}' is not a duration such as 90s, 5m, 1h"))
}

fn parse_metric(s: &str) -> Result<Metric, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "complaints" => Ok(Metric::Complaints),
        "negative" => Ok(Metric::Negative),
        "mentions" => Ok(Metric::Mentions),
        _ => Err(format!(
            "'{s}' is not a metric: expected complaints, negative or mentions"
        )),
    }
}

/// One count per bucket: (bucket start, count).
pub type Series = Vec<(UnixSeconds, f64)>;
/// A parsed row: the original timestamp and value text, and the parsed pair.
pub type SeriesRow = ((String, String), (UnixSeconds, f64));
/// Loads a series from the store for `--db` mode.
pub type SeriesLoader<'a> = &'a dyn Fn(&DbSeriesRequest) -> anyhow::Result<Series>;

/// What the caller must load from the store for `--store` mode.
#[derive(Debug, Clone, PartialEq)]
pub struct DbSeriesRequest {
    pub brand: String,
    pub platform: Option<Platform>,
    pub metric: Metric,
    pub bucket_s: i64,
}

/// Runs `alerts ...` with `load` supplying `(bucket start, count)` rows for `--store` mode.
pub fn run_alerts_with(
    args: AlertsArgs,
    mut out: impl Write,
    load: SeriesLoader<'_>,
) -> anyhow::Result<()> {
    let AlertsCommand::Backtest(a) = args.command;
    let mut params = SpikeParams::preset(a.preset);
    if let Some(z) = a.z {
        params.z_threshold = z;
    }
    if let Some(r) = a.ratio {
        params.min_ratio = r;
    }
    if let Some(f) = a.floor {
        params.floor = f;
    }
    let cooldown = CooldownParams {
        cooldown_s: a.cooldown,
        ..CooldownParams::default()
    };
    let (labels, series): (Vec<(String, String)>, Series) = match (&a.series, a.store) {
        (Some(path), _) => read_series(path)?.into_iter().unzip(),
        (None, true) => {
            let req = DbSeriesRequest {
                brand: a.brand.clone().unwrap_or_default(),
                platform: a.platform,
                metric: a.metric,
                bucket_s: a.bucket,
            };
            let rows = load(&req)?;
            rows.into_iter()
                .map(|(at, v)| {
                    let ts = DateTime::from_timestamp(at, 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| at.to_string());
                    ((ts, v.to_string()), (at, v))
                })
                .unzip()
        }
        (None, false) => {
            bail!("alerts backtest needs --series FILE.csv, or --store --brand B to read the database")
        }
    };
    let rows = alerts::backtest(series, params, cooldown, a.bucket);
    let mut w = std::io::BufWriter::new(&mut out);
    writeln!(w, "timestamp,value,score,alert")?;
    for ((ts, value), row) in labels.iter().zip(&rows) {
        writeln!(w, "{ts},{value},{:.4},{}", row.score, u8::from(row.alert))?;
    }
    w.flush()?;
    Ok(())
}

/// Parses a timestamp: `YYYY-MM-DD HH:MM:SS[.f]` (UTC), RFC 3339, or Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<UnixSeconds> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp());
        }
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

/// Reads `timestamp,value` rows; returns the original text of both cells with the parsed pair.
fn read_series(path: &Path) -> anyhow::Result<Vec<SeriesRow>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read series file {}", path.display()))?;
    parse_series(&text).with_context(|| format!("in {}", path.display()))
}

/// Parses series CSV text (see [`read_series`]).
pub fn parse_series(text: &str) -> anyhow::Result<Vec<SeriesRow>> {
    let mut rows = Vec::new();
    let mut prev: Option<UnixSeconds> = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut cells = line.split(',');
        let (Some(ts), Some(v)) = (cells.next(), cells.next()) else {
            bail!("line {n}: expected 'timestamp,value', found '{line}'");
        };
        if cells.next().is_some() {
            bail!("line {n}: expected exactly two columns 'timestamp,value', found '{line}'");
        }
        let (ts, v) = (ts.trim(), v.trim());
        if n == 1 && ts.eq_ignore_ascii_case("timestamp") {
            continue;
        }
        let at = parse_timestamp(ts).with_context(|| {
            format!("line {n}: '{ts}' is not a timestamp (use 2015-02-26 21:42:53, RFC 3339 or Unix seconds)")
        })?;
        let value: f64 = v
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .with_context(|| format!("line {n}: value '{v}' is not a count (a number >= 0)"))?;
        if let Some(p) = prev {
            if at < p {
                bail!("line {n}: timestamp {ts} is earlier than the row before; sort the series by time");
            }
        }
        prev = Some(at);
        rows.push(((ts.to_string(), v.to_string()), (at, value)));
    }
    if rows.is_empty() {
        bail!("the series has no rows; expected 'timestamp,value' lines");
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nab_style_rows_and_reports_bad_lines() {
        let rows =
            parse_series("timestamp,value\n2015-02-26 21:42:53,104\n2015-02-26 21:47:53,100\n")
                .expect("good rows");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1, (1_424_986_973, 104.0));
        let e =
            parse_series("timestamp,value\n2015-02-26 21:42:53,104\n2015-02-26 21:47:53,lots\n")
                .expect_err("bad value");
        assert!(format!("{e:#}").contains("line 3"), "{e:#}");
        let e = parse_series("timestamp,value\nyesterday,4\n").expect_err("bad time");
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
        let e = parse_series("1000,4\n900,4\n").expect_err("unsorted");
        assert!(format!("{e:#}").contains("line 2"), "{e:#}");
    }
}
