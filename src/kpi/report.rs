//! The KPI report over one window: volume, responsiveness, resolution and sentiment, plus the
//! daily mentions-vs-resolved series, computed from the store's rows by pure functions. JSON
//! keys follow KPI.md (the fields are flattened). Also the shared statistics (median,
//! nearest-rank percentile) and the text rendering of values, labelled from `docs::METRICS`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use serde::Serialize;

use crate::kpi::business_hours::BusinessCalendar;
use crate::kpi::deltas::Delta;
use crate::kpi::docs::{MetricDoc, Unit, METRICS};
use crate::kpi::inputs::{KpiRules, WindowInputs, BUCKET_S};
use crate::kpi::resolution::{resolution_from, resolved_in, Resolution, ResolvedStats};
use crate::kpi::response::{responsiveness_from, Responsiveness, StartedStats};
use crate::kpi::sentiment::{ratio_text, sentiment, SentimentMix};
use crate::kpi::volume::{volume, Volume};
use crate::kpi::window::{local_midnight, Window};
use crate::model::{ReportData, UnixSeconds};

/// Median as KPI.md defines it: the middle value, or the mean of the two middle values.
/// `values` may be in any order and are reordered (a selection in linear time, not a sort).
pub fn median(values: &mut [i64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (below, &mut upper, _) = values.select_nth_unstable(n / 2);
    if n % 2 == 1 {
        return Some(upper as f64);
    }
    let lower = below.iter().copied().max().unwrap_or(upper);
    Some((lower as f64 + upper as f64) / 2.0)
}

/// Nearest-rank percentile: the value at rank ceil(p n) in ascending order. `values` may be
/// in any order and are reordered (a selection in linear time, not a sort).
pub fn nearest_rank(values: &mut [i64], p: f64) -> Option<i64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    Some(*values.select_nth_unstable(rank - 1).1)
}

/// Arithmetic mean; null for an empty set.
pub fn mean(values: &[i64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<i64>() as f64 / values.len() as f64)
    }
}

/// One local day of the mentions-vs-resolved series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayPoint {
    pub date: NaiveDate,
    pub mentions: i64,
    pub resolved_by_us: i64,
}

/// KPIs of one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub volume: Volume,
    pub conversations_new: i64,
    #[serde(flatten)]
    pub response: Responsiveness,
    #[serde(flatten)]
    pub resolution: Resolution,
    #[serde(flatten)]
    pub sentiment: SentimentMix,
    pub mentions_vs_resolved: Vec<DayPoint>,
}

