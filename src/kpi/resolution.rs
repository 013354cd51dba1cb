//! Resolution (KPI.md): which conversations are resolved at `now`, when, and the metrics over
//! those whose resolution instant falls in the window.
//!
//! A conversation is resolved (a) when marked from chat, (c) by the customer's thanks or praise
//! after a brand reply (both kept in the facts, cleared by a reopen), or (b) automatically when
//! its last message is a brand reply, no customer is waiting, and `now` is at least
//! `auto_resolve_after` past that reply: resolved at the reply. When several apply, the
//! earliest of (a) and (c) wins; (b) applies only when neither does.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kpi::report::{mean, median};
use crate::model::{ConversationFacts, ResolutionKind, UnixSeconds};

/// When and how a conversation is resolved, as seen at `now`.
pub fn resolved_at(
    c: &ConversationFacts,
    now: UnixSeconds,
    auto_resolve_after_s: i64,
) -> Option<(UnixSeconds, ResolutionKind)> {
    c.first_inbound_at?;
    let explicit = [
        c.marked_resolved_at.map(|t| (t, ResolutionKind::Marked)),
        c.thanks_resolved_at.map(|t| (t, ResolutionKind::Thanks)),
    ]
    .into_iter()
    .flatten()
    .filter(|(t, _)| *t <= now)
    .min_by_key(|(t, _)| *t);
    if explicit.is_some() {
        return explicit;
    }
    let last_out = c.last_outbound_at?;
    let brand_spoke_last = c.last_inbound_at.map_or(true, |i| last_out >= i);
    if c.waiting_since.is_none()
        && brand_spoke_last
        && last_out == c.last_message_at
        && now - last_out >= auto_resolve_after_s
    {
        return Some((last_out, ResolutionKind::Auto));
    }
    None
}

/// Resolution metrics of one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Resolution {
    pub resolved: i64,
    pub resolved_by_us: i64,
    pub resolved_marked: i64,
    pub resolved_auto: i64,
    pub resolved_thanks: i64,
    pub resolution_mean_s: Option<f64>,
    pub resolution_median_s: Option<f64>,
    pub handling_mean_s: Option<f64>,
    pub handling_total_s: i64,
    pub fcr_rate: Option<f64>,
    pub deflection_rate: Option<f64>,
    pub deflection_saving: Option<f64>,
}

/// The conversations among `candidates` resolved in `[start, end)`, each with its instant.
pub fn resolved_in(
    candidates: &[ConversationFacts],
    start: UnixSeconds,
    end: UnixSeconds,
    now: UnixSeconds,
    auto_resolve_after_s: i64,
) -> Vec<(&ConversationFacts, UnixSeconds, ResolutionKind)> {
    candidates
        .iter()
        .filter_map(|c| {
            let (t, k) = resolved_at(c, now, auto_resolve_after_s)?;
            (t >= start && t < end).then_some((c, t, k))
        })
        .collect()
}

/// What one kept-on-social conversation saves: the costliest configured channel that is not a
/// platform, minus the cost on its own platform (0 when unset), floored at 0. `None` when no
/// such channel is configured.
fn saving_per_conversation(costs: &BTreeMap<String, f64>, platform: &str) -> Option<f64> {
    let is_platform = |k: &str| k.parse::<crate::model::Platform>().is_ok();
    let avoided = costs
        .iter()
        .filter(|(k, _)| !is_platform(k))
        .map(|(_, v)| *v)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
    let social = costs
        .iter()
        .find(|(k, _)| {
            k.parse::<crate::model::Platform>().ok().map(|p| p.as_str()) == Some(platform)
        })
        .map(|(_, v)| *v)
        .unwrap_or(0.0);
    Some((avoided - social).max(0.0))
}

/// What resolution metrics read of the conversations resolved in a window: the store computes
/// it in SQL; `ResolvedStats::from_resolved` is the same from full rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolvedStats {
    pub resolved: i64,
    pub marked: i64,
    pub auto: i64,
    pub thanks: i64,
    /// Resolution minus first inbound message, floored at 0, one per resolved conversation.
    pub times: Vec<i64>,
    /// Resolved with at least one brand reply.
    pub by_us: i64,
    /// Those with a first reply, and the sum of resolution minus first reply (floored at 0).
    pub handled: i64,
    pub handling_total_s: i64,
    /// Resolved by us with exactly one reply and no reopen.
    pub fcr: i64,
    /// Resolved by us without a redirect, per platform ("" when unknown), platform order.
    pub kept: BTreeMap<String, i64>,
    /// Resolution instants of the conversations resolved by us (the daily series).
    pub by_us_at: Vec<UnixSeconds>,
}

