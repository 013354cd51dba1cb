//! Complaint-spike detector: a streaming, seasonal, robust baseline of per-bucket counts and a
//! score saying how far the newest bucket stands above it.
//!
//! The model, per brand × platform × metric series:
//! - expected count `e = level × factor[slot]`, where `slot` is the hour of day split by
//!   weekday/weekend (or another [`Seasonality`]), `level` is an EWMA of the de-seasonalised
//!   count and `factor[slot]` an EWMA of the count relative to the level in that slot;
//! - every update is winsorised: a bucket above `e + winsor × spread` enters the baseline as that
//!   cap, so earlier spikes in the history barely move it;
//! - the score is the log-ratio `ln((x+k)/(e+k))` divided by its learned spread (RMS of recent
//!   log-ratios, capped), so a bursty brand needs a bigger jump than a steady one;
//! - a Poisson check keeps quiet brands honest: the Anscombe residual `2(√(x+3/8) − √(e+3/8))`,
//!   standard-normal for Poisson counts even at a handful a day, must pass `poisson_z`;
//! - a bucket is *above* when its score, its ratio to the expected count and its raw count all
//!   pass the preset's thresholds (the raw-count floor keeps quiet brands from alerting on 2
//!   complaints);
//! - the series' own tail: a bar on the score that rises by `tail_step` for every episode
//!   scoring above it and sinks so that `tail_per_day` episodes a day clear it (never below
//!   `tail_from × z_threshold`). A Poisson-steady brand never lifts it; a brand whose bursts
//!   routinely score high (many quiet accounts go from 0 to 10 several times a week) must
//!   beat its usual bursts to alert, which is what keeps one alert per real spike.
//!
//! The decision for a bucket uses only that bucket and earlier ones, so replaying a history
//! (`alerts backtest`) gives exactly what the bot would have said live.

use serde::{Deserialize, Serialize};

use super::surge::{SurgeParams, SurgeTracker};
use crate::model::UnixSeconds;

/// How buckets are grouped into seasonal slots that each learn their own normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Seasonality {
    /// One slot: no seasonality.
    None,
    /// 24 slots, one per hour of the day.
    HourOfDay,
    /// 48 slots: hour of the day, weekdays apart from weekends (the default: learns in days,
    /// not weeks).
    #[default]
    WeekdayWeekendHour,
    /// 168 slots, one per hour of the week (needs several weeks of history).
    HourOfWeek,
}

impl Seasonality {
    fn slots(self) -> usize {
        match self {
            Seasonality::None => 1,
            Seasonality::HourOfDay => 24,
            Seasonality::WeekdayWeekendHour => 48,
            Seasonality::HourOfWeek => 168,
        }
    }

    /// Slot of a local wall-clock instant (seconds since the epoch, shifted to local time).
    fn slot(self, local: i64) -> usize {
        let day = local.div_euclid(86_400);
        let hour = (local.rem_euclid(86_400) / 3600) as usize;
        // 1970-01-01 was a Thursday: Monday = 0.
        let weekday = (day + 3).rem_euclid(7) as usize;
        match self {
            Seasonality::None => 0,
            Seasonality::HourOfDay => hour,
            Seasonality::WeekdayWeekendHour => {
                if weekday >= 5 {
                    24 + hour
                } else {
                    hour
                }
            }
            Seasonality::HourOfWeek => weekday * 24 + hour,
        }
    }
}

/// Named sensitivity presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Catches smaller surges; expect more false alarms.
    Sensitive,
    /// The default: a surge must be both unusual and clearly larger than normal.
    #[default]
    Balanced,
    /// Only large, unmistakable surges.
    Strict,
}

impl std::str::FromStr for Preset {
    type Err = crate::model::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sensitive" => Ok(Preset::Sensitive),
            "balanced" => Ok(Preset::Balanced),
            "strict" => Ok(Preset::Strict),
            _ => Err(crate::model::UnknownName {
                kind: "alert preset",
                given: s.to_string(),
                expected: "sensitive, balanced, strict",
            }),
        }
    }
}

