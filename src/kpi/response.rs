//! Responsiveness (KPI.md): over actionable conversations whose first inbound message is in
//! the window, as seen at `now`. A reply counts only if it was sent by `now` (so a report with
//! a past `--now` does not see later replies).

use serde::Serialize;

use crate::kpi::business_hours::BusinessCalendar;
use crate::kpi::report::{mean, median, nearest_rank};
use crate::model::{ConversationFacts, UnixSeconds};

const H: i64 = 3600;

/// First response times by bucket: 0-1 h, 1-4 h, 4-8 h, 8-24 h, 24 h+ (lower bound included),
/// and unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FrtHistogram {
    #[serde(rename = "0-1h")]
    pub under_1h: i64,
    #[serde(rename = "1-4h")]
    pub h1_4: i64,
    #[serde(rename = "4-8h")]
    pub h4_8: i64,
    #[serde(rename = "8-24h")]
    pub h8_24: i64,
    #[serde(rename = "24h+")]
    pub over_24h: i64,
    pub unanswered: i64,
}

impl FrtHistogram {
    fn add(&mut self, frt: Option<i64>) {
        match frt {
            None => self.unanswered += 1,
            Some(s) if s < H => self.under_1h += 1,
            Some(s) if s < 4 * H => self.h1_4 += 1,
            Some(s) if s < 8 * H => self.h4_8 += 1,
            Some(s) if s < 24 * H => self.h8_24 += 1,
            Some(_) => self.over_24h += 1,
        }
    }

    /// (label, count) in display order.
    pub fn buckets(&self) -> [(&'static str, i64); 6] {
        [
            ("0-1h", self.under_1h),
            ("1-4h", self.h1_4),
            ("4-8h", self.h4_8),
            ("8-24h", self.h8_24),
            ("24h+", self.over_24h),
            ("unanswered", self.unanswered),
        ]
    }
}

/// Responsiveness metrics of one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Responsiveness {
    pub response_rate: Option<f64>,
    pub frt_mean_s: Option<f64>,
    pub frt_median_s: Option<f64>,
    pub frt_p90_s: Option<i64>,
    pub frt_business_mean_s: Option<f64>,
    pub frt_business_median_s: Option<f64>,
    pub frt_business_p90_s: Option<i64>,
    pub reply_time_mean_s: Option<f64>,
    pub reply_time_median_s: Option<f64>,
    pub gos: Option<f64>,
    pub gos_target_s: i64,
    pub frt_histogram: FrtHistogram,
}

/// The first reply, if it was sent by `now`.
pub fn first_reply(c: &ConversationFacts, now: UnixSeconds) -> Option<UnixSeconds> {
    c.first_response_at.filter(|&r| r <= now)
}

/// What responsiveness reads of the conversations started in a window, as seen at `now`:
/// the store computes it in SQL; `StartedStats::from_facts` is the same from full rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StartedStats {
    /// Conversations started in the window (actionable or not).
    pub conversations: i64,
    /// Earliest first inbound message among them.
    pub earliest_start: Option<UnixSeconds>,
    /// Actionable conversations among them.
    pub actionable: i64,
    /// (first inbound, first response time) of the actionable ones answered by `now`.
    pub answered: Vec<(UnixSeconds, i64)>,
    /// Actionable ones unanswered at `now` and older than the SLA target (GoS misses).
    pub overdue: i64,
    /// Reply waits of the actionable ones.
    pub reply_waits: Vec<i64>,
}

impl StartedStats {
    /// The stats of `started` (conversations whose first inbound message is in the window).
    pub fn from_facts(
        started: &[ConversationFacts],
        now: UnixSeconds,
        sla_target_s: i64,
    ) -> StartedStats {
        let mut s = StartedStats::default();
        for c in started {
            s.add(c, now, sla_target_s);
        }
        s
    }

    /// Counts one more started conversation (reads its first inbound and first response
    /// instants, `actionable` and `reply_waits`).
    pub fn add(&mut self, c: &ConversationFacts, now: UnixSeconds, sla_target_s: i64) {
        self.conversations += 1;
        if let Some(first) = c.first_inbound_at {
            self.earliest_start = Some(self.earliest_start.map_or(first, |e| e.min(first)));
        }
        if !c.actionable {
            return;
        }
        let Some(first) = c.first_inbound_at else {
            return;
        };
        self.actionable += 1;
        match first_reply(c, now) {
            Some(reply) => self.answered.push((first, reply - first)),
            None if now - first > sla_target_s => self.overdue += 1,
            None => {}
        }
        self.reply_waits.extend(c.reply_waits.iter().copied());
    }

