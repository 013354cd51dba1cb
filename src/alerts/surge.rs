//! Sustained-surge test of the spike detector: the sum of the last few hours of counts against
//! a baseline built from *earlier days only*, with the series' own over-dispersion.
//!
//! The short-window test in [`super::spike`] learns its baseline as it goes, so a surge that
//! lasts hours is slowly absorbed before any single window looks unusual. This test cannot
//! absorb it: the normal for an hour of the day is the median of that hour's totals on the last
//! `surge_days` days, updated only when an hour closes, so today's surge reaches the baseline
//! tomorrow at the earliest (and then as one value of a median).
//!
//! Noise is negative-binomial, `Var(S) = E + φ·E²`, where the dispersion φ is estimated by
//! moments on robust residuals of the series' own history (the median over the last
//! `surge_days` days of the scaled squared residuals of window-long totals): a bursty brand
//! learns a large φ, a steady (Poisson) one learns φ ≈ 0.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Median of squared standard-normal draws: scales a median of squared residuals to a variance.
const MEDIAN_CHI2_1: f64 = 0.455;

/// Least completed days of an hour before that hour's baseline is trusted.
const MIN_DAYS: usize = 3;

/// Tunables of the surge test (part of `SpikeParams`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurgeParams {
    /// Window tested (seconds); 0 turns the test off.
    pub window_s: i64,
    /// Minimum negative-binomial z of the window total.
    pub z: f64,
    /// Minimum ratio of the window total to its baseline.
    pub min_ratio: f64,
    /// Days of history per hour of the day (baseline median and dispersion).
    pub days: usize,
    /// Minimum count in the window.
    pub floor: f64,
}

/// What the surge test says about the newest bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurgeScore {
    /// Negative-binomial z of the window total (0 while not ready).
    pub z: f64,
    /// Window total, and its baseline.
    pub sum: f64,
    pub expected: f64,
    /// Every threshold passed.
    pub above: bool,
}

/// Streaming state of the surge test for one series.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SurgeTracker {
    /// Local hour (hours since the epoch) being accumulated, and its count so far.
    cur_hour: Option<i64>,
    cur_sum: f64,
    /// Completed hourly totals per hour of the day, oldest first.
    by_hour: Vec<VecDeque<f64>>,
    /// Baseline hourly total per hour of the day (median of `by_hour`).
    base: Vec<f64>,
    /// Completed hours as (total, baseline), oldest first, as many as the window spans.
    hours: VecDeque<(f64, f64)>,
    /// Dispersion samples of window-long totals, oldest first.
    phis: VecDeque<f64>,
    phi: f64,
    /// Recent buckets as (count, baseline), oldest first, as many as the window holds.
    recent: VecDeque<(f64, f64)>,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

impl SurgeTracker {
    /// Feed the bucket starting at local time `local` (seconds) holding `value`; returns the
    /// test of the window ending with this bucket.
    pub fn observe(
        &mut self,
        p: &SurgeParams,
        bucket_s: i64,
        local: i64,
        value: f64,
    ) -> SurgeScore {
        let off = SurgeScore {
            z: 0.0,
            sum: 0.0,
            expected: 0.0,
            above: false,
        };
        if p.window_s <= 0 {
            return off;
        }
        if self.by_hour.len() != 24 {
            self.by_hour = vec![VecDeque::new(); 24];
            self.base = vec![0.0; 24];
        }
        let hour = local.div_euclid(3600);
        match self.cur_hour {
            Some(h) if h == hour => {}
            Some(h) => {
                self.close_hour(p, h, bucket_s);
                self.cur_hour = Some(hour);
                self.cur_sum = 0.0;
            }
            None => self.cur_hour = Some(hour),
        }
        self.cur_sum += value;

        let hod = hour.rem_euclid(24) as usize;
        let per_hour = (3600.0 / bucket_s.max(1) as f64).max(1.0);
        let base = self.base[hod] / per_hour;
        let window = (p.window_s / bucket_s.max(1)).max(1) as usize;
        let ready = self.by_hour[hod].len() >= MIN_DAYS;
        self.recent
            .push_back((value, if ready { base } else { f64::NAN }));
        while self.recent.len() > window {
            self.recent.pop_front();
        }
        if self.recent.len() < window || self.phis.len() < 24 {
            return off;
        }
        let (sum, expected) = self
            .recent
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, e)| (a + x, b + e));
        if !expected.is_finite() || expected <= 0.0 {
            return off;
        }
        let z = (sum - expected) / (expected + self.phi * expected * expected).sqrt();
        // The normal approximation flatters small counts: never more than Poisson would say.
        let z = if z >= p.z {
            z.min(super::spike::poisson_z(sum, expected))
        } else {
            z
        };
        SurgeScore {
            z,
            sum,
            expected,
            above: z >= p.z && sum >= p.min_ratio * expected && sum >= p.floor && value > base,
        }
    }

    /// An hour ended: learn its total into its hour's baseline and the dispersion.
    fn close_hour(&mut self, p: &SurgeParams, hour: i64, bucket_s: i64) {
        let hod = hour.rem_euclid(24) as usize;
        let days = p.days.max(MIN_DAYS);
        let baseline = if self.by_hour[hod].len() >= MIN_DAYS {
            self.base[hod]
        } else {
            f64::NAN
        };
        self.hours.push_back((self.cur_sum, baseline));
        let span = ((p.window_s / 3600).max(1)) as usize;
        while self.hours.len() > span {
            self.hours.pop_front();
        }
        if self.hours.len() == span {
            let (s, b) = self
                .hours
                .iter()
                .fold((0.0, 0.0), |(a, c), (x, e)| (a + x, c + e));
            if b.is_finite() && b > 0.0 {
                let phi = ((s - b).powi(2) / MEDIAN_CHI2_1 - b) / (b * b);
                self.phis.push_back(phi);
                while self.phis.len() > days * 24 {
                    self.phis.pop_front();
                }
                let mut v: Vec<f64> = self.phis.iter().copied().collect();
                self.phi = median(&mut v).max(0.0);
            }
        }
        let _ = bucket_s;
        let q = &mut self.by_hour[hod];
        q.push_back(self.cur_sum);
        while q.len() > days {
            q.pop_front();
        }
        let mut v: Vec<f64> = q.iter().copied().collect();
        self.base[hod] = median(&mut v);
    }
}