impl ResolvedStats {
    /// The stats of conversations resolved in a window (as `resolved_in` returns them).
    pub fn from_resolved(
        resolved: &[(&ConversationFacts, UnixSeconds, ResolutionKind)],
    ) -> ResolvedStats {
        let mut s = ResolvedStats::default();
        for (c, at, kind) in resolved {
            s.add(c, *at, *kind);
        }
        s
    }

    /// Counts one more conversation resolved at `at` (reads its first inbound and first
    /// response instants, replies, reopens, redirect and platform).
    pub fn add(&mut self, c: &ConversationFacts, at: UnixSeconds, kind: ResolutionKind) {
        self.resolved += 1;
        match kind {
            ResolutionKind::Marked => self.marked += 1,
            ResolutionKind::Auto => self.auto += 1,
            ResolutionKind::Thanks => self.thanks += 1,
        }
        if let Some(first) = c.first_inbound_at {
            self.times.push((at - first).max(0));
        }
        if c.replies < 1 {
            return;
        }
        self.by_us += 1;
        self.by_us_at.push(at);
        if let Some(reply) = c.first_response_at {
            self.handled += 1;
            self.handling_total_s += (at - reply).max(0);
        }
        if c.replies == 1 && c.reopen_count == 0 {
            self.fcr += 1;
        }
        if !c.redirected {
            let platform = c.platform.map(|p| p.as_str()).unwrap_or("");
            match self.kept.get_mut(platform) {
                Some(n) => *n += 1,
                None => {
                    self.kept.insert(platform.to_string(), 1);
                }
            }
        }
    }

    /// Adds the stats of conversations resolved in another, disjoint part of the window.
    pub fn merge(&mut self, o: ResolvedStats) {
        self.resolved += o.resolved;
        self.marked += o.marked;
        self.auto += o.auto;
        self.thanks += o.thanks;
        self.times.extend(o.times);
        self.by_us += o.by_us;
        self.handled += o.handled;
        self.handling_total_s += o.handling_total_s;
        self.fcr += o.fcr;
        for (k, v) in o.kept {
            *self.kept.entry(k).or_default() += v;
        }
        self.by_us_at.extend(o.by_us_at);
    }
}

/// Computes resolution metrics over conversations resolved in the window.
pub fn resolution(
    resolved: &[(&ConversationFacts, UnixSeconds, ResolutionKind)],
    cost_per_contact: &BTreeMap<String, f64>,
) -> Resolution {
    resolution_from(&ResolvedStats::from_resolved(resolved), cost_per_contact)
}

