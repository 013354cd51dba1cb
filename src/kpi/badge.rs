//! The responsiveness badge (Facebook's rule), per platform and overall, over the 7 days that
//! end at the window's end.
//!
//! A message counts when it opens a conversation: conversations are cut after silence on both
//! sides, so their first inbound message is the "first after >= 24 h of silence" (with the
//! default `conversation_gap`). Only actionable conversations count, as for `response_rate`.
//! Response rate = answered (by now) / counted; response time = mean of the fastest
//! ceil(0.9 n) first responses. "very responsive": rate >= 90 % and time <= 15 min; "at risk":
//! not that, but rate >= 81 % and time <= 16.5 min (both within 10 % of their threshold);
//! else "not responsive". No conversation: no status (null).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kpi::inputs::BadgeConversation;
use crate::model::UnixSeconds;

pub const RATE_THRESHOLD: f64 = 0.9;
pub const TIME_THRESHOLD_S: f64 = 15.0 * 60.0;
/// Trailing span of the badge, seconds.
pub const BADGE_SPAN_S: i64 = 7 * 86400;

/// The badge of one platform (or all).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Badge {
    /// "very responsive", "at risk", "not responsive", or null without data.
    pub status: Option<&'static str>,
    pub response_rate: Option<f64>,
    pub response_time_s: Option<f64>,
    pub conversations: i64,
}

/// Badges overall and per platform.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Badges {
    pub overall: Badge,
    pub by_platform: BTreeMap<String, Badge>,
}

/// The badge over a set of conversations.
pub fn badge(convs: &[&BadgeConversation], now: UnixSeconds) -> Badge {
    let mut frts: Vec<i64> = convs
        .iter()
        .filter_map(|c| {
            let r = c.first_response_at.filter(|&r| r <= now)?;
            Some(r - c.first_inbound_at)
        })
        .collect();
    let n = convs.len();
    if n == 0 {
        return Badge::default();
    }
    let rate = frts.len() as f64 / n as f64;
    // The fastest `keep` first responses, in any order (a selection, not a sort).
    let keep = ((0.9 * frts.len() as f64).ceil() as usize).min(frts.len());
    if keep > 0 && keep < frts.len() {
        frts.select_nth_unstable(keep - 1);
    }
    let time = (keep > 0).then(|| frts[..keep].iter().sum::<i64>() as f64 / keep as f64);
    let status = match time {
        Some(t) if rate >= RATE_THRESHOLD && t <= TIME_THRESHOLD_S => "very responsive",
        Some(t) if rate >= RATE_THRESHOLD * 0.9 && t <= TIME_THRESHOLD_S * 1.1 => "at risk",
        _ => "not responsive",
    };
    Badge {
        status: Some(status),
        response_rate: Some(rate),
        response_time_s: time,
        conversations: n as i64,
    }
}

/// Badges overall and per platform over conversations started in `[end - 7 days, end)`.
pub fn badges(convs: &[BadgeConversation], end: UnixSeconds, now: UnixSeconds) -> Badges {
    let start = end - BADGE_SPAN_S;
    let in_span: Vec<&BadgeConversation> = convs
        .iter()
        .filter(|c| c.first_inbound_at >= start && c.first_inbound_at < end)
        .collect();
    let mut per: BTreeMap<String, Vec<&BadgeConversation>> = BTreeMap::new();
    for c in &in_span {
        per.entry(c.platform.as_str().into()).or_default().push(c);
    }
    Badges {
        overall: badge(&in_span, now),
        by_platform: per.into_iter().map(|(k, v)| (k, badge(&v, now))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Platform;

    fn c(p: Platform, frt: Option<i64>) -> BadgeConversation {
        BadgeConversation {
            platform: p,
            first_inbound_at: 1000,
            first_response_at: frt.map(|f| 1000 + f),
        }
    }

    fn status(convs: &[BadgeConversation]) -> Option<&'static str> {
        badge(&convs.iter().collect::<Vec<_>>(), 1_000_000).status
    }

    #[test]
    fn badge_table() {
        let x = Platform::X;
        // 10 answered in 5 min: very responsive.
        let fast = vec![c(x, Some(300)); 10];
        assert_eq!(status(&fast), Some("very responsive"));
        // 9 fast + 1 very slow: the slowest 10 % is dropped from the time.
        let mut one_slow = vec![c(x, Some(600)); 9];
        one_slow.push(c(x, Some(86400)));
        let b = badge(&one_slow.iter().collect::<Vec<_>>(), 1_000_000);
        assert_eq!(b.response_time_s, Some(600.0));
        assert_eq!(b.status, Some("very responsive"));
        // 9 of 10 answered: rate exactly 90 %.
        let mut nine = vec![c(x, Some(60)); 9];
        nine.push(c(x, None));
        assert_eq!(status(&nine), Some("very responsive"));
        // 17 of 20 answered (85 %): at risk.
        let mut most = vec![c(x, Some(60)); 17];
        most.extend(vec![c(x, None); 3]);
        assert_eq!(status(&most), Some("at risk"));
        // fast but 16 min: at risk; 17 min: not responsive.
        assert_eq!(status(&[c(x, Some(16 * 60))]), Some("at risk"));
        assert_eq!(status(&[c(x, Some(17 * 60))]), Some("not responsive"));
        // nobody answered.
        assert_eq!(status(&[c(x, None)]), Some("not responsive"));
        assert_eq!(status(&[]), None);
    }

    #[test]
    fn badges_per_platform_and_trailing_span() {
        let mut convs = vec![c(Platform::X, Some(60)), c(Platform::Facebook, None)];
        let mut old = c(Platform::Facebook, Some(60));
        old.first_inbound_at = 1000 - BADGE_SPAN_S - 1;
        convs.push(old);
        let b = badges(&convs, 2000, 1_000_000);
        assert_eq!(b.overall.conversations, 2);
        assert_eq!(b.by_platform["x"].status, Some("very responsive"));
        assert_eq!(b.by_platform["facebook"].status, Some("not responsive"));
        assert_eq!(b.overall.response_rate, Some(0.5));
    }
}
