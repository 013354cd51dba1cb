//! When a spike alert may be posted: a pure state machine over detector scores and the chat
//! buttons (acknowledge, snooze). `AlertState` is serde-serialisable so the caller persists it
//! per brand × platform × metric between checks and across restarts.
//!
//! Rules (one alert per spike):
//! - a run of *above* buckets is an episode; it ends after `calm_s` without an above bucket;
//! - an episode is alerted once, at its first above bucket, unless it starts within `cooldown_s`
//!   of the previous alert (then it waits for the cooldown to pass while still above);
//! - an alerted spike re-alerts only if it grows by half again (`regrow`, 1.5× the count of the
//!   last alert), even inside the cooldown;
//! - acknowledge silences the current episode (no re-alerts, not even for growth) until it ends;
//! - snooze(until) silences everything before `until`; a spike still going when the snooze ends
//!   that was never alerted is alerted then.

use serde::{Deserialize, Serialize};

use super::spike::SpikeScore;
use crate::model::UnixSeconds;

/// Tunables of the cooldown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CooldownParams {
    /// Minimum time between two alerts of the same series, unless the spike grows (seconds).
    pub cooldown_s: i64,
    /// Growth over the last alerted count that re-alerts during a spike or a cooldown.
    pub regrow: f64,
    /// Time without an above bucket that ends an episode (seconds).
    pub calm_s: i64,
}

impl Default for CooldownParams {
    fn default() -> Self {
        CooldownParams {
            cooldown_s: 3600,
            regrow: 1.5,
            calm_s: 1800,
        }
    }
}

/// One spike episode in progress.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub started_at: UnixSeconds,
    pub last_above_at: UnixSeconds,
    /// Largest bucket count so far, with its expected count and score.
    pub peak: SpikeScore,
    pub alerted: bool,
    pub acknowledged: bool,
}

/// The persisted alerting state of one series.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertState {
    pub episode: Option<Episode>,
    pub last_alert_at: Option<UnixSeconds>,
    /// Bucket count that the last alert reported.
    pub last_alert_value: f64,
    pub snoozed_until: Option<UnixSeconds>,
}

/// What happened to the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// The detector's verdict on the newest bucket.
    Bucket(SpikeScore),
    /// Someone pressed "acknowledge".
    Acknowledge { at: UnixSeconds },
    /// Someone pressed "snooze"; silence until `until`.
    Snooze { at: UnixSeconds, until: UnixSeconds },
}

/// Why an alert fires.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FireReason {
    /// A new spike.
    New,
    /// The spike grew by half again over the count last alerted.
    Grew { previous: f64 },
}

/// Why a spike bucket did not fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Silenced {
    /// Already alerted, or inside the cooldown, and not grown enough.
    Cooldown,
    Acknowledged,
    Snoozed,
}

/// The state machine's answer for one input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Decision {
    /// Post an alert about this bucket.
    Fire {
        score: SpikeScore,
        reason: FireReason,
    },
    /// A spike bucket that stays silent, and why.
    Silenced(Silenced),
    /// Nothing to say.
    Nothing,
}

impl Decision {
    pub fn fires(&self) -> bool {
        matches!(self, Decision::Fire { .. })
    }
}

impl AlertState {
    /// Feed one input; returns whether to post.
    pub fn step(&mut self, input: Input, params: &CooldownParams) -> Decision {
        match input {
            Input::Acknowledge { .. } => {
                if let Some(ep) = self.episode.as_mut() {
                    ep.acknowledged = true;
                }
                Decision::Nothing
            }
            Input::Snooze { until, .. } => {
                self.snoozed_until = Some(until);
                Decision::Nothing
            }
            Input::Bucket(score) => self.bucket(score, params),
        }
    }

