//! Report windows in the team's time zone (KPI.md, Window): `[start, end)` instants for today,
//! yesterday, the last 7 or 30 full days, or explicit dates. Days are local calendar days, so a
//! DST day is 23 or 25 hours long.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Which span of time a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowSpec {
    Today,
    Yesterday,
    /// The last 7 full days.
    Week,
    /// The last 30 full days.
    Month,
    /// From the first date to the second, both included.
    Dates(NaiveDate, NaiveDate),
}

impl WindowSpec {
    pub fn parse(word: &str) -> Option<WindowSpec> {
        match word.trim().to_ascii_lowercase().as_str() {
            "today" => Some(WindowSpec::Today),
            "yesterday" => Some(WindowSpec::Yesterday),
            "week" => Some(WindowSpec::Week),
            "month" => Some(WindowSpec::Month),
            _ => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            WindowSpec::Today => "today".into(),
            WindowSpec::Yesterday => "yesterday".into(),
            WindowSpec::Week => "last 7 days".into(),
            WindowSpec::Month => "last 30 days".into(),
            WindowSpec::Dates(a, b) => format!("{a} to {b}"),
        }
    }
}

/// A resolved window: local dates and UTC instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// First local day.
    pub first_day: NaiveDate,
    /// Number of local days (a partial today counts as one).
    pub days: u32,
}

impl Window {
    pub fn start_s(&self) -> i64 {
        self.start.timestamp()
    }
    pub fn end_s(&self) -> i64 {
        self.end.timestamp()
    }
    /// The window of equal length just before this one.
    pub fn previous(&self, tz: Tz) -> Window {
        self.shifted(tz, self.days)
    }

    /// The same window one week earlier (for daily windows).
    pub fn week_earlier(&self, tz: Tz) -> Window {
        self.shifted(tz, 7)
    }

    /// The window `back` local days earlier; a partial window (today) keeps its length.
    fn shifted(&self, tz: Tz, back: u32) -> Window {
        let first = self.first_day - Days::new(u64::from(back));
        let start = local_midnight(tz, first);
        let full_end = local_midnight(tz, self.first_day + Days::new(u64::from(self.days)));
        let end = if self.end == full_end {
            local_midnight(tz, first + Days::new(u64::from(self.days)))
        } else {
            start + (self.end - self.start)
        };
        Window {
            start,
            end,
            first_day: first,
            days: self.days,
        }
    }

    /// Local days covered, oldest first.
    pub fn local_days(&self) -> Vec<NaiveDate> {
        (0..self.days)
            .map(|i| self.first_day + Days::new(u64::from(i)))
            .collect()
    }
}

/// The instant a local date starts (the earliest midnight if the zone skips or repeats it).
pub fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        // Midnight skipped by DST (a few zones): the day starts at the first instant after.
        chrono::LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
        }
    }
}

/// Resolves a window at `now` in `tz`.
pub fn resolve(spec: WindowSpec, now: DateTime<Utc>, tz: Tz) -> Window {
    let today = now.with_timezone(&tz).date_naive();
    let full = |first: NaiveDate, days: u32| Window {
        start: local_midnight(tz, first),
        end: local_midnight(tz, first + Days::new(u64::from(days))),
        first_day: first,
        days,
    };
    match spec {
        WindowSpec::Today => Window {
            start: local_midnight(tz, today),
            end: now,
            first_day: today,
            days: 1,
        },
        WindowSpec::Yesterday => full(today - Days::new(1), 1),
        WindowSpec::Week => full(today - Days::new(7), 7),
        WindowSpec::Month => full(today - Days::new(30), 30),
        WindowSpec::Dates(a, b) => {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            let days = u32::try_from((b - a).num_days() + 1).unwrap_or(1);
            full(a, days)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .expect("valid instant")
    }

    #[test]
    fn today_runs_from_local_midnight_to_now() {
        let w = resolve(
            WindowSpec::Today,
            utc("2026-07-15T10:30:00Z"),
            chrono_tz::Europe::London,
        );
        assert_eq!(w.start, utc("2026-07-14T23:00:00Z"));
        assert_eq!(w.end, utc("2026-07-15T10:30:00Z"));
    }

    #[test]
    fn dst_days_are_23_and_25_hours_long() {
        let london = chrono_tz::Europe::London;
        // Clocks go forward on 2026-03-29 and back on 2026-10-25.
        let spring = resolve(WindowSpec::Yesterday, utc("2026-03-30T12:00:00Z"), london);
        assert_eq!((spring.end - spring.start).num_hours(), 23);
        let autumn = resolve(WindowSpec::Yesterday, utc("2026-10-26T12:00:00Z"), london);
        assert_eq!((autumn.end - autumn.start).num_hours(), 25);
        assert_eq!(autumn.start, utc("2026-10-24T23:00:00Z"));
    }

    #[test]
    fn week_and_month_are_full_days_before_today() {
        let w = resolve(WindowSpec::Week, utc("2026-11-23T08:00:00Z"), Tz::UTC);
        assert_eq!(w.start, utc("2026-11-16T00:00:00Z"));
        assert_eq!(w.end, utc("2026-11-23T00:00:00Z"));
        let m = resolve(WindowSpec::Month, utc("2026-11-23T08:00:00Z"), Tz::UTC);
        assert_eq!(m.days, 30);
        assert_eq!(m.start, utc("2026-10-24T00:00:00Z"));
    }

    #[test]
    fn explicit_dates_include_both_ends() {
        let a = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
        let b = NaiveDate::from_ymd_opt(2026, 11, 3).expect("date");
        let w = resolve(
            WindowSpec::Dates(a, b),
            utc("2026-11-23T08:00:00Z"),
            Tz::UTC,
        );
        assert_eq!(w.days, 3);
        assert_eq!(w.end, utc("2026-11-04T00:00:00Z"));
    }

    #[test]
    fn previous_window_has_equal_length() {
        let y = resolve(WindowSpec::Yesterday, utc("2026-11-23T08:00:00Z"), Tz::UTC);
        let p = y.previous(Tz::UTC);
        assert_eq!(p.start, utc("2026-11-21T00:00:00Z"));
        assert_eq!(p.end, utc("2026-11-22T00:00:00Z"));
        let t = resolve(WindowSpec::Today, utc("2026-11-23T08:00:00Z"), Tz::UTC);
        let pt = t.previous(Tz::UTC);
        assert_eq!(pt.start, utc("2026-11-22T00:00:00Z"));
        assert_eq!(pt.end, utc("2026-11-22T08:00:00Z"));
        let wk = t.week_earlier(Tz::UTC);
        assert_eq!(wk.start, utc("2026-11-16T00:00:00Z"));
        assert_eq!(wk.end, utc("2026-11-16T08:00:00Z"));
    }
}
