//! Business time (KPI.md, Business hours): the business duration between two instants is their
//! overlap with open intervals (open days, open to close in the business zone, minus holidays).
//! A `BusinessCalendar` precomputes the open intervals of a span of days with running totals,
//! so each duration is two binary searches, whatever the number of conversations. Without
//! `[business_hours]`, business time is calendar time.

use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, TimeZone};

use crate::config::BusinessHours;
use crate::model::UnixSeconds;

/// Open intervals over a span of days, with the open seconds before each one.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCalendar {
    /// `None`: calendar time.
    intervals: Option<Vec<(UnixSeconds, UnixSeconds)>>,
    /// `before[i]`: open seconds in intervals `0..i`.
    before: Vec<i64>,
}

fn local_instant(tz: chrono_tz::Tz, naive: NaiveDateTime) -> UnixSeconds {
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.timestamp(),
        chrono::LocalResult::Ambiguous(a, _) => a.timestamp(),
        // A time skipped by DST: the clock jumps, so take the instant the hour after maps to
        // minus that hour (the first real instant at or after the wall time).
        chrono::LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.timestamp() - 3600)
                .unwrap_or_else(|| naive.and_utc().timestamp())
        }
    }
}

impl BusinessCalendar {
    /// Calendar time: every second counts.
    pub fn calendar() -> BusinessCalendar {
        BusinessCalendar {
            intervals: None,
            before: Vec::new(),
        }
    }

    /// The open intervals of `hours` covering `[from, to]` (a day of margin on both sides).
    /// Durations asked outside that span only count the covered part.
    pub fn new(hours: Option<&BusinessHours>, from: UnixSeconds, to: UnixSeconds) -> Self {
        let Some(h) = hours else {
            return BusinessCalendar::calendar();
        };
        let tz = h.timezone;
        let day_of = |t: UnixSeconds| {
            tz.timestamp_opt(t, 0)
                .single()
                .map(|d| d.date_naive())
                .unwrap_or_default()
        };
        let (first, last) = (
            day_of(from.min(to)) - Days::new(1),
            day_of(from.max(to)) + Days::new(1),
        );
        let mut intervals = Vec::new();
        let mut day: NaiveDate = first;
        while day <= last {
            if h.days.contains(&day.weekday()) && !h.holidays.contains(&day) {
                let open = local_instant(tz, day.and_time(h.open));
                let close = local_instant(tz, day.and_time(h.close));
                if close > open {
                    intervals.push((open, close));
                }
            }
            day = day + Days::new(1);
        }
        let mut before = Vec::with_capacity(intervals.len() + 1);
        let mut acc = 0;
        for (a, b) in &intervals {
            before.push(acc);
            acc += b - a;
        }
        before.push(acc);
        BusinessCalendar {
            intervals: Some(intervals),
            before,
        }
    }

    /// Open seconds before `t` since the start of the calendar.
    fn open_before(&self, iv: &[(UnixSeconds, UnixSeconds)], t: UnixSeconds) -> i64 {
        // First interval that starts after t.
        let i = iv.partition_point(|&(a, _)| a <= t);
        if i == 0 {
            return 0;
        }
        let (a, b) = iv[i - 1];
        self.before[i - 1] + (t.min(b) - a)
    }

    /// Business seconds in `[start, end)`; 0 when `end <= start`.
    pub fn seconds(&self, start: UnixSeconds, end: UnixSeconds) -> i64 {
        if end <= start {
            return 0;
        }
        match &self.intervals {
            None => end - start,
            Some(iv) => self.open_before(iv, end) - self.open_before(iv, start),
        }
    }

