//! The `[alerts]` section of `config.toml`: strict (unknown keys are errors), every field
//! optional with a sensible default, and validated into the detectors' parameters.
//!
//! ```toml
//! [alerts]
//! preset = "balanced"        # sensitive | balanced | strict
//! metric = "complaints"      # complaints | negative | mentions
//! bucket = "5m"
//! cooldown = "60m"
//! channel = "alerts"
//! timezone = "Europe/Berlin"
//!
//! [alerts.quiet_hours]
//! start = "22:00"
//! end = "07:00"
//! ```

use serde::{Deserialize, Serialize};

use super::cooldown::CooldownParams;
use super::quiet::QuietHours;
use super::spike::{Preset, Seasonality, SpikeParams};

/// Which per-bucket count the spike detector watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Inbound messages classified as complaints.
    #[default]
    Complaints,
    /// Inbound messages with negative sentiment (compound <= -0.05).
    Negative,
    /// All inbound mentions.
    Mentions,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Complaints => "complaints",
            Metric::Negative => "negative messages",
            Metric::Mentions => "mentions",
        }
    }
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Turn every alert off with `false`. Default `true`.
    pub enabled: bool,
    /// Spike sensitivity preset: `sensitive`, `balanced` (default) or `strict`.
    pub preset: Preset,
    /// What is counted per bucket: `complaints` (default), `negative` or `mentions`.
    pub metric: Metric,
    /// Bucket length: `5m` (default), `15m`, `1h`... The detector scores each closed bucket.
    pub bucket: String,
    /// Minimum time between two spike alerts of one brand and platform unless the spike grows
    /// by half again. Default `60m`.
    pub cooldown: String,
    /// Minimum complaints in one bucket before any spike alert (overrides the preset's floor:
    /// sensitive 3, balanced 5, strict 10).
    pub floor: Option<f64>,
    /// Seasonal slots of the baseline: `weekday_weekend_hour` (default), `hour_of_day`,
    /// `hour_of_week` or `none`.
    pub seasonality: Seasonality,
    /// Chat channel alerts go to. Default `alerts`.
    pub channel: String,
    /// IANA time zone for seasonality and quiet hours. Default `UTC`.
    pub timezone: String,
    /// Hold alerts at night and post one roll-up when the quiet hours end. Default: none.
    pub quiet_hours: Option<QuietHours>,
    /// Waiting-customer nudges.
    pub waiting: WaitingConfig,
    /// Responsiveness-badge warnings.
    pub badge: BadgeConfig,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            preset: Preset::Balanced,
            metric: Metric::Complaints,
            bucket: "5m".into(),
            cooldown: "60m".into(),
            floor: None,
            seasonality: Seasonality::WeekdayWeekendHour,
            channel: "alerts".into(),
            timezone: "UTC".into(),
            quiet_hours: None,
            waiting: WaitingConfig::default(),
            badge: BadgeConfig::default(),
        }
    }
}

/// `[alerts.waiting]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WaitingConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Business-time wait after which a customer is overdue. Default `1h`.
    pub sla: String,
    /// Most conversations listed in one nudge (oldest first). Default 10.
    pub max_listed: usize,
    /// Minimum time between two nudges. Default `30m`.
    pub every: String,
    /// Customers waiting longer than this (calendar time) are left out of the nudge: they are
    /// in `/kpi backlog`, and a nudge that always lists the same lost cases gets muted.
    /// Default `24h`.
    pub max_age: String,
}

impl Default for WaitingConfig {
    fn default() -> Self {
        WaitingConfig {
            enabled: true,
            sla: "1h".into(),
            max_listed: 10,
            every: "30m".into(),
            max_age: "24h".into(),
        }
    }
}

/// `[alerts.badge]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BadgeConfig {
    /// Default `true`.
    pub enabled: bool,
    /// "At risk" margin, as a fraction of a threshold. Default 0.10 (KPI.md).
    pub margin: f64,
}

impl Default for BadgeConfig {
    fn default() -> Self {
        BadgeConfig {
            enabled: true,
            margin: 0.10,
        }
    }
}

