//! The full report that commands and digests use: one window's `Report`, the backlog at now,
//! highlights, the responsiveness badge and the comparisons, from `KpiInputs` by one pure
//! function. JSON: KPI.md's keys at the top level (durations in seconds, shares in [0, 1],
//! null for undefined), plus `window`, `filters`, `now` and `deltas`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::kpi::badge::{badges, Badges};
use crate::kpi::deltas::{deltas, Delta};
use crate::kpi::docs::title;
use crate::kpi::highlights::{
    loyalists, success_stories, turnarounds, Loyalists, SuccessStory, Turnaround,
};
use crate::kpi::inputs::{KpiInputs, KpiRules, WindowInputs};
use crate::kpi::joined;
use crate::kpi::report::{align, compute_window, human_duration, metric_rows, Report};
use crate::model::UnixSeconds;

/// The window a report covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowInfo {
    pub label: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub timezone: String,
    pub days: u32,
}

/// The filters a report was cut by.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Filters {
    pub brand: Option<String>,
    pub platform: Option<String>,
    pub product: Option<String>,
}

/// Changes against one comparison window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub metrics: BTreeMap<String, Delta>,
}

/// Both comparisons.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Deltas {
    pub previous: Option<Comparison>,
    pub week_earlier: Option<Comparison>,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FullReport {
    pub window: WindowInfo,
    pub filters: Filters,
    pub now: DateTime<Utc>,
    #[serde(flatten)]
    pub report: Report,
    pub backlog: i64,
    pub backlog_oldest_wait_s: Option<i64>,
    pub success_stories: Vec<SuccessStory>,
    pub turnarounds_count: i64,
    pub turnarounds: Vec<Turnaround>,
    pub loyalists: Loyalists,
    pub badge: Badges,
    pub deltas: Deltas,
}

fn instant(t: UnixSeconds) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or_default()
}

/// Builds the full report from the store's rows, as seen at `now`.
pub fn full_report(inputs: &KpiInputs, now: UnixSeconds, rules: &KpiRules) -> FullReport {
    let cur = &inputs.current;
    let (start, end) = (cur.window.start_s(), cur.window.end_s());
    // The windows compared against are computed on threads of their own, beside the current
    // one: each is a pass over hundreds of thousands of conversations on a month.
    // So is the badge: a pass over the trailing week's conversations.
    let (report, previous, week_earlier, badge) = std::thread::scope(|scope| {
        let [previous, week_earlier] = [&inputs.previous, &inputs.week_earlier].map(|w| {
            w.as_ref()
                .map(|w| scope.spawn(move || (w, compute_window(w, now, rules))))
        });
        let badge = scope.spawn(|| badges(&inputs.badge, end, now));
        let report = compute_window(cur, now, rules);
        let [previous, week_earlier] = [previous, week_earlier].map(|h| h.map(joined));
        (report, previous, week_earlier, joined(badge))
    });
    let json = report.to_json();
    let compare = |(w, base): (&WindowInputs, Report)| Comparison {
        start: w.window.start,
        end: w.window.end,
        metrics: deltas(&json, &base.to_json()),
    };
    let (listed_count, turnaround_list) = turnarounds(&inputs.turnarounds, start, end);
    let turnarounds_count = inputs.turnarounds_total.unwrap_or(listed_count);
    FullReport {
        window: WindowInfo {
            label: inputs.label.clone(),
            start: cur.window.start,
            end: cur.window.end,
            timezone: rules.timezone.name().to_string(),
            days: cur.window.days,
        },
        filters: Filters {
            brand: inputs.brand.clone(),
            platform: inputs.platform.map(|p| p.as_str().to_string()),
            product: inputs.product.clone(),
        },
        now: instant(now),
        backlog: inputs.backlog.count,
        backlog_oldest_wait_s: inputs
            .backlog
            .oldest_waiting_since
            .map(|t| (now - t).max(0)),
        success_stories: success_stories(&inputs.praise),
        turnarounds_count,
        turnarounds: turnaround_list,
        loyalists: loyalists(&inputs.loyalty),
        badge,
        deltas: Deltas {
            previous: previous.map(compare),
            week_earlier: week_earlier.map(compare),
        },
        report,
    }
}