    /// The instant at which `target` business seconds have passed since `start` (the SLA
    /// breach instant); `None` when the calendar ends first.
    pub fn deadline(&self, start: UnixSeconds, target: i64) -> Option<UnixSeconds> {
        let Some(iv) = &self.intervals else {
            return Some(start + target);
        };
        let goal = self.open_before(iv, start) + target;
        // First interval whose running total at its close reaches the goal.
        let i = (0..iv.len()).find(|&i| self.before[i + 1] >= goal && iv[i].1 > start)?;
        Some(iv[i].0 + (goal - self.before[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    fn t(s: &str) -> UnixSeconds {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("valid instant")
            .timestamp()
    }

    fn weekdays_9_17(tz: chrono_tz::Tz, holidays: Vec<NaiveDate>) -> BusinessHours {
        BusinessHours {
            timezone: tz,
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            open: NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
            close: NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
            holidays,
        }
    }

    #[test]
    fn friday_1645_with_a_30_min_target_breaches_monday_0915() {
        let h = weekdays_9_17(chrono_tz::UTC, vec![]);
        // 2026-11-20 is a Friday.
        let start = t("2026-11-20T16:45:00Z");
        let cal = BusinessCalendar::new(Some(&h), start, start + 7 * 86400);
        assert_eq!(cal.deadline(start, 1800), Some(t("2026-11-23T09:15:00Z")));
        assert_eq!(cal.seconds(start, t("2026-11-23T09:15:00Z")), 1800);
        assert_eq!(cal.seconds(start, t("2026-11-23T09:14:00Z")), 1740);
    }

    #[test]
    fn business_durations_table() {
        let h = weekdays_9_17(
            chrono_tz::UTC,
            vec![NaiveDate::from_ymd_opt(2026, 11, 24).expect("date")],
        );
        let cal = BusinessCalendar::new(
            Some(&h),
            t("2026-11-01T00:00:00Z"),
            t("2026-12-01T00:00:00Z"),
        );
        let cases = [
            // inside one open interval
            ("2026-11-23T10:00:00Z", "2026-11-23T10:30:00Z", 1800),
            // before opening to after closing: the whole day
            ("2026-11-23T06:00:00Z", "2026-11-23T20:00:00Z", 8 * 3600),
            // Saturday to Sunday: nothing
            ("2026-11-21T10:00:00Z", "2026-11-22T10:00:00Z", 0),
            // Monday 16:00 to Wednesday 10:00, Tuesday a holiday: 1 h + 1 h
            ("2026-11-23T16:00:00Z", "2026-11-25T10:00:00Z", 2 * 3600),
            // reversed: 0
            ("2026-11-23T11:00:00Z", "2026-11-23T10:00:00Z", 0),
        ];
        for (a, b, want) in cases {
            assert_eq!(cal.seconds(t(a), t(b)), want, "{a} .. {b}");
        }
    }

    #[test]
    fn business_hours_follow_local_time_across_dst() {
        // London 9-17 local: 08:00-16:00 UTC in summer, 09:00-17:00 UTC in winter. Clocks go
        // back on Sunday 2026-10-25.
        let h = weekdays_9_17(chrono_tz::Europe::London, vec![]);
        let cal = BusinessCalendar::new(
            Some(&h),
            t("2026-10-20T00:00:00Z"),
            t("2026-10-30T00:00:00Z"),
        );
        // Friday 23rd (BST): 08:30 UTC is 09:30 local.
        assert_eq!(
            cal.seconds(t("2026-10-23T08:00:00Z"), t("2026-10-23T08:30:00Z")),
            1800
        );
        // Monday 26th (GMT): 08:30 UTC is before opening.
        assert_eq!(
            cal.seconds(t("2026-10-26T08:00:00Z"), t("2026-10-26T08:30:00Z")),
            0
        );
        // Friday 16:30 local (15:30 UTC) to Monday 09:30 local (09:30 UTC): 30 + 30 min.
        assert_eq!(
            cal.seconds(t("2026-10-23T15:30:00Z"), t("2026-10-26T09:30:00Z")),
            3600
        );
    }

    #[test]
    fn without_business_hours_it_is_calendar_time() {
        let cal = BusinessCalendar::new(None, 0, 10);
        assert_eq!(cal.seconds(100, 4000), 3900);
        assert_eq!(cal.deadline(100, 60), Some(160));
    }
}
