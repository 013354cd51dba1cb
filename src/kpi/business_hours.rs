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
    /// `by_hour[h]`: the number of intervals that start at or before `hours_from + h * 3600`,
    /// so an instant finds its interval from its hour in a step or two instead of a binary
    /// search (a month's report asks for hundreds of thousands of durations). Empty when the
    /// span is too long to index; then the binary search answers.
    by_hour: Vec<u32>,
    hours_from: UnixSeconds,
}

/// Longest span indexed by hour (about 11 years; 400 KB).
const MAX_INDEXED_HOURS: i64 = 100_000;

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

/// The hour index of `intervals` (sorted by start): its first hour and, for each hour up to
/// the last interval's end, the number of intervals started by that hour's first second.
fn hour_index(intervals: &[(UnixSeconds, UnixSeconds)]) -> (UnixSeconds, Vec<u32>) {
    let (Some(&(first, _)), Some(&(_, last))) = (intervals.first(), intervals.last()) else {
        return (0, Vec::new());
    };
    let from = first - first.rem_euclid(3600);
    let hours = (last - from) / 3600 + 1;
    if hours > MAX_INDEXED_HOURS {
        return (from, Vec::new());
    }
    let mut by_hour = Vec::with_capacity(hours as usize);
    let mut i = 0usize;
    for h in 0..hours {
        let t = from + h * 3600;
        while i < intervals.len() && intervals[i].0 <= t {
            i += 1;
        }
        by_hour.push(i as u32);
    }
    (from, by_hour)
}

impl BusinessCalendar {
    /// Calendar time: every second counts.
    pub fn calendar() -> BusinessCalendar {
        BusinessCalendar {
            intervals: None,
            before: Vec::new(),
            by_hour: Vec::new(),
            hours_from: 0,
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
        let (hours_from, by_hour) = hour_index(&intervals);
        BusinessCalendar {
            intervals: Some(intervals),
            before,
            by_hour,
            hours_from,
        }
    }

    /// The number of intervals that start at or before `t`.
    fn started_by(&self, iv: &[(UnixSeconds, UnixSeconds)], t: UnixSeconds) -> usize {
        let h = (t - self.hours_from).div_euclid(3600);
        match usize::try_from(h).ok().and_then(|h| self.by_hour.get(h)) {
            Some(&n) => {
                // `n` intervals start by the hour's first second; a few more may start
                // within the hour.
                let mut i = n as usize;
                while i < iv.len() && iv[i].0 <= t {
                    i += 1;
                }
                i
            }
            None => iv.partition_point(|&(a, _)| a <= t),
        }
    }

    /// Open seconds before `t` since the start of the calendar.
    fn open_before(&self, iv: &[(UnixSeconds, UnixSeconds)], t: UnixSeconds) -> i64 {
        // First interval that starts after t.
        let i = self.started_by(iv, t);
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

    /// The hour index finds the interval a binary search finds, for instants on every
    /// minute of a DST change, around odd opening times (09:30-17:15, Kathmandu's +05:45)
    /// and holidays, and before and after the calendar's span.
    #[test]
    fn the_hour_index_answers_as_the_binary_search() {
        for tz in [
            chrono_tz::Europe::London,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::UTC,
        ] {
            let mut h = weekdays_9_17(
                tz,
                vec![NaiveDate::from_ymd_opt(2026, 10, 27).expect("day")],
            );
            h.open = NaiveTime::from_hms_opt(9, 30, 0).expect("time");
            h.close = NaiveTime::from_hms_opt(17, 15, 0).expect("time");
            h.days.push(Weekday::Sun);
            let (from, to) = (t("2026-10-20T00:00:00Z"), t("2026-11-03T00:00:00Z"));
            let cal = BusinessCalendar::new(Some(&h), from, to);
            let iv = cal.intervals.as_deref().expect("business hours");
            assert!(!cal.by_hour.is_empty());
            let mut instant = from - 3 * 86_400;
            while instant < to + 3 * 86_400 {
                for t in [instant - 1, instant, instant + 1] {
                    assert_eq!(
                        cal.started_by(iv, t),
                        iv.partition_point(|&(a, _)| a <= t),
                        "{tz} at {t}"
                    );
                }
                instant += 60;
            }
        }
    }

    #[test]
    fn without_business_hours_it_is_calendar_time() {
        let cal = BusinessCalendar::new(None, 0, 10);
        assert_eq!(cal.seconds(100, 4000), 3900);
        assert_eq!(cal.deadline(100, 60), Some(160));
    }
}