impl FullReport {
    /// The report as JSON with KPI.md's keys.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Terminal text: a title line, aligned metrics with units and change columns, then the
    /// daily series, the badge and the highlights.
    pub fn to_text(&self) -> String {
        let mut filters: Vec<String> = Vec::new();
        if let Some(b) = &self.filters.brand {
            filters.push(format!("brand {b}"));
        }
        if let Some(p) = &self.filters.platform {
            filters.push(format!("platform {p}"));
        }
        if let Some(p) = &self.filters.product {
            filters.push(format!("product {p}"));
        }
        let tz: chrono_tz::Tz = self.window.timezone.parse().unwrap_or(chrono_tz::UTC);
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        let mut lines = vec![format!(
            "KPIs {} ({} to {}, {}){}",
            self.window.label,
            local(self.window.start),
            local(self.window.end),
            self.window.timezone,
            if filters.is_empty() {
                String::new()
            } else {
                format!(" - {}", filters.join(", "))
            }
        )];
        let mut json = self.report.to_json();
        if let Some(o) = json.as_object_mut() {
            o.insert("backlog".into(), self.backlog.into());
            o.insert(
                "backlog_oldest_wait_s".into(),
                self.backlog_oldest_wait_s.into(),
            );
        }
        let mut comps = Vec::new();
        let mut headers = Vec::new();
        if let Some(p) = &self.deltas.previous {
            comps.push(&p.metrics);
            headers.push("vs previous");
        }
        if let Some(p) = &self.deltas.week_earlier {
            comps.push(&p.metrics);
            headers.push("vs week before");
        }
        let rows = metric_rows(&json, &comps, &self.report.sentiment);
        lines.extend(align(&rows, &headers));

        lines.push(String::new());
        lines.push(format!("{}:", title("mentions_vs_resolved")));
        for d in &self.report.mentions_vs_resolved {
            lines.push(format!(
                "  {}  {:>7} mentions  {:>6} resolved by us",
                d.date, d.mentions, d.resolved_by_us
            ));
        }

        lines.push(String::new());
        let badge_line = |name: &str, b: &crate::kpi::badge::Badge| {
            format!(
                "  {:<9} {:<16} rate {}  time {}  ({} conversations)",
                name,
                b.status.unwrap_or("no data"),
                b.response_rate
                    .map(|r| format!("{:.1} %", r * 100.0))
                    .unwrap_or_else(|| "n/a".into()),
                b.response_time_s
                    .map(human_duration)
                    .unwrap_or_else(|| "n/a".into()),
                b.conversations
            )
        };
        lines.push(format!("{} (trailing 7 days):", title("badge")));
        lines.push(badge_line("overall", &self.badge.overall));
        for (p, b) in &self.badge.by_platform {
            lines.push(badge_line(p, b));
        }

        lines.push(String::new());
        lines.push(format!("{}:", title("success_stories")));
        if self.success_stories.is_empty() {
            lines.push("  none".into());
        }
        for s in &self.success_stories {
            lines.push(format!(
                "  {} on {} (score {:.2}): {}{}",
                s.author,
                s.platform,
                s.score,
                s.text.replace('\n', " "),
                s.link
                    .as_ref()
                    .map(|l| format!(" <{l}>"))
                    .unwrap_or_default()
            ));
        }
        lines.push(format!(
            "{}: {}",
            title("turnarounds"),
            self.turnarounds_count
        ));
        for t in &self.turnarounds {
            lines.push(format!(
                "  {} on {} in {}{}",
                t.customer,
                t.platform,
                human_duration(t.took_s as f64),
                t.link
                    .as_ref()
                    .map(|l| format!(" <{l}>"))
                    .unwrap_or_default()
            ));
        }
        lines.push(format!("{}: {}", title("loyalists"), self.loyalists.count));
        for l in &self.loyalists.top {
            lines.push(format!(
                "  {} ({} praise, {} helpful replies)",
                l.author, l.praise, l.helpful
            ));
        }
        lines.join("\n") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::inputs::{BacklogRow, BadgeConversation, WindowInputs};
    use crate::kpi::window::{resolve, WindowSpec};
    use crate::model::{Category, ConversationFacts, Direction, MessageAggregate, Platform};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
            .expect("instant")
            .with_timezone(&Utc)
    }