/// A configuration value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("alerts.{field}: '{given}' is not a duration; write a number and a unit, e.g. 90s, 5m, 1h, 2d")]
    Duration { field: &'static str, given: String },
    #[error("alerts.{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Parses `90s`, `5m`, `1h`, `2d` (or a bare number of seconds) into seconds.
pub fn parse_duration_s(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

fn duration(field: &'static str, given: &str) -> Result<i64, ConfigError> {
    parse_duration_s(given).ok_or_else(|| ConfigError::Duration {
        field,
        given: given.to_string(),
    })
}

impl AlertsConfig {
    /// Bucket length in seconds.
    pub fn bucket_s(&self) -> Result<i64, ConfigError> {
        duration("bucket", &self.bucket)
    }

    /// Detector parameters: the preset, with the configured floor and seasonality.
    pub fn spike_params(&self) -> Result<SpikeParams, ConfigError> {
        let mut p = SpikeParams::preset(self.preset);
        if let Some(floor) = self.floor {
            if !(floor.is_finite() && floor >= 0.0) {
                return Err(ConfigError::Invalid {
                    field: "floor",
                    reason: format!("{floor} must be a count of 0 or more"),
                });
            }
            p.floor = floor;
        }
        p.seasonality = self.seasonality;
        Ok(p)
    }

    pub fn cooldown_params(&self) -> Result<CooldownParams, ConfigError> {
        Ok(CooldownParams {
            cooldown_s: duration("cooldown", &self.cooldown)?,
            ..CooldownParams::default()
        })
    }

    /// The waiting SLA in seconds.
    pub fn waiting_sla_s(&self) -> Result<i64, ConfigError> {
        duration("waiting.sla", &self.waiting.sla)
    }

    /// Checks every field; call once at start-up.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bucket_s()?;
        self.spike_params()?;
        self.cooldown_params()?;
        self.waiting_sla_s()?;
        duration("waiting.every", &self.waiting.every)?;
        duration("waiting.max_age", &self.waiting.max_age)?;
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::Invalid {
                field: "timezone",
                reason: format!(
                    "'{}' is not an IANA time zone such as Europe/Berlin",
                    self.timezone
                ),
            });
        }
        if let Some(q) = &self.quiet_hours {
            q.validate().map_err(|reason| ConfigError::Invalid {
                field: "quiet_hours",
                reason,
            })?;
        }
        if !(0.0..1.0).contains(&self.badge.margin) {
            return Err(ConfigError::Invalid {
                field: "badge.margin",
                reason: format!("{} must be a fraction in [0, 1)", self.badge.margin),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_gives_defaults() {
        let c: AlertsConfig = toml::from_str("").expect("empty config");
        assert_eq!(c, AlertsConfig::default());
        assert_eq!(c.bucket_s(), Ok(300));
        assert_eq!(c.cooldown_params().map(|p| p.cooldown_s), Ok(3600));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn full_section_parses_and_unknown_keys_fail() {
        let c: AlertsConfig = toml::from_str(
            r#"
            preset = "strict"
            metric = "negative"
            bucket = "15m"
            cooldown = "2h"
            floor = 8
            channel = "care-alerts"
            timezone = "Europe/Berlin"
            [quiet_hours]
            start = "22:00"
            end = "07:00"
            [waiting]
            sla = "30m"
            "#,
        )
        .expect("full config");
        assert_eq!(c.preset, Preset::Strict);
        assert_eq!(c.metric, Metric::Negative);
        assert_eq!(c.spike_params().map(|p| p.floor), Ok(8.0));
        assert_eq!(c.waiting_sla_s(), Ok(1800));
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<AlertsConfig>("presett = \"strict\"").is_err());
    }

    #[test]
    fn bad_values_say_what_to_write() {
        let c = AlertsConfig {
            bucket: "five minutes".into(),
            ..AlertsConfig::default()
        };
        let e = c.validate().expect_err("bad bucket");
        assert!(e.to_string().contains("e.g. 90s, 5m"), "{e}");
        let c = AlertsConfig {
            timezone: "Mars/Olympus".into(),
            ..AlertsConfig::default()
        };
        assert!(c.validate().is_err());
        assert_eq!(parse_duration_s("90"), Some(90));
        assert_eq!(parse_duration_s("2d"), Some(172_800));
        assert_eq!(parse_duration_s("0m"), None);
    }
}