impl Report {
    /// The report as a JSON object with KPI.md's keys.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Computes the report of one window as seen at `now`.
pub fn compute_window(inputs: &WindowInputs, now: UnixSeconds, rules: &KpiRules) -> Report {
    let w = &inputs.window;
    let (start, end) = (w.start_s(), w.end_s());
    let own_started;
    let started = match &inputs.started_stats {
        Some(s) => s,
        None => {
            own_started = StartedStats::from_facts(&inputs.started, now, rules.sla_target_s);
            &own_started
        }
    };
    let own_resolved;
    let resolved = match &inputs.resolved_stats {
        Some(s) => s,
        None => {
            own_resolved = ResolvedStats::from_resolved(&resolved_in(
                &inputs.resolved,
                start,
                end,
                now,
                rules.auto_resolve_after_s,
            ));
            &own_resolved
        }
    };
    let span_from = started.earliest_start.unwrap_or(start);
    let calendar = BusinessCalendar::new(rules.business_hours.as_ref(), span_from, now.max(end));
    let mut r = Report {
        volume: volume(&inputs.messages, &inputs.tags),
        conversations_new: started.conversations,
        response: responsiveness_from(started, rules.sla_target_s, &calendar),
        resolution: resolution_from(resolved, &rules.cost_per_contact),
        sentiment: sentiment(&inputs.messages),
        mentions_vs_resolved: Vec::new(),
    };
    let days = w.local_days();
    let mut series: BTreeMap<NaiveDate, DayPoint> = days
        .iter()
        .map(|&date| {
            (
                date,
                DayPoint {
                    date,
                    mentions: 0,
                    resolved_by_us: 0,
                },
            )
        })
        .collect();
    // The window's local midnights, so each instant finds its day by a binary search
    // instead of a time-zone conversion (a month has hundreds of thousands of instants).
    let midnights: Vec<(UnixSeconds, NaiveDate)> = days
        .iter()
        .map(|&d| (local_midnight(rules.timezone, d).timestamp(), d))
        .collect();
    let next_midnight = days
        .last()
        .and_then(|d| d.succ_opt())
        .map(|d| local_midnight(rules.timezone, d).timestamp());
    let local_day = |t: UnixSeconds| -> Option<NaiveDate> {
        let i = midnights.partition_point(|&(m, _)| m <= t);
        // Outside the window's days there is no series point.
        (i > 0 && !next_midnight.is_some_and(|n| t >= n)).then(|| midnights[i - 1].1)
    };
    for &(bucket, n) in &inputs.inbound_buckets {
        let t = bucket - bucket.rem_euclid(BUCKET_S);
        if let Some(p) = local_day(t).and_then(|d| series.get_mut(&d)) {
            p.mentions += n;
        }
    }
    for at in &resolved.by_us_at {
        if let Some(p) = local_day(*at).and_then(|d| series.get_mut(&d)) {
            p.resolved_by_us += 1;
        }
    }
    r.mentions_vs_resolved = series.into_values().collect();
    r
}

/// Computes the report from the window's aggregates and started conversations alone (no
/// resolution candidates, default rules, UTC days): the first, small report, kept for callers
/// that only have `ReportData`.
pub fn compute(data: &ReportData, now: UnixSeconds) -> Report {
    let start = data
        .conversations
        .iter()
        .filter_map(|c| c.first_inbound_at)
        .min()
        .unwrap_or(now);
    let window = Window {
        start: chrono::Utc
            .timestamp_opt(start, 0)
            .single()
            .unwrap_or_default(),
        end: chrono::Utc
            .timestamp_opt(now, 0)
            .single()
            .unwrap_or_default(),
        first_day: chrono::Utc
            .timestamp_opt(start, 0)
            .single()
            .unwrap_or_default()
            .date_naive(),
        days: 0,
    };
    let inputs = WindowInputs {
        messages: data.messages.clone(),
        started: data.conversations.clone(),
        ..WindowInputs::empty(window)
    };
    compute_window(&inputs, now, &KpiRules::default())
}

/// "1 h 05 min", "12 min", "45 s".
pub fn human_duration(seconds: f64) -> String {
    let neg = seconds < 0.0;
    let s = seconds.abs().round() as i64;
    let text = if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else if s < 48 * 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{:.1} days", s as f64 / 86400.0)
    };
    if neg {
        format!("-{text}")
    } else {
        text
    }
}

/// A value for people, by unit: counts, percentages, durations, numbers.
pub fn format_value(unit: Unit, v: &serde_json::Value) -> String {
    use serde_json::Value;
    match (unit, v) {
        (_, Value::Null) => "n/a".into(),
        (Unit::Count, Value::Number(n)) => n.to_string(),
        (Unit::Share, Value::Number(n)) => format!("{:.1} %", n.as_f64().unwrap_or(0.0) * 100.0),
        (Unit::Seconds, Value::Number(n)) => human_duration(n.as_f64().unwrap_or(0.0)),
        (Unit::Number, Value::Number(n)) => format!("{:.3}", n.as_f64().unwrap_or(0.0)),
        (Unit::Money, Value::Number(n)) => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
        (_, Value::Object(m)) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
            if parts.is_empty() {
                "-".into()
            } else {
                parts.join(", ")
            }
        }
        (_, other) => other.to_string(),
    }
}

/// A change for people: "+12 (+9.1 %)", "+2.1 pt", "-5 min".
pub fn format_delta(unit: Unit, d: &Delta) -> String {
    let Some(x) = d.delta else {
        return "n/a".into();
    };
    let sign = if x > 0.0 { "+" } else { "" };
    let main = match unit {
        Unit::Share => format!("{sign}{:.1} pt", x * 100.0),
        Unit::Seconds => {
            if x > 0.0 {
                format!("+{}", human_duration(x))
            } else {
                human_duration(x)
            }
        }
        Unit::Count => format!("{sign}{}", x.round() as i64),
        Unit::Number | Unit::Money => format!("{sign}{x:.2}"),
        Unit::Other => format!("{sign}{x}"),
    };
    match (unit, d.delta_pct) {
        (Unit::Share, _) | (_, None) => main,
        (_, Some(p)) => format!(
            "{main} ({}{:.1} %)",
            if p > 0.0 { "+" } else { "" },
            p * 100.0
        ),
    }
}

