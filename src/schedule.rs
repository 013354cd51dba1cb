//! Cron schedules in the team's time zone and the exactly-once rule for scheduled posts:
//! every run is a (job, slot) row claimed in the store before anything is posted, so a
//! restart, a second instance or a repeated DST hour never posts twice, and a run missed
//! during downtime is posted late while it is still within its catch-up window.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

/// The latest fire time of `cron` (six-field, seconds first) at or before `now`, looking back
/// at most `catch_up`. None when nothing was due in that span.
pub fn latest_due(
    cron: &str,
    tz: Tz,
    now: DateTime<Utc>,
    catch_up: Duration,
) -> Option<DateTime<Utc>> {
    let schedule = cron::Schedule::from_str(cron).ok()?;
    let from = (now - catch_up).with_timezone(&tz);
    schedule
        .after(&from)
        .take_while(|t| t.with_timezone(&Utc) <= now)
        .last()
        .map(|t| t.with_timezone(&Utc))
}

/// The key a run is claimed under: its local wall-clock time (as if it were UTC seconds), so
/// the two fires of a repeated DST hour (01:30 BST and 01:30 GMT) are one slot.
pub fn slot_key(fire: DateTime<Utc>, tz: Tz) -> i64 {
    fire.with_timezone(&tz).naive_local().and_utc().timestamp()
}

/// The next fire time strictly after `now`.
pub fn next_fire(cron: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = cron::Schedule::from_str(cron).ok()?;
    schedule
        .after(&now.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .expect("instant")
    }

    #[test]
    fn nine_oclock_london_moves_with_dst() {
        let london = chrono_tz::Europe::London;
        // Summer time: 09:00 BST is 08:00 UTC; after the 2026-10-25 change it is 09:00 UTC.
        assert_eq!(
            next_fire("0 0 9 * * *", london, at("2026-10-24T12:00:00Z")),
            Some(at("2026-10-25T09:00:00Z"))
        );
        assert_eq!(
            next_fire("0 0 9 * * *", london, at("2026-10-23T12:00:00Z")),
            Some(at("2026-10-24T08:00:00Z"))
        );
    }

    #[test]
    fn latest_due_respects_the_catch_up_window() {
        let utc = Tz::UTC;
        let now = at("2026-11-23T13:00:00Z");
        assert_eq!(
            latest_due("0 0 9 * * *", utc, now, Duration::hours(6)),
            Some(at("2026-11-23T09:00:00Z"))
        );
        assert_eq!(
            latest_due("0 0 9 * * *", utc, now, Duration::hours(3)),
            None
        );
        assert_eq!(
            latest_due(
                "0 0 9 * * *",
                utc,
                at("2026-11-23T09:00:00Z"),
                Duration::hours(1)
            ),
            Some(at("2026-11-23T09:00:00Z"))
        );
    }

    #[test]
    fn a_repeated_hour_is_one_slot() {
        // 01:30 on the night clocks go back in London happens twice and cron fires at both;
        // both fires have one slot key, so the job row lets only the first post.
        let london = chrono_tz::Europe::London;
        let fires: Vec<_> = cron::Schedule::from_str("0 30 1 * * *")
            .expect("cron")
            .after(&at("2026-10-24T12:00:00Z").with_timezone(&london))
            .take_while(|t| t.with_timezone(&Utc) < at("2026-10-25T12:00:00Z"))
            .collect();
        assert_eq!(fires.len(), 2, "{fires:?}");
        let keys: std::collections::BTreeSet<i64> = fires
            .iter()
            .map(|t| slot_key(t.with_timezone(&Utc), london))
            .collect();
        assert_eq!(keys.len(), 1, "{fires:?}");
    }
}
