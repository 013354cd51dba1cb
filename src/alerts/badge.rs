//! Responsiveness badge at risk (KPI.md, Facebook's rule): "very responsive" needs a trailing
//! 7-day response rate >= 90 % and response time <= 15 min; a value within 10 % of a threshold
//! (rate below 99 %, time above 13.5 min) puts the badge at risk.

use serde::{Deserialize, Serialize};

use crate::digest::post::{Post, Tone};
use crate::model::Platform;

/// Response-rate threshold of the badge.
pub const RATE_THRESHOLD: f64 = 0.90;
/// Response-time threshold of the badge, seconds.
pub const TIME_THRESHOLD_S: f64 = 900.0;

/// Which threshold a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Threshold {
    ResponseRate,
    ResponseTime,
}

/// Where a threshold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Standing {
    Safe,
    AtRisk,
    Missed,
}

/// One threshold's standing and the distance to it (rate in percentage points, time in
/// seconds; positive = room left, negative = how far past it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdCheck {
    pub threshold: Threshold,
    pub standing: Standing,
    pub margin: f64,
}

/// Badge check of one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BadgeCheck {
    pub platform: Platform,
    pub rate: ThresholdCheck,
    pub time: ThresholdCheck,
}

impl BadgeCheck {
    /// Worst standing of the two thresholds.
    pub fn standing(&self) -> Standing {
        match (self.rate.standing, self.time.standing) {
            (Standing::Missed, _) | (_, Standing::Missed) => Standing::Missed,
            (Standing::AtRisk, _) | (_, Standing::AtRisk) => Standing::AtRisk,
            _ => Standing::Safe,
        }
    }
}

/// Checks one platform's trailing-7-day `rate` (0..1) and `response_time_s` against the badge.
/// `margin` is the at-risk band as a fraction of each threshold (KPI.md: 0.10).
pub fn check(platform: Platform, rate: f64, response_time_s: f64, margin: f64) -> BadgeCheck {
    let rate_room = rate - RATE_THRESHOLD;
    let rate_standing = if rate_room < 0.0 {
        Standing::Missed
    } else if rate_room < RATE_THRESHOLD * margin {
        Standing::AtRisk
    } else {
        Standing::Safe
    };
    let time_room = TIME_THRESHOLD_S - response_time_s;
    let time_standing = if time_room < 0.0 {
        Standing::Missed
    } else if time_room < TIME_THRESHOLD_S * margin {
        Standing::AtRisk
    } else {
        Standing::Safe
    };
    BadgeCheck {
        platform,
        rate: ThresholdCheck {
            threshold: Threshold::ResponseRate,
            standing: rate_standing,
            margin: rate_room * 100.0,
        },
        time: ThresholdCheck {
            threshold: Threshold::ResponseTime,
            standing: time_standing,
            margin: time_room,
        },
    }
}

fn describe(c: &ThresholdCheck) -> Option<String> {
    let (what, room) = match c.threshold {
        Threshold::ResponseRate => ("response rate", format!("{:.1} points", c.margin.abs())),
        Threshold::ResponseTime => ("response time", format!("{:.1} min", c.margin.abs() / 60.0)),
    };
    match c.standing {
        Standing::Safe => None,
        Standing::AtRisk => Some(format!("{what} is {room} from the badge threshold")),
        Standing::Missed => Some(format!("{what} misses the badge threshold by {room}")),
    }
}

/// A warning post for a badge at risk or lost; `None` when safe.
pub fn badge_post(c: &BadgeCheck, rate: f64, response_time_s: f64) -> Option<Post> {
    let standing = c.standing();
    if standing == Standing::Safe {
        return None;
    }
    let name = c.platform.display_name();
    let verb = if standing == Standing::Missed {
        "lost"
    } else {
        "at risk"
    };
    let mut post = Post::new(format!("{name} responsiveness badge {verb}"));
    let reasons: Vec<String> = [&c.rate, &c.time]
        .into_iter()
        .filter_map(describe)
        .collect();
    post.summary = format!("{name} badge {verb}: {}", reasons.join("; "));
    post.tone = if standing == Standing::Missed {
        Tone::Alert
    } else {
        Tone::Warning
    };
    post = post
        .field(
            "Response rate (7d)",
            format!("{:.1} % (needs 90 %)", rate * 100.0),
            true,
        )
        .field(
            "Response time (7d)",
            format!("{:.1} min (needs 15 min)", response_time_s / 60.0),
            true,
        );
    for r in reasons {
        post.lines.push(format!("• {r}"));
    }
    Some(post)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_margins() {
        let c = check(Platform::Facebook, 0.97, 600.0, 0.10);
        assert_eq!(c.rate.standing, Standing::AtRisk); // 7 points < 9-point band
        assert!((c.rate.margin - 7.0).abs() < 1e-9);
        assert_eq!(c.time.standing, Standing::Safe);
        assert_eq!(c.standing(), Standing::AtRisk);

        let c = check(Platform::Facebook, 0.995, 840.0, 0.10);
        assert_eq!(c.rate.standing, Standing::Safe);
        assert_eq!(c.time.standing, Standing::AtRisk); // 60 s left < 90 s band
        assert!((c.time.margin - 60.0).abs() < 1e-9);

        let c = check(Platform::Facebook, 0.85, 1200.0, 0.10);
        assert_eq!(c.standing(), Standing::Missed);
        let p = badge_post(&c, 0.85, 1200.0).expect("post");
        assert_eq!(p.title, "Facebook responsiveness badge lost");
        assert!(
            p.summary
                .contains("misses the badge threshold by 5.0 points"),
            "{}",
            p.summary
        );
        assert!(p.summary.contains("by 5.0 min"), "{}", p.summary);
        assert_eq!(
            badge_post(&check(Platform::X, 0.995, 300.0, 0.10), 0.995, 300.0),
            None
        );
    }
}