/// Computes resolution metrics from the resolved conversations' stats.
pub fn resolution_from(s: &ResolvedStats, cost_per_contact: &BTreeMap<String, f64>) -> Resolution {
    let mut r = Resolution {
        resolved: s.resolved,
        resolved_by_us: s.by_us,
        resolved_marked: s.marked,
        resolved_auto: s.auto,
        resolved_thanks: s.thanks,
        handling_total_s: s.handling_total_s,
        ..Resolution::default()
    };
    let mut times = s.times.clone();
    r.resolution_mean_s = mean(&times);
    r.resolution_median_s = median(&mut times);
    if s.handled > 0 {
        r.handling_mean_s = Some(s.handling_total_s as f64 / s.handled as f64);
    }
    if r.resolved_by_us > 0 {
        let n = r.resolved_by_us as f64;
        let kept: i64 = s.kept.values().sum();
        r.fcr_rate = Some(s.fcr as f64 / n);
        r.deflection_rate = Some(kept as f64 / n);
        let has_channel = saving_per_conversation(cost_per_contact, "").is_some();
        r.deflection_saving = if has_channel {
            let mut saving = 0.0;
            for (platform, k) in &s.kept {
                if let Some(per) = saving_per_conversation(cost_per_contact, platform) {
                    for _ in 0..*k {
                        saving += per;
                    }
                }
            }
            Some(saving)
        } else {
            None
        };
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Platform;

    const H: i64 = 3600;
    const AUTO: i64 = 24 * H;

    fn answered(first: i64, reply: i64) -> ConversationFacts {
        ConversationFacts {
            platform: Some(Platform::X),
            first_inbound_at: Some(first),
            first_response_at: Some(reply),
            last_inbound_at: Some(first),
            last_outbound_at: Some(reply),
            last_message_at: reply,
            replies: 1,
            inbound_count: 1,
            outbound_count: 1,
            ..ConversationFacts::default()
        }
    }

    #[test]
    fn resolved_at_table() {
        let base = answered(0, H);
        let mut waiting = base.clone();
        waiting.last_inbound_at = Some(2 * H);
        waiting.last_message_at = 2 * H;
        waiting.waiting_since = Some(2 * H);
        let mut thanks = base.clone();
        thanks.thanks_resolved_at = Some(2 * H);
        thanks.last_inbound_at = Some(2 * H);
        thanks.last_message_at = 2 * H;
        let mut marked = base.clone();
        marked.marked_resolved_at = Some(90 * 60);
        let unanswered = ConversationFacts {
            first_inbound_at: Some(0),
            last_inbound_at: Some(0),
            waiting_since: Some(0),
            ..ConversationFacts::default()
        };
        let cases = [
            (
                "auto, silent long enough",
                &base,
                H + AUTO,
                Some((H, ResolutionKind::Auto)),
            ),
            ("auto, not yet", &base, H + AUTO - 1, None),
            ("customer waiting", &waiting, 100 * H, None),
            (
                "thanks",
                &thanks,
                3 * H,
                Some((2 * H, ResolutionKind::Thanks)),
            ),
            ("thanks after now", &thanks, 2 * H - 1, None),
            (
                "marked",
                &marked,
                2 * H,
                Some((90 * 60, ResolutionKind::Marked)),
            ),
            ("never answered", &unanswered, 100 * H, None),
        ];
        for (name, c, now, want) in cases {
            assert_eq!(resolved_at(c, now, AUTO), want, "{name}");
        }
    }

    #[test]
    fn resolution_metrics_by_hand() {
        // A: answered once after 1 h, auto-resolved at the reply (1 h after start).
        let a = answered(0, H);
        // B: three replies, reopened once, thanks 10 h after start; first reply at 2 h.
        let mut b = answered(0, 2 * H);
        b.replies = 3;
        b.reopen_count = 1;
        b.thanks_resolved_at = Some(10 * H);
        b.last_inbound_at = Some(10 * H);
        b.last_message_at = 10 * H;
        b.redirected = true;
        // C: marked resolved without any reply.
        let c = ConversationFacts {
            first_inbound_at: Some(0),
            last_inbound_at: Some(0),
            last_message_at: 0,
            marked_resolved_at: Some(4 * H),
            ..ConversationFacts::default()
        };
        let all = vec![a, b, c];
        let now = 100 * H;
        let got = resolved_in(&all, 0, 50 * H, now, AUTO);
        assert_eq!(got.len(), 3);
        let mut costs = BTreeMap::new();
        costs.insert("phone".to_string(), 6.0);
        costs.insert("x".to_string(), 1.5);
        let r = resolution(&got, &costs);
        assert_eq!((r.resolved, r.resolved_by_us), (3, 2));
        assert_eq!(
            (r.resolved_auto, r.resolved_thanks, r.resolved_marked),
            (1, 1, 1)
        );
        // resolution times 1 h, 10 h, 4 h
        assert_eq!(r.resolution_mean_s, Some(5.0 * H as f64));
        assert_eq!(r.resolution_median_s, Some(4.0 * H as f64));
        // handling: A 0, B 8 h
        assert_eq!(r.handling_total_s, 8 * H);
        assert_eq!(r.handling_mean_s, Some(4.0 * H as f64));
        assert_eq!(r.fcr_rate, Some(0.5));
        assert_eq!(r.deflection_rate, Some(0.5));
        // A kept on X: 6.0 - 1.5
        assert_eq!(r.deflection_saving, Some(4.5));
        // No non-platform channel configured: no saving figure.
        assert_eq!(resolution(&got, &BTreeMap::new()).deflection_saving, None);
        // A window that ends before the auto resolution instant leaves A out.
        assert_eq!(resolved_in(&all, 2 * H, 50 * H, now, AUTO).len(), 2);
    }

    #[test]
    fn empty_window_gives_nulls() {
        let r = resolution(&[], &BTreeMap::new());
        assert_eq!(r.resolved, 0);
        assert_eq!(r.resolution_median_s, None);
        assert_eq!(r.fcr_rate, None);
        assert_eq!(r.deflection_rate, None);
    }
}