    /// Adds the stats of conversations started in another, disjoint part of the window.
    pub fn merge(&mut self, o: StartedStats) {
        self.conversations += o.conversations;
        self.earliest_start = match (self.earliest_start, o.earliest_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.actionable += o.actionable;
        self.answered.extend(o.answered);
        self.overdue += o.overdue;
        self.reply_waits.extend(o.reply_waits);
    }
}

/// Computes responsiveness over the actionable conversations among `started`.
pub fn responsiveness(
    started: &[ConversationFacts],
    now: UnixSeconds,
    sla_target_s: i64,
    calendar: &BusinessCalendar,
) -> Responsiveness {
    responsiveness_from(
        &StartedStats::from_facts(started, now, sla_target_s),
        sla_target_s,
        calendar,
    )
}

/// Answered conversations from which the business-time pass gets a thread of its own.
const PARALLEL_FROM: usize = 20_000;

/// Mean, median and p90 (nearest rank) of durations, each null when there are none.
fn mean_median_p90(values: &mut [i64]) -> (Option<f64>, Option<f64>, Option<i64>) {
    (mean(values), median(values), nearest_rank(values, 0.9))
}

/// Computes responsiveness from the started conversations' stats.
pub fn responsiveness_from(
    stats: &StartedStats,
    sla_target_s: i64,
    calendar: &BusinessCalendar,
) -> Responsiveness {
    let mut r = Responsiveness {
        gos_target_s: sla_target_s,
        ..Responsiveness::default()
    };
    // Business time is a pass of its own: on a thread beside the calendar-time pass when
    // there are enough conversations to be worth one (a month has hundreds of thousands).
    let business_times = || {
        let mut business: Vec<i64> = stats
            .answered
            .iter()
            .map(|&(first, f)| calendar.seconds(first, first + f))
            .collect();
        mean_median_p90(&mut business)
    };
    let business = std::thread::scope(|scope| {
        let business = (stats.answered.len() >= PARALLEL_FROM).then(|| scope.spawn(business_times));
        let mut frts = Vec::with_capacity(stats.answered.len());
        let (mut hits, mut misses) = (0usize, stats.overdue.max(0) as usize);
        for &(_, f) in &stats.answered {
            r.frt_histogram.add(Some(f));
            frts.push(f);
            if f <= sla_target_s {
                hits += 1;
            } else {
                misses += 1;
            }
        }
        if stats.actionable > 0 {
            r.response_rate = Some(frts.len() as f64 / stats.actionable as f64);
        }
        if hits + misses > 0 {
            r.gos = Some(hits as f64 / (hits + misses) as f64);
        }
        (r.frt_mean_s, r.frt_median_s, r.frt_p90_s) = mean_median_p90(&mut frts);
        let mut waits = stats.reply_waits.clone();
        r.reply_time_mean_s = mean(&waits);
        r.reply_time_median_s = median(&mut waits);
        match business {
            Some(h) => super::joined(h),
            None => business_times(),
        }
    });
    (
        r.frt_business_mean_s,
        r.frt_business_median_s,
        r.frt_business_p90_s,
    ) = business;
    r.frt_histogram.unanswered = (stats.actionable - stats.answered.len() as i64).max(0);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    /// An actionable conversation that started `age` seconds before NOW, answered after `frt`.
    fn conv(age: i64, frt: Option<i64>) -> ConversationFacts {
        let first = NOW - age;
        ConversationFacts {
            actionable: true,
            first_inbound_at: Some(first),
            first_response_at: frt.map(|f| first + f),
            reply_waits: frt.into_iter().collect(),
            ..ConversationFacts::default()
        }
    }

    #[test]
    fn responsiveness_table() {
        let cal = BusinessCalendar::calendar();
        // (conversations, rate, mean, median, p90, gos)
        type Case = (
            Vec<ConversationFacts>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<i64>,
            Option<f64>,
        );
        let cases: Vec<Case> = vec![
            // empty window: all null
            (vec![], None, None, None, None, None),
            // one unanswered, younger than the target: undecided for GoS
            (vec![conv(600, None)], Some(0.0), None, None, None, None),
            // one unanswered older than the target: a GoS miss
            (
                vec![conv(7200, None)],
                Some(0.0),
                None,
                None,
                None,
                Some(0.0),
            ),
            // ties: 60, 60, 60, 600 -> median 60, p90 rank ceil(3.6)=4 -> 600
            (
                vec![
                    conv(9000, Some(60)),
                    conv(9000, Some(60)),
                    conv(9000, Some(60)),
                    conv(9000, Some(600)),
                ],
                Some(1.0),
                Some(195.0),
                Some(60.0),
                Some(600),
                Some(1.0),
            ),
            // even count, one late answer, one unanswered old: median (1800+5400)/2
            (
                vec![
                    conv(90000, Some(1800)),
                    conv(90000, Some(5400)),
                    conv(90000, None),
                ],
                Some(2.0 / 3.0),
                Some(3600.0),
                Some(3600.0),
                Some(5400),
                Some(1.0 / 3.0),
            ),
        ];
        for (i, (convs, rate, mean_s, median_s, p90, gos)) in cases.into_iter().enumerate() {
            let r = responsiveness(&convs, NOW, 3600, &cal);
            assert_eq!(r.response_rate, rate, "case {i} rate");
            assert_eq!(r.frt_mean_s, mean_s, "case {i} mean");
            assert_eq!(r.frt_median_s, median_s, "case {i} median");
            assert_eq!(r.frt_p90_s, p90, "case {i} p90");
            assert_eq!(r.gos, gos, "case {i} gos");
            assert_eq!(
                r.frt_business_median_s, median_s,
                "case {i}: calendar = business"
            );
        }
    }

    #[test]
    fn non_actionable_and_future_replies_are_handled() {
        let cal = BusinessCalendar::calendar();
        let mut praise = conv(100, Some(10));
        praise.actionable = false;
        // Replied after now (report run with a past --now): unanswered at now.
        let mut later = conv(100, None);
        later.first_response_at = Some(NOW + 50);
        let r = responsiveness(&[praise, later], NOW, 3600, &cal);
        assert_eq!(r.response_rate, Some(0.0));
        assert_eq!(r.frt_histogram.unanswered, 1);
        assert_eq!(
            r.frt_histogram.buckets().iter().map(|b| b.1).sum::<i64>(),
            1
        );
    }

    #[test]
    fn histogram_bucket_edges() {
        let cal = BusinessCalendar::calendar();
        let convs: Vec<_> = [0, 3599, 3600, 4 * H, 8 * H - 1, 8 * H, 24 * H]
            .iter()
            .map(|&f| conv(100 * H, Some(f)))
            .chain([conv(100, None)])
            .collect();
        let h = responsiveness(&convs, NOW, 3600, &cal).frt_histogram;
        assert_eq!(
            h.buckets().map(|b| b.1),
            [2, 1, 2, 1, 1, 1],
            "[0,1h) [1h,4h) [4h,8h) [8h,24h) 24h+ unanswered"
        );
    }

    /// Above `PARALLEL_FROM` answered conversations the business pass runs on a thread of
    /// its own: both paths give what a plain sort of the business durations gives.
    #[test]
    fn business_times_are_the_same_on_one_thread_and_on_two() {
        let hours = crate::config::BusinessHours {
            timezone: chrono_tz::Europe::London,
            days: vec![
                chrono::Weekday::Mon,
                chrono::Weekday::Wed,
                chrono::Weekday::Fri,
            ],
            open: chrono::NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
            close: chrono::NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
            holidays: Vec::new(),
        };
        let now = 1_795_420_800;
        let cal = BusinessCalendar::new(Some(&hours), now - 40 * 86_400, now);
        let convs: Vec<_> = (0..PARALLEL_FROM as i64 + 5_000)
            .map(|i| {
                let mut c = conv(0, None);
                let first = now - 30 * 86_400 + (i * 7_919) % (29 * 86_400);
                c.first_inbound_at = Some(first);
                c.first_response_at = Some(first + (i * 104_729) % (3 * 86_400));
                c
            })
            .collect();
        for take in [PARALLEL_FROM, convs.len()] {
            let part = &convs[..take];
            let r = responsiveness(part, now, 3600, &cal);
            let mut business: Vec<i64> = part
                .iter()
                .filter_map(|c| {
                    let reply = c.first_response_at.filter(|&r| r <= now)?;
                    Some(cal.seconds(c.first_inbound_at?, reply))
                })
                .collect();
            let n = business.len();
            assert!(n < part.len(), "some replies come after now");
            assert_eq!(
                n >= PARALLEL_FROM,
                take == convs.len(),
                "{n} answered: one case per path"
            );
            business.sort_unstable();
            let mid = (business[n / 2 - 1] + business[n / 2]) as f64 / 2.0;
            let want_median = if n % 2 == 1 {
                business[n / 2] as f64
            } else {
                mid
            };
            let want_mean = business.iter().sum::<i64>() as f64 / n as f64;
            let rank = (0.9 * n as f64).ceil() as usize;
            assert_eq!(r.frt_business_median_s, Some(want_median), "{n}");
            assert_eq!(r.frt_business_mean_s, Some(want_mean), "{n}");
            assert_eq!(r.frt_business_p90_s, Some(business[rank - 1]), "{n}");
            assert!(
                r.frt_business_mean_s < r.frt_mean_s,
                "{n}: nights and closed days"
            );
        }
    }

    #[test]
    fn reply_waits_cover_every_answer() {
        let cal = BusinessCalendar::calendar();
        let mut c = conv(10 * H, Some(600));
        c.reply_waits = vec![600, 120, 3000];
        let r = responsiveness(&[c], NOW, 3600, &cal);
        assert_eq!(r.reply_time_mean_s, Some(1240.0));
        assert_eq!(r.reply_time_median_s, Some(600.0));
    }
}