    fn bucket(&mut self, s: SpikeScore, p: &CooldownParams) -> Decision {
        if let Some(until) = self.snoozed_until {
            if s.at >= until {
                self.snoozed_until = None;
            }
        }
        if !s.above {
            if let Some(ep) = self.episode {
                if s.at - ep.last_above_at >= p.calm_s {
                    self.episode = None;
                }
            }
            return Decision::Nothing;
        }
        let ep = self.episode.get_or_insert(Episode {
            started_at: s.at,
            last_above_at: s.at,
            peak: s,
            alerted: false,
            acknowledged: false,
        });
        ep.last_above_at = s.at;
        if s.value > ep.peak.value {
            ep.peak = s;
        }
        let ep = *ep;

        let cooled = self
            .last_alert_at
            .map_or(true, |last| s.at - last >= p.cooldown_s);
        let grew = self.last_alert_at.is_some() && s.value >= self.last_alert_value * p.regrow;
        let reason = if !ep.alerted && (cooled || grew) {
            FireReason::New
        } else if grew {
            FireReason::Grew {
                previous: self.last_alert_value,
            }
        } else {
            return Decision::Silenced(Silenced::Cooldown);
        };
        if self.snoozed_until.is_some_and(|until| s.at < until) {
            return Decision::Silenced(Silenced::Snoozed);
        }
        if ep.acknowledged {
            return Decision::Silenced(Silenced::Acknowledged);
        }
        self.last_alert_at = Some(s.at);
        self.last_alert_value = s.value;
        if let Some(e) = self.episode.as_mut() {
            e.alerted = true;
        }
        Decision::Fire { score: s, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(at: i64, value: f64, above: bool) -> Input {
        Input::Bucket(SpikeScore {
            at,
            value,
            expected: 10.0,
            ratio: value / 10.0,
            z: if above { 8.0 } else { 0.0 },
            above,
        })
    }

    fn run(state: &mut AlertState, inputs: &[Input]) -> Vec<Decision> {
        let p = CooldownParams::default();
        inputs.iter().map(|i| state.step(*i, &p)).collect()
    }

    #[test]
    fn one_alert_per_spike_then_regrowth_realerts() {
        let mut st = AlertState::default();
        let d = run(
            &mut st,
            &[
                sc(0, 40.0, true),
                sc(300, 50.0, true),
                sc(600, 59.0, true),
                sc(900, 60.0, true),
                sc(1200, 61.0, true),
            ],
        );
        assert!(d[0].fires());
        assert_eq!(d[1], Decision::Silenced(Silenced::Cooldown));
        assert!(!d[2].fires());
        assert!(matches!(
            d[3],
            Decision::Fire {
                reason: FireReason::Grew { previous },
                ..
            } if previous == 40.0
        ));
        assert!(!d[4].fires(), "grew only from 60 to 61");
    }

    #[test]
    fn new_spike_waits_for_the_cooldown() {
        let mut st = AlertState::default();
        let d = run(
            &mut st,
            &[
                sc(0, 40.0, true),
                sc(300, 5.0, false),
                sc(2400, 5.0, false), // calm for 35 min: episode over
                sc(2700, 45.0, true), // new spike 45 min after the alert: in cooldown
                sc(3600, 45.0, true), // still going when the cooldown ends
                sc(3900, 45.0, true),
            ],
        );
        assert!(d[0].fires());
        assert!(st.episode.is_some());
        assert_eq!(d[3], Decision::Silenced(Silenced::Cooldown));
        assert!(matches!(
            d[4],
            Decision::Fire {
                reason: FireReason::New,
                ..
            }
        ));
        assert!(!d[5].fires());
    }

    #[test]
    fn acknowledge_silences_growth_until_the_episode_ends() {
        let mut st = AlertState::default();
        let d = run(
            &mut st,
            &[
                sc(0, 40.0, true),
                Input::Acknowledge { at: 100 },
                sc(300, 100.0, true),
                sc(600, 5.0, false),
                sc(2700, 5.0, false),
                sc(7200, 50.0, true),
            ],
        );
        assert!(d[0].fires());
        assert_eq!(d[2], Decision::Silenced(Silenced::Acknowledged));
        assert!(d[5].fires(), "a later spike alerts again");
    }

    #[test]
    fn snooze_holds_then_releases_an_unalerted_spike() {
        let mut st = AlertState::default();
        let d = run(
            &mut st,
            &[
                Input::Snooze { at: 0, until: 3600 },
                sc(600, 40.0, true),
                sc(3300, 90.0, true),
                sc(3600, 45.0, true),
            ],
        );
        assert_eq!(d[1], Decision::Silenced(Silenced::Snoozed));
        assert_eq!(d[2], Decision::Silenced(Silenced::Snoozed));
        assert!(d[3].fires());
        assert_eq!(st.snoozed_until, None);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut st = AlertState::default();
        run(&mut st, &[sc(0, 40.0, true)]);
        let json = serde_json::to_string(&st).expect("serialise");
        let back: AlertState = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, st);
    }
}
