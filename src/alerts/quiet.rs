//! Quiet hours: whether to hold an alert now, and the one roll-up post of everything held,
//! posted when the quiet hours end. Pure: `now` and the time zone come in as parameters.

use chrono::{NaiveTime, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

use crate::digest::post::{Post, Tone};
use crate::model::UnixSeconds;

/// `[alerts.quiet_hours]`: a daily span of local time (it may cross midnight) when alerts are
/// held instead of posted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Local start, `HH:MM` (e.g. `22:00`).
    pub start: String,
    /// Local end, `HH:MM` (e.g. `07:00`); before `start` means the span crosses midnight.
    pub end: String,
    /// Also quiet all day on Saturdays and Sundays. Default `false`.
    #[serde(default)]
    pub weekends: bool,
    /// Spikes at least this many times the normal count break through anyway. Default: none
    /// (everything is held).
    #[serde(default)]
    pub break_through_ratio: Option<f64>,
}

fn hm(s: &str) -> Option<u32> {
    let t = NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()?;
    Some(t.hour() * 60 + t.minute())
}

impl QuietHours {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("start", &self.start), ("end", &self.end)] {
            if hm(v).is_none() {
                return Err(format!(
                    "{name} '{v}' is not a time of day HH:MM such as 22:00"
                ));
            }
        }
        Ok(())
    }

    /// Whether `now` falls in the quiet hours, in time zone `tz`.
    pub fn is_quiet(&self, now: UnixSeconds, tz: chrono_tz::Tz) -> bool {
        let (Some(start), Some(end)) = (hm(&self.start), hm(&self.end)) else {
            return false;
        };
        let Some(local) = tz.timestamp_opt(now, 0).single() else {
            return false;
        };
        if self.weekends {
            use chrono::Datelike;
            if local.weekday().number_from_monday() >= 6 {
                return true;
            }
        }
        let m = local.hour() * 60 + local.minute();
        match start.cmp(&end) {
            std::cmp::Ordering::Less => (start..end).contains(&m),
            std::cmp::Ordering::Greater => m >= start || m < end,
            std::cmp::Ordering::Equal => false,
        }
    }
}

/// What to do with an alert that is ready to post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Post,
    Hold,
}

/// Decide whether to post an alert now. `ratio` is the spike's count over normal (use
/// `f64::INFINITY` for alerts that must always break through, `0.0` for ones that never do).
pub fn hold_or_post(
    quiet: Option<&QuietHours>,
    tz: chrono_tz::Tz,
    now: UnixSeconds,
    ratio: f64,
) -> Hold {
    match quiet {
        Some(q) if q.is_quiet(now, tz) => match q.break_through_ratio {
            Some(r) if ratio >= r => Hold::Post,
            _ => Hold::Hold,
        },
        _ => Hold::Post,
    }
}

/// An alert held during quiet hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldAlert {
    pub at: UnixSeconds,
    /// The alert as it would have been posted.
    pub post: Post,
}

/// One post summarising every alert held overnight, oldest first, or `None` when none were
/// held. `tz` formats the times.
pub fn rollup(held: &[HeldAlert], tz: chrono_tz::Tz) -> Option<Post> {
    if held.is_empty() {
        return None;
    }
    let mut held: Vec<&HeldAlert> = held.iter().collect();
    held.sort_by_key(|h| h.at);
    let n = held.len();
    let noun = if n == 1 { "alert" } else { "alerts" };
    let mut post = Post::new(format!("While you were away: {n} {noun}"));
    post.summary = format!("{n} {noun} held during quiet hours");
    post.tone = if held.iter().any(|h| h.post.tone == Tone::Alert) {
        Tone::Alert
    } else {
        Tone::Warning
    };
    for h in held {
        let when = tz
            .timestamp_opt(h.at, 0)
            .single()
            .map(|t| t.format("%a %H:%M").to_string())
            .unwrap_or_else(|| h.at.to_string());
        let what = if h.post.summary.is_empty() {
            &h.post.title
        } else {
            &h.post.summary
        };
        post.lines.push(format!("• {when}: {what}"));
    }
    Some(post)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> QuietHours {
        QuietHours {
            start: "22:00".into(),
            end: "07:00".into(),
            weekends: false,
            break_through_ratio: Some(10.0),
        }
    }

    // 2015-03-02 (Monday) 00:00 UTC.
    const MON: i64 = 1_425_254_400;

    #[test]
    fn span_crossing_midnight_in_local_time() {
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().expect("tz");
        // 21:30 UTC = 22:30 Berlin (winter): quiet.
        assert!(q().is_quiet(MON + 21 * 3600 + 1800, tz));
        // 05:30 UTC = 06:30 Berlin: quiet; 06:30 UTC = 07:30: not.
        assert!(q().is_quiet(MON + 5 * 3600 + 1800, tz));
        assert!(!q().is_quiet(MON + 6 * 3600 + 1800, tz));
        assert!(!q().is_quiet(MON + 12 * 3600, tz));
    }

    #[test]
    fn big_spikes_break_through_and_rollup_lists_held() {
        let tz = chrono_tz::UTC;
        let night = MON + 23 * 3600;
        assert_eq!(hold_or_post(Some(&q()), tz, night, 3.0), Hold::Hold);
        assert_eq!(hold_or_post(Some(&q()), tz, night, 12.0), Hold::Post);
        assert_eq!(hold_or_post(None, tz, night, 3.0), Hold::Post);
        assert_eq!(rollup(&[], tz), None);
        let mut a = Post::new("Complaint spike");
        a.summary = "Complaints on X 4.0x normal".into();
        a.tone = Tone::Alert;
        let held = vec![
            HeldAlert {
                at: night + 3600,
                post: Post::new("Later"),
            },
            HeldAlert { at: night, post: a },
        ];
        let r = rollup(&held, tz).expect("rollup");
        assert_eq!(r.title, "While you were away: 2 alerts");
        assert_eq!(r.tone, Tone::Alert);
        assert_eq!(r.lines[0], "• Mon 23:00: Complaints on X 4.0x normal");
        assert!(r.lines[1].ends_with("Later"));
    }

    #[test]
    fn bad_times_are_rejected() {
        let mut bad = q();
        bad.start = "10pm".into();
        assert!(bad.validate().is_err());
        assert!(q().validate().is_ok());
    }
}
