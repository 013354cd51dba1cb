//! The KPI report over one window: volumes, conversations and responsiveness, computed from
//! the store's aggregates and conversation facts. JSON keys follow KPI.md.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{ConversationFacts, Direction, ReportData, UnixSeconds};

/// Median as KPI.md defines it: the middle value, or the mean of the two middle values.
pub fn median(sorted: &[i64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(sorted[n / 2] as f64)
    } else {
        Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0)
    }
}

/// Nearest-rank percentile: rank ceil(p n) in ascending order.
pub fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    Some(sorted[rank - 1])
}

/// KPIs of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Report {
    pub inbound_volume: i64,
    pub outbound_volume: i64,
    pub by_platform: BTreeMap<String, i64>,
    pub by_category: BTreeMap<String, i64>,
    pub conversations_new: i64,
    pub response_rate: Option<f64>,
    pub frt_mean_s: Option<f64>,
    pub frt_median_s: Option<f64>,
    pub frt_p90_s: Option<i64>,
}

/// Computes the report from the window's data, as seen at `now`.
pub fn compute(data: &ReportData, _now: UnixSeconds) -> Report {
    let mut r = Report::default();
    for a in &data.messages {
        match a.direction {
            Direction::Inbound => {
                r.inbound_volume += a.count;
                *r.by_platform
                    .entry(a.platform.as_str().to_string())
                    .or_default() += a.count;
                let cat = a.category.map(|c| c.as_str()).unwrap_or("other");
                *r.by_category.entry(cat.to_string()).or_default() += a.count;
            }
            Direction::Outbound => r.outbound_volume += a.count,
        }
    }
    r.conversations_new = data.conversations.len() as i64;
    let actionable: Vec<&ConversationFacts> =
        data.conversations.iter().filter(|c| c.actionable).collect();
    if !actionable.is_empty() {
        let answered = actionable
            .iter()
            .filter(|c| c.first_response_at.is_some())
            .count();
        r.response_rate = Some(answered as f64 / actionable.len() as f64);
    }
    let mut frts: Vec<i64> = actionable
        .iter()
        .filter_map(|c| Some(c.first_response_at? - c.first_inbound_at?))
        .collect();
    frts.sort_unstable();
    if !frts.is_empty() {
        r.frt_mean_s = Some(frts.iter().sum::<i64>() as f64 / frts.len() as f64);
    }
    r.frt_median_s = median(&frts);
    r.frt_p90_s = nearest_rank(&frts, 0.9);
    r
}

/// "1 h 05 min", "12 min", "45 s".
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 48 * 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{:.1} days", s as f64 / 86400.0)
    }
}

/// Terminal text: aligned labels, units.
pub fn render_text(r: &Report, title: &str) -> String {
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.1} %", x * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    let dur = |v: Option<f64>| v.map(human_duration).unwrap_or_else(|| "n/a".into());
    let mut lines = vec![title.to_string()];
    let rows: Vec<(String, String)> = vec![
        ("Inbound mentions".into(), r.inbound_volume.to_string()),
        ("Brand replies".into(), r.outbound_volume.to_string()),
        ("New conversations".into(), r.conversations_new.to_string()),
        ("Response rate".into(), pct(r.response_rate)),
        ("First response (median)".into(), dur(r.frt_median_s)),
        ("First response (mean)".into(), dur(r.frt_mean_s)),
        (
            "First response (p90)".into(),
            dur(r.frt_p90_s.map(|v| v as f64)),
        ),
        (
            "By platform".into(),
            r.by_platform
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "By category".into(),
            r.by_category
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        lines.push(format!("  {k:<w$}  {v}"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_follow_kpi_md() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5.0));
        assert_eq!(median(&[1, 2, 3, 10]), Some(2.5));
        assert_eq!(nearest_rank(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), Some(9));
        assert_eq!(nearest_rank(&[7], 0.9), Some(7));
        assert_eq!(nearest_rank(&[], 0.9), None);
    }

    #[test]
    fn unanswered_conversations_lower_the_response_rate() {
        let conv = |frt: Option<i64>| ConversationFacts {
            actionable: true,
            first_inbound_at: Some(100),
            first_response_at: frt.map(|f| 100 + f),
            ..ConversationFacts::default()
        };
        let data = ReportData {
            messages: vec![],
            conversations: vec![conv(Some(60)), conv(None), conv(Some(180)), conv(Some(120))],
        };
        let r = compute(&data, 0);
        assert_eq!(r.response_rate, Some(0.75));
        assert_eq!(r.frt_median_s, Some(120.0));
        assert_eq!(r.frt_mean_s, Some(120.0));
        assert_eq!(r.frt_p90_s, Some(180));
        assert_eq!(r.conversations_new, 4);
    }
}