/// Every tunable of the detector. Build one with [`SpikeParams::preset`] and adjust.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpikeParams {
    /// Minimum score (log-ratio to normal over its learned spread, ~ standard deviations).
    pub z_threshold: f64,
    /// Minimum ratio of the bucket's count to the expected count.
    pub min_ratio: f64,
    /// Minimum raw count in the bucket (absolute floor for quiet brands).
    pub floor: f64,
    /// Seasonal slots.
    pub seasonality: Seasonality,
    /// Memory of the level, in seconds (EWMA time constant).
    pub level_memory_s: f64,
    /// Memory of each seasonal factor, in days of that slot's observations.
    pub factor_memory_days: f64,
    /// Minimum Poisson significance (Anscombe residual, standard deviations under Poisson
    /// noise): what keeps a quiet brand's 0 → 3 from counting as a spike.
    pub poisson_z: f64,
    /// Pseudo-count added to both sides of the log-ratio (damps tiny counts).
    pub pseudo_count: f64,
    /// Smallest spread of the log-ratio (a perfectly regular series still needs a real jump).
    pub min_spread: f64,
    /// Residuals beyond this many spreads enter the spread's EWMA capped.
    pub var_clip: f64,
    /// Length of the sustained-rise check (seconds): the sum of this many recent buckets is
    /// tested like one bucket, which catches slow surges that no single bucket shows.
    pub long_window_s: i64,
    /// Memory of the spread, in seconds.
    pub dispersion_memory_s: f64,
    /// Winsorising cap for baseline updates, in spreads above the expected count.
    pub winsor: f64,
    /// No bucket is above before this much history (seconds since the first bucket).
    pub warmup_s: i64,
    /// Sustained-surge test ([`super::surge`]): window in seconds (whole hours; 0 = off).
    #[serde(default = "default_surge_window_s")]
    pub surge_window_s: i64,
    /// Minimum negative-binomial z of the surge window's total.
    #[serde(default = "default_surge_z")]
    pub surge_z: f64,
    /// Minimum ratio of the surge window's total to its baseline.
    #[serde(default = "default_surge_min_ratio")]
    pub surge_min_ratio: f64,
    /// Days of history per hour of the day behind the surge baseline and dispersion.
    #[serde(default = "default_surge_days")]
    pub surge_days: usize,
    /// The series' own tail: how many episodes per day may exceed the learned bar before the
    /// bar rises (0 = off). A bucket is above only if its score also clears that bar, so a
    /// brand whose bursts routinely score high needs a burst bigger than its usual ones.
    #[serde(default)]
    pub tail_per_day: f64,
    /// How far (in score units) the tail bar rises per episode that clears it.
    #[serde(default = "default_tail_step")]
    pub tail_step: f64,
    /// Lowest the tail bar goes, as a fraction of `z_threshold`: only episodes scoring at
    /// least this much count towards the brand's tail.
    #[serde(default)]
    pub tail_from: f64,
}

fn default_tail_step() -> f64 {
    1.0
}

fn default_surge_window_s() -> i64 {
    3 * 3600
}
fn default_surge_z() -> f64 {
    6.0
}
fn default_surge_min_ratio() -> f64 {
    3.0
}
fn default_surge_days() -> usize {
    7
}

impl SpikeParams {
    pub fn preset(preset: Preset) -> Self {
        let base = SpikeParams {
            z_threshold: 7.0,
            min_ratio: 2.0,
            floor: 5.0,
            seasonality: Seasonality::WeekdayWeekendHour,
            level_memory_s: 12.0 * 3600.0,
            factor_memory_days: 7.0,
            dispersion_memory_s: 7.0 * 86_400.0,
            poisson_z: 3.7,
            pseudo_count: 2.0,
            min_spread: 0.12,
            var_clip: 4.0,
            long_window_s: 3600,
            winsor: 2.0,
            warmup_s: 86_400,
            surge_window_s: default_surge_window_s(),
            surge_z: default_surge_z(),
            surge_min_ratio: default_surge_min_ratio(),
            surge_days: default_surge_days(),
            tail_per_day: 0.25,
            tail_step: 0.5,
            tail_from: 0.8,
        };
        match preset {
            Preset::Sensitive => SpikeParams {
                z_threshold: 5.0,
                min_ratio: 1.5,
                floor: 3.0,
                ..base
            },
            Preset::Balanced => base,
            Preset::Strict => SpikeParams {
                z_threshold: 9.0,
                min_ratio: 3.0,
                floor: 10.0,
                ..base
            },
        }
    }
}

