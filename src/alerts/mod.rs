//! Alerts that earn their place: pure detectors that take data and `now` and return decisions.
//!
//! - [`spike`]: seasonal, robust complaint-spike detector over per-bucket counts;
//! - [`surge`]: the spike detector's sustained-surge test (hours against earlier days);
//! - [`cooldown`]: one alert per spike, re-alert on growth, acknowledge and snooze;
//! - [`SeriesAlerter`]: detector + cooldown for one series, the unit the bot runs each bucket and
//!   `carepulse alerts backtest` replays;
//! - [`waiting`]: one batched nudge about customers waiting past the SLA;
//! - [`badge`]: Facebook's "very responsive" badge at risk;
//! - [`message`]: the spike alert as a chat-neutral `Post`;
//! - [`quiet`]: quiet hours (hold, then roll up);
//! - [`config`]: the `[alerts]` section of `config.toml`.
//!
//! Nothing here does I/O or reads a clock.

pub mod badge;
pub mod config;
pub mod cooldown;
pub mod message;
pub mod quiet;
pub mod spike;
pub mod surge;
pub mod waiting;

pub use config::{parse_duration_s, AlertsConfig, Metric};
pub use cooldown::{AlertState, CooldownParams, Decision, FireReason, Input, Silenced};
pub use spike::{Preset, Seasonality, SpikeDetector, SpikeParams, SpikeScore};

use serde::{Deserialize, Serialize};

use crate::model::UnixSeconds;

/// Detector and cooldown of one series (brand × platform × metric). Serialisable: persist it
/// whole, or persist only `state` and rebuild the detector by replaying history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesAlerter {
    pub detector: SpikeDetector,
    pub state: AlertState,
    pub cooldown: CooldownParams,
}

impl SeriesAlerter {
    pub fn new(
        params: SpikeParams,
        cooldown: CooldownParams,
        bucket_s: i64,
        utc_offset_s: i64,
    ) -> Self {
        SeriesAlerter {
            detector: SpikeDetector::new(params, bucket_s, utc_offset_s),
            state: AlertState::default(),
            cooldown,
        }
    }

    /// Score the bucket starting at `at` holding `value` counts and say whether to alert.
    pub fn step(&mut self, at: UnixSeconds, value: f64) -> (SpikeScore, Decision) {
        let score = self.detector.observe(at, value);
        let decision = self.state.step(Input::Bucket(score), &self.cooldown);
        (score, decision)
    }

    /// A chat button was pressed.
    pub fn button(&mut self, input: Input) -> Decision {
        self.state.step(input, &self.cooldown)
    }
}

/// One row of a backtest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BacktestRow {
    pub at: UnixSeconds,
    pub value: f64,
    pub score: f64,
    pub alert: bool,
}

/// Replays a series through a fresh [`SeriesAlerter`]; row `i`'s decision uses rows `..=i` only.
pub fn backtest(
    series: impl IntoIterator<Item = (UnixSeconds, f64)>,
    params: SpikeParams,
    cooldown: CooldownParams,
    bucket_s: i64,
) -> Vec<BacktestRow> {
    let mut alerter = SeriesAlerter::new(params, cooldown, bucket_s, 0);
    series
        .into_iter()
        .map(|(at, value)| {
            let (score, decision) = alerter.step(at, value);
            BacktestRow {
                at,
                value,
                score: score.z,
                alert: decision.fires(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtest_is_streaming() {
        // The decision at row i must not change when later rows are appended.
        let series: Vec<(i64, f64)> = (0..2000)
            .map(|i| {
                let v = if i == 900 {
                    400.0
                } else {
                    20.0 + (i % 7) as f64
                };
                (i * 300, v)
            })
            .collect();
        let p = SpikeParams::default();
        let c = CooldownParams::default();
        let full = backtest(series.clone(), p, c, 300);
        let head = backtest(series[..901].to_vec(), p, c, 300);
        assert_eq!(&full[..901], &head[..]);
        assert!(full[900].alert, "planted spike missed");
        assert_eq!(full.iter().filter(|r| r.alert).count(), 1);
    }
}