    fn agg(dir: Direction, n: i64) -> MessageAggregate {
        MessageAggregate {
            platform: Platform::X,
            direction: dir,
            category: Some(Category::Inquiry),
            count: n,
            compound_sum: 0.0,
            positive: 0,
            neutral: n,
            negative: 0,
        }
    }

    #[test]
    fn full_report_has_kpi_keys_and_deltas() {
        let tz = chrono_tz::UTC;
        let w = resolve(WindowSpec::Yesterday, now(), tz);
        let mut cur = WindowInputs::empty(w);
        cur.messages = vec![agg(Direction::Inbound, 12), agg(Direction::Outbound, 5)];
        let start = w.start_s();
        cur.started = vec![ConversationFacts {
            actionable: true,
            platform: Some(Platform::X),
            first_inbound_at: Some(start + 100),
            first_response_at: Some(start + 700),
            ..ConversationFacts::default()
        }];
        let mut prev = WindowInputs::empty(w.previous(tz));
        prev.messages = vec![agg(Direction::Inbound, 8)];
        let week = WindowInputs::empty(w.week_earlier(tz));
        let inputs = KpiInputs {
            brand: Some("Acme".into()),
            platform: None,
            product: None,
            label: "yesterday".into(),
            current: cur,
            previous: Some(prev),
            week_earlier: Some(week),
            backlog: BacklogRow {
                count: 2,
                oldest_waiting_since: Some(now().timestamp() - 5400),
            },
            praise: vec![],
            turnarounds: vec![],
            turnarounds_total: None,
            loyalty: vec![],
            badge: vec![BadgeConversation {
                platform: Platform::X,
                first_inbound_at: start + 100,
                first_response_at: Some(start + 700),
            }],
        };
        let r = full_report(&inputs, now().timestamp(), &KpiRules::default());
        let j = r.to_json();
        assert_eq!(j["inbound_volume"], 12);
        assert_eq!(j["outbound_volume"], 5);
        assert_eq!(j["frt_median_s"], 600.0);
        assert_eq!(j["backlog"], 2);
        assert_eq!(j["backlog_oldest_wait_s"], 5400);
        assert_eq!(
            j["deltas"]["previous"]["metrics"]["inbound_volume"]["delta"],
            4.0
        );
        assert_eq!(
            j["deltas"]["previous"]["metrics"]["inbound_volume"]["delta_pct"],
            0.5
        );
        assert!(j["deltas"]["week_earlier"]["metrics"]["inbound_volume"]["delta_pct"].is_null());
        assert_eq!(j["badge"]["overall"]["status"], "very responsive");
        assert!(j["complaint_praise_ratio"].is_null());
        assert_eq!(j["filters"]["brand"], "Acme");
        for key in [
            "frt_histogram",
            "gos",
            "resolved_by_us",
            "fcr_rate",
            "deflection_rate",
            "sentiment_mean",
            "mentions_vs_resolved",
            "success_stories",
            "turnarounds",
            "loyalists",
        ] {
            assert!(j.get(key).is_some(), "missing {key}");
        }
        let text = r.to_text();
        assert!(text.contains("vs previous"), "{text}");
        assert!(text.contains("+4 (+50.0 %)"), "{text}");
        assert!(text.contains("1 h 30 min"), "oldest wait: {text}");
    }
}