impl Default for SpikeParams {
    fn default() -> Self {
        SpikeParams::preset(Preset::Balanced)
    }
}

/// What the detector says about one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpikeScore {
    /// Start of the bucket.
    pub at: UnixSeconds,
    /// Count in the bucket.
    pub value: f64,
    /// Count the baseline expected for this bucket.
    pub expected: f64,
    /// `value / max(expected, 0.5)`.
    pub ratio: f64,
    /// Standardised excess (≈ standard deviations above normal; negative below).
    pub z: f64,
    /// All thresholds passed: this bucket is part of a spike.
    pub above: bool,
}

/// The streaming detector for one series. Serialisable so the caller may persist it instead of
/// replaying history after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeDetector {
    params: SpikeParams,
    bucket_s: i64,
    utc_offset_s: i64,
    level: f64,
    /// Lengths (in buckets) of the windows tested, shortest first: 1, 2, 3, 6, 12... up to
    /// `long_window_s`.
    windows: Vec<usize>,
    /// Per window: EWMA of the squared log-ratio beyond what Poisson noise explains (the
    /// series' own burstiness at that scale).
    excess_var: Vec<f64>,
    /// Recent (count, expected) pairs, oldest first, as many as the longest window.
    recent: std::collections::VecDeque<(f64, f64)>,
    factors: Vec<f64>,
    factor_obs: Vec<u32>,
    first_at: Option<UnixSeconds>,
    seen: u64,
    /// The sustained-surge test's state.
    #[serde(default)]
    surge: SurgeTracker,
    /// Learned tail bar of the score (see [`SpikeParams::tail_per_day`]).
    #[serde(default)]
    tail_bar: f64,
    /// Whether the previous bucket's score cleared the tail bar (episodes count once).
    #[serde(default)]
    tail_exceeding: bool,
}