/// Rows (label, value, change columns) of a report object, in `METRICS` order, for the keys
/// it has. `complaint_praise_ratio` shows "∞"; `mentions_vs_resolved` is left to the caller.
pub fn metric_rows(
    json: &serde_json::Value,
    comparisons: &[&BTreeMap<String, Delta>],
    ratio: &SentimentMix,
) -> Vec<(String, String, Vec<String>)> {
    let mut rows = Vec::new();
    for m in METRICS.iter() {
        let Some(v) = json.get(m.key) else { continue };
        if m.key == "mentions_vs_resolved" {
            continue;
        }
        let value = if m.key == "complaint_praise_ratio" {
            ratio_text(ratio)
        } else {
            value_with_unit(m, v)
        };
        let changes = comparisons
            .iter()
            .map(|c| {
                c.get(m.key)
                    .map(|d| format_delta(m.unit, d))
                    .unwrap_or_default()
            })
            .collect();
        rows.push((m.title.to_string(), value, changes));
    }
    rows
}

fn value_with_unit(m: &MetricDoc, v: &serde_json::Value) -> String {
    format_value(m.unit, v)
}

/// Aligns rows: label column, value column, then change columns under `headers`.
pub fn align(rows: &[(String, String, Vec<String>)], headers: &[&str]) -> Vec<String> {
    let wl = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let wv = rows
        .iter()
        .filter(|r| !r.2.is_empty())
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut widths = vec![0usize; headers.len()];
    for r in rows {
        for (i, c) in r.2.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    for (i, h) in headers.iter().enumerate() {
        widths[i] = widths[i].max(h.chars().count());
    }
    let pad = |s: &str, w: usize| {
        let n = s.chars().count();
        format!("{s}{}", " ".repeat(w.saturating_sub(n)))
    };
    let mut out = Vec::new();
    if !headers.is_empty() {
        let mut line = format!("  {}  {}", pad("", wl), pad("value", wv));
        for (h, w) in headers.iter().zip(&widths) {
            line.push_str(&format!("  {}", pad(h, *w)));
        }
        out.push(line.trim_end().to_string());
    }
    for (label, value, changes) in rows {
        let mut line = format!("  {}  {}", pad(label, wl), pad(value, wv));
        for (c, w) in changes.iter().zip(&widths) {
            line.push_str(&format!("  {}", pad(c, *w)));
        }
        out.push(line.trim_end().to_string());
    }
    out
}

/// Terminal text: aligned labels (from the metric table) and units.
pub fn render_text(r: &Report, title: &str) -> String {
    let mut lines = vec![title.to_string()];
    lines.extend(align(&metric_rows(&r.to_json(), &[], &r.sentiment), &[]));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The selections give what the definitions give on sorted values, with ties, odd and
    /// even sizes.
    #[test]
    fn selections_equal_the_sorted_definitions() {
        let sorted_median = |s: &[i64]| match s.len() {
            0 => None,
            n if n % 2 == 1 => Some(s[n / 2] as f64),
            n => Some((s[n / 2 - 1] as f64 + s[n / 2] as f64) / 2.0),
        };
        let sorted_rank = |s: &[i64], p: f64| {
            (!s.is_empty()).then(|| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1])
        };
        let mut seed = 7u64;
        for n in 0..60usize {
            let values: Vec<i64> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    ((seed >> 33) % 20) as i64 - 3
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            assert_eq!(
                median(&mut values.clone()),
                sorted_median(&sorted),
                "{values:?}"
            );
            for p in [0.0, 0.1, 0.5, 0.9, 0.95, 1.0] {
                assert_eq!(
                    nearest_rank(&mut values.clone(), p),
                    sorted_rank(&sorted, p),
                    "{p} {values:?}"
                );
            }
        }
    }

    use crate::kpi::window::{resolve, WindowSpec};
    use crate::model::{Category, ConversationFacts, Direction, MessageAggregate, Platform};

    #[test]
    fn median_and_p90_follow_kpi_md() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5.0));
        assert_eq!(median(&mut [1, 2, 3, 10]), Some(2.5));
        assert_eq!(median(&mut [4, 4, 4, 9]), Some(4.0));
        assert_eq!(
            nearest_rank(&mut [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9),
            Some(9)
        );
        assert_eq!(
            nearest_rank(&mut [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9),
            Some(10)
        );
        assert_eq!(nearest_rank(&mut [7], 0.9), Some(7));
        assert_eq!(nearest_rank(&mut [3, 3, 3], 0.9), Some(3));
        assert_eq!(nearest_rank(&mut [], 0.9), None);
        assert_eq!(mean(&[]), None);
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
        let r = compute(&data, 1000);
        assert_eq!(r.response.response_rate, Some(0.75));
        assert_eq!(r.response.frt_median_s, Some(120.0));
        assert_eq!(r.response.frt_mean_s, Some(120.0));
        assert_eq!(r.response.frt_p90_s, Some(180));
        assert_eq!(r.conversations_new, 4);
    }

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("valid instant")
            .timestamp()
    }

    #[test]
    fn daily_series_uses_local_days_across_dst() {
        // London, week ending Monday 2026-10-26: Sunday 25th is 25 hours long.
        let tz = chrono_tz::Europe::London;
        let now = chrono::DateTime::parse_from_rfc3339("2026-10-26T12:00:00Z")
            .expect("instant")
            .with_timezone(&chrono::Utc);
        let w = resolve(WindowSpec::Week, now, tz);
        let rules = KpiRules {
            timezone: tz,
            ..KpiRules::default()
        };
        let mut inputs = WindowInputs::empty(w);
        // 23:30 UTC on the 25th is 23:30 GMT, still Sunday; 23:30 UTC on the 24th is 00:30
        // BST on Sunday.
        inputs.inbound_buckets = vec![
            (utc("2026-10-24T23:30:00Z"), 2),
            (utc("2026-10-25T23:30:00Z"), 3),
            (utc("2026-10-24T22:45:00Z"), 5),
        ];
        let resolved = ConversationFacts {
            first_inbound_at: Some(utc("2026-10-25T20:00:00Z")),
            thanks_resolved_at: Some(utc("2026-10-25T23:50:00Z")),
            replies: 1,
            ..ConversationFacts::default()
        };
        inputs.resolved = vec![resolved];
        let r = compute_window(&inputs, now.timestamp(), &rules);
        assert_eq!(r.mentions_vs_resolved.len(), 7);
        let day = |d: &str| {
            r.mentions_vs_resolved
                .iter()
                .find(|p| p.date.to_string() == d)
                .cloned()
                .expect("day in series")
        };
        assert_eq!(day("2026-10-25").mentions, 5);
        assert_eq!(day("2026-10-24").mentions, 5, "22:45 UTC is 23:45 BST");
        assert_eq!(day("2026-10-25").resolved_by_us, 1);
        assert_eq!(r.resolution.resolved_by_us, 1);
    }

    #[test]
    fn render_text_labels_come_from_the_metric_table() {
        let r = compute_window(
            &WindowInputs {
                messages: vec![MessageAggregate {
                    platform: Platform::X,
                    direction: Direction::Inbound,
                    category: Some(Category::Complaint),
                    count: 4,
                    compound_sum: -2.0,
                    positive: 0,
                    neutral: 0,
                    negative: 4,
                }],
                ..WindowInputs::empty(resolve(
                    WindowSpec::Yesterday,
                    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
                    chrono_tz::UTC,
                ))
            },
            0,
            &KpiRules::default(),
        );
        let text = render_text(&r, "Acme");
        assert!(text.contains("Inbound mentions"));
        assert!(text.contains("Complaints per praise"));
        assert!(text.contains('∞'), "{text}");
        assert!(text.contains("100.0 %"), "negative share: {text}");
        let frt = text
            .lines()
            .find(|l| l.trim_start().starts_with("First response (median)"))
            .expect("median row");
        assert!(frt.ends_with(" n/a"), "{frt}");
        let col = |l: &str| l.rfind("  ").map(|i| i + 2);
        let inbound = text
            .lines()
            .find(|l| l.contains("Inbound mentions"))
            .expect("row");
        assert_eq!(col(inbound), col(frt), "values are aligned");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(45.0), "45 s");
        assert_eq!(human_duration(720.0), "12 min");
        assert_eq!(human_duration(3900.0), "1 h 05 min");
        assert_eq!(human_duration(3.0 * 86400.0), "3.0 days");
        assert_eq!(human_duration(-300.0), "-5 min");
    }
}