/// Anscombe's variance-stabilising transform for Poisson counts.
fn anscombe(x: f64) -> f64 {
    2.0 * (x.max(0.0) + 0.375).sqrt()
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// One-sided Poisson significance of seeing `x` or more when `lambda` was expected, as a
/// standard-normal z (0 when `x` is not above `lambda`). Exact tail sum for small means, the
/// Anscombe residual (accurate there) for large ones.
pub fn poisson_z(x: f64, lambda: f64) -> f64 {
    let lambda = lambda.max(0.05);
    if x <= lambda {
        return 0.0;
    }
    if lambda > 50.0 {
        return anscombe(x) - anscombe(lambda);
    }
    let k = x.floor();
    // log P(X >= k) = log pmf(k) + log(1 + λ/(k+1) + λ²/((k+1)(k+2)) + ...).
    let log_pmf = k * lambda.ln() - lambda - ln_gamma(k + 1.0);
    let (mut term, mut sum, mut j) = (1.0_f64, 1.0_f64, k);
    while term > 1e-12 * sum && j < k + 2000.0 {
        j += 1.0;
        term *= lambda / j;
        sum += term;
    }
    let log_p = (log_pmf + sum.ln()).min(0.0);
    if log_p > (0.5f64).ln() {
        return 0.0;
    }
    // Upper-tail normal quantile from ln p (Abramowitz & Stegun 26.2.23, error < 5e-4).
    let t = (-2.0 * log_p).sqrt();
    t - (2.515_517 + 0.802_853 * t + 0.010_328 * t * t)
        / (1.0 + 1.432_788 * t + 0.189_269 * t * t + 0.001_308 * t * t * t)
}

/// Window lengths in buckets: 1, 2, 3, 6, 12, 24... up to `max` (at least 1 and 2).
fn window_lengths(max: usize) -> Vec<usize> {
    let mut v = vec![1, 2];
    for w in [3usize, 6, 12, 24, 48, 96, 192, 384] {
        if w <= max {
            v.push(w);
        }
    }
    if max > 2 && !v.contains(&max) {
        v.push(max);
    }
    v.sort_unstable();
    v.dedup();
    v
}

impl SpikeDetector {
    /// A detector for buckets of `bucket_s` seconds. `utc_offset_s` shifts instants to the
    /// brand's wall clock for the seasonal slots (0 = UTC).
    pub fn new(params: SpikeParams, bucket_s: i64, utc_offset_s: i64) -> Self {
        let slots = params.seasonality.slots();
        let bucket_s = bucket_s.max(1);
        let windows = window_lengths((params.long_window_s / bucket_s).max(2) as usize);
        SpikeDetector {
            params,
            bucket_s,
            utc_offset_s,
            level: 0.0,
            excess_var: vec![0.1; windows.len()],
            windows,
            recent: std::collections::VecDeque::new(),
            factors: vec![1.0; slots],
            factor_obs: vec![0; slots],
            first_at: None,
            seen: 0,
            surge: SurgeTracker::default(),
            tail_bar: 0.0,
            tail_exceeding: false,
        }
    }

    pub fn params(&self) -> &SpikeParams {
        &self.params
    }

    pub fn bucket_s(&self) -> i64 {
        self.bucket_s
    }

    /// Sums of the counts and of the expected counts over the last `n` buckets observed (fewer
    /// when fewer were seen): what an alert reports as "count vs normal" for its window.
    pub fn recent_totals(&self, n: usize) -> (f64, f64) {
        self.recent
            .iter()
            .rev()
            .take(n)
            .fold((0.0, 0.0), |(a, b), (x, e)| (a + x, b + e))
    }

    /// Longest window tested, in buckets.
    pub fn longest_window(&self) -> usize {
        self.windows.last().copied().unwrap_or(1)
    }

    /// Burstiness of one bucket beyond Poisson noise (the spread the score divides by).
    pub fn spread(&self) -> f64 {
        self.excess_spread(0)
    }

    fn excess_spread(&self, i: usize) -> f64 {
        self.excess_var
            .get(i)
            .copied()
            .unwrap_or(0.0)
            .max(0.0)
            .sqrt()
            .max(self.params.min_spread)
    }

    /// Count expected for a bucket starting at `at`, from history so far.
    pub fn expected_at(&self, at: UnixSeconds) -> f64 {
        let slot = self.params.seasonality.slot(at + self.utc_offset_s);
        (self.level * self.factor(slot)).max(0.0)
    }

    /// Seasonal factor of a slot; a slot never seen yet (the first Saturday, say) borrows the
    /// most-seen slot of the same hour of the day instead of assuming the flat 1.0.
    fn factor(&self, slot: usize) -> f64 {
        if self.factor_obs[slot] > 0 {
            return self.factors[slot];
        }
        let hour = slot % 24;
        (0..self.factors.len())
            .filter(|&s| s % 24 == hour && self.factor_obs[s] > 0)
            .max_by_key(|&s| self.factor_obs[s])
            .map_or(self.factors[slot], |s| self.factors[s])
    }

    /// Score the bucket starting at `at` with `value` counts, then learn from it.
    ///
    /// Every window of the last 1, 2, 3, 6, 12... buckets is tested as one count against what
    /// it should have held: its log-ratio over the series' learned burstiness (the excess
    /// score) and its Poisson significance must both be high. The bucket's score is the best
    /// window's weaker of the two, with the Poisson z rescaled so that `poisson_z` maps to
    /// `z_threshold`.
    pub fn observe(&mut self, at: UnixSeconds, value: f64) -> SpikeScore {
        let value = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        let slot = self.params.seasonality.slot(at + self.utc_offset_s);
        if self.first_at.is_none() {
            self.first_at = Some(at);
            self.level = value;
        }
        let p = self.params;
        let k = p.pseudo_count;
        if self.factor_obs[slot] == 0 {
            self.factors[slot] = self.factor(slot);
        }
        let expected = (self.level * self.factors[slot]).max(0.0);
        let ratio = value / expected.max(0.5);
        let warm = self.first_at.is_some_and(|first| at - first >= p.warmup_s);

        let longest = self.windows.last().copied().unwrap_or(1);
        self.recent.push_back((value, expected));
        while self.recent.len() > longest {
            self.recent.pop_front();
        }
        let pz_scale = p.z_threshold / p.poisson_z.max(1e-6);
        let mut best = f64::NEG_INFINITY;
        let mut above = false;
        let mut u1 = 0.0;
        let a_disp = (self.bucket_s as f64 / p.dispersion_memory_s)
            .max((1.0 / (self.seen as f64 + 1.0)).min(0.1))
            .min(1.0);
        // Window sums, newest bucket first, in one pass over the recent buckets.
        let (mut sum_x, mut sum_e, mut taken) = (0.0, 0.0, 0usize);
        let mut recent = self.recent.iter().rev();
        for i in 0..self.windows.len() {
            let w = self.windows[i];
            if self.recent.len() < w {
                break;
            }
            for &(x, e) in recent.by_ref().take(w - taken) {
                sum_x += x;
                sum_e += e;
            }
            taken = w;
            let u = ((sum_x + k) / (sum_e + k)).ln();
            if i == 0 {
                u1 = u;
            }
            let spread = self.excess_spread(i);
            let z_excess = u / spread;
            // The Poisson tail (the costly part) only matters when this window could raise
            // the best score or pass the threshold.
            let score = if z_excess > best || z_excess >= p.z_threshold {
                z_excess.min(poisson_z(sum_x, sum_e) * pz_scale)
            } else {
                z_excess
            };
            best = best.max(score);
            if score >= p.z_threshold
                && sum_x / sum_e.max(0.5 * w as f64) >= p.min_ratio
                && sum_x >= p.floor
                && (i == 0 || value > expected)
            {
                above = true;
            }
            // Learn the burstiness beyond Poisson noise at this scale (clipped residuals).
            let pois_var = sum_e / (sum_e + k).powi(2);
            let lim = p.var_clip * spread;
            let excess = u.clamp(-lim, lim).powi(2) - pois_var;
            self.excess_var[i] += a_disp * (excess - self.excess_var[i]);
        }
        self.learn(slot, expected, u1);
        let surge = self.surge.observe(
            &SurgeParams {
                window_s: p.surge_window_s,
                z: p.surge_z,
                min_ratio: p.surge_min_ratio,
                days: p.surge_days,
                floor: p.floor,
            },
            self.bucket_s,
            at + self.utc_offset_s,
            value,
        );
        if surge.z.is_finite() && surge.z > 0.0 {
            best = best.max(surge.z * p.z_threshold / p.surge_z.max(1e-6));
        }
        above = above || surge.above;
        if p.tail_per_day > 0.0 && best.is_finite() {
            let floor = p.tail_from * p.z_threshold;
            self.tail_bar = self.tail_bar.max(floor);
            // A bucket must also clear the series' own tail bar, which rises by a step per
            // episode above it and sinks so that `tail_per_day` episodes a day clear it.
            above = above && best >= self.tail_bar;
            let exceeding = best > self.tail_bar;
            if exceeding && !self.tail_exceeding {
                self.tail_bar += p.tail_step;
            }
            self.tail_exceeding = exceeding;
            self.tail_bar -= p.tail_step * p.tail_per_day * self.bucket_s as f64 / 86_400.0;
            self.tail_bar = self.tail_bar.max(floor);
        }
        SpikeScore {
            at,
            value,
            expected,
            ratio,
            z: if best.is_finite() { best } else { 0.0 },
            above: warm && above,
        }
    }

    fn learn(&mut self, slot: usize, expected: f64, u: f64) {
        let p = &self.params;
        let b = self.bucket_s as f64;
        let k = p.pseudo_count;
        self.seen += 1;
        // Winsorise on the log scale: cap the residual at ±winsor spreads (Poisson noise
        // included, so quiet series are not clipped to nothing).
        let pois = (expected / (expected + k).powi(2)).sqrt();
        let cap = p.winsor * (self.spread() + pois);
        let clipped = ((expected + k) * u.clamp(-cap, cap).exp() - k).max(0.0);

        let warmup_alpha = 1.0 / (self.seen as f64 + 1.0);
        let a_level = (b / p.level_memory_s).max(warmup_alpha.min(0.2));
        // Observations a slot gets per day it occurs on.
        let obs_per_slot_day = if p.seasonality == Seasonality::None {
            86_400.0 / b
        } else {
            (3600.0 / b).max(1.0)
        };
        let a_factor_base = 1.0 / (obs_per_slot_day * p.factor_memory_days).max(1.0);
        let n = self.factor_obs[slot] as f64;
        let a_factor = a_factor_base.max(1.0 / (n + 2.0));

        let f = self.factors[slot].max(1e-3);
        if self.level > 1e-9 {
            let rel = clipped / self.level;
            self.factors[slot] += a_factor * (rel - self.factors[slot]);
            self.factors[slot] = self.factors[slot].clamp(0.01, 100.0);
        }
        self.factor_obs[slot] = self.factor_obs[slot].saturating_add(1);
        self.level += a_level * (clipped / f - self.level);
        self.level = self.level.max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: i64 = 300;

    /// A deterministic daily-shaped series: `base` by day, a tenth at night.
    fn daily(at: i64, base: f64) -> f64 {
        let hour = (at.rem_euclid(86_400) / 3600) as f64;
        let shape = 0.1 + 0.9 * (std::f64::consts::PI * hour / 24.0).sin().powi(2);
        (base * shape).round()
    }

    #[test]
    fn slots_split_weekdays_and_weekends() {
        // 2015-03-02 was a Monday; 2015-03-07 a Saturday.
        let monday_noon = 1_425_297_600;
        let saturday_noon = monday_noon + 5 * 86_400;
        let s = Seasonality::WeekdayWeekendHour;
        assert_eq!(s.slot(monday_noon), 12);
        assert_eq!(s.slot(saturday_noon), 36);
        assert_eq!(Seasonality::HourOfWeek.slot(saturday_noon), 5 * 24 + 12);
    }

    #[test]
    fn steady_seasonal_series_never_fires_and_surge_fires_at_once() {
        let mut d = SpikeDetector::new(SpikeParams::default(), B, 0);
        let start = 1_425_254_400; // Monday 00:00 UTC
        let mut t = start;
        while t < start + 14 * 86_400 {
            let s = d.observe(t, daily(t, 60.0));
            assert!(!s.above, "false alarm at {t}: {s:?}");
            t += B;
        }
        // Night: normal is ~10; 80 is a surge. Day: normal is ~60; 70 is not.
        let night = start + 14 * 86_400 + 2 * 3600;
        let s = d.observe(night, 80.0);
        assert!(s.above, "surge missed: {s:?}");
        let noon = start + 15 * 86_400 + 12 * 3600;
        let s = d.observe(noon, 70.0);
        assert!(!s.above, "daytime normal flagged: {s:?}");
    }

    #[test]
    fn earlier_spikes_do_not_inflate_the_baseline() {
        let mut d = SpikeDetector::new(SpikeParams::default(), B, 0);
        let start = 0;
        for i in 0..(3 * 288) {
            let v = if (400..420).contains(&i) { 500.0 } else { 20.0 };
            d.observe(start + i * B, v);
        }
        let e = d.expected_at(start + 3 * 288 * B);
        assert!((15.0..30.0).contains(&e), "baseline drifted to {e}");
    }

    #[test]
    fn quiet_brand_needs_the_floor() {
        let mut d = SpikeDetector::new(SpikeParams::default(), B, 0);
        for i in 0..(2 * 288) {
            // One complaint every hour or so.
            let v = if i % 12 == 0 { 1.0 } else { 0.0 };
            d.observe(i * B, v);
        }
        let s = d.observe(2 * 288 * B, 3.0);
        assert!(!s.above, "3 complaints under the floor fired: {s:?}");
        let s = d.observe(2 * 288 * B + B, 12.0);
        assert!(s.above, "12 complaints against ~0.1 missed: {s:?}");
    }

    #[test]
    fn sustained_surge_is_caught_against_earlier_days() {
        // Ten days of a steady daily shape, then a ramp to triple volume over two hours, held
        // for six hours from 14:00: caught inside the surge, never before it.
        let run = |surge_window_s: i64| {
            let p = SpikeParams {
                surge_window_s,
                ..SpikeParams::default()
            };
            let mut d = SpikeDetector::new(p, B, 0);
            let start = 1_425_254_400; // Monday 00:00 UTC
            let surge = start + 10 * 86_400 + 14 * 3600;
            let mut fired = Vec::new();
            let mut t = start;
            while t < start + 11 * 86_400 {
                let ramp = ((t - surge) as f64 / 7200.0).clamp(0.0, 1.0);
                let k = if (surge..surge + 6 * 3600).contains(&t) {
                    1.0 + 2.0 * ramp
                } else {
                    1.0
                };
                if d.observe(t, (daily(t, 40.0) * k).round()).above {
                    fired.push(t);
                }
                t += B;
            }
            (fired, surge)
        };
        let (fired, surge) = run(3 * 3600);
        assert!(!fired.is_empty(), "sustained surge missed");
        assert!(
            fired
                .iter()
                .all(|&t| (surge..surge + 6 * 3600).contains(&t)),
            "fired outside the surge: {fired:?}"
        );
        // Off means off: the same series with the test disabled fires no earlier.
        let (off, _) = run(0);
        assert!(
            off.first().map_or(true, |&t| t >= fired[0]),
            "{off:?} vs {fired:?}"
        );
    }

    #[test]
    fn bursty_brand_learns_its_tail_and_steady_brand_does_not() {
        // A quiet account (0-1 a bucket) that bursts to 12 every ten hours: the bursts alert at
        // first, then the tail bar rises past them and only a burst well beyond them alerts.
        let run = |tail_per_day: f64| {
            let p = SpikeParams {
                tail_per_day,
                ..SpikeParams::default()
            };
            let mut d = SpikeDetector::new(p, B, 0);
            let mut late_bursts = 0;
            for i in 0..(20 * 288) {
                let v = if i % 120 == 60 {
                    12.0
                } else {
                    (i % 3 == 0) as u8 as f64
                };
                let s = d.observe(i * B, v);
                if s.above && i > 10 * 288 {
                    late_bursts += 1;
                }
            }
            let big = d.observe(20 * 288 * B, 60.0);
            (late_bursts, big.above)
        };
        let (late_off, _) = run(0.0);
        let (late_on, big_on) = run(SpikeParams::default().tail_per_day);
        assert!(
            late_off >= 10,
            "without the tail every burst alerts: {late_off}"
        );
        assert!(
            late_on * 5 <= late_off,
            "the usual bursts still alert: {late_on} of {late_off}"
        );
        assert!(big_on, "a burst five times the usual one was missed");

        // A steady Poisson-like series never lifts the bar above the score threshold.
        let mut d = SpikeDetector::new(SpikeParams::default(), B, 0);
        for i in 0..(10 * 288) {
            d.observe(i * B, 20.0 + (i % 5) as f64);
        }
        assert!(d.tail_bar <= d.params.z_threshold, "bar {}", d.tail_bar);
    }

    #[test]
    fn presets_are_ordered_by_strictness() {
        let s = SpikeParams::preset(Preset::Sensitive);
        let b = SpikeParams::preset(Preset::Balanced);
        let t = SpikeParams::preset(Preset::Strict);
        assert!(s.z_threshold < b.z_threshold && b.z_threshold < t.z_threshold);
        assert!(s.min_ratio < b.min_ratio && b.min_ratio < t.min_ratio);
        assert_eq!("strict".parse::<Preset>(), Ok(Preset::Strict));
        assert!("loud".parse::<Preset>().is_err());
    }
}
