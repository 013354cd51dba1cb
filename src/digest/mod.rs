//! Pure rendering of KPI reports into chat-neutral posts: the `/kpi` answer and the scheduled
//! digest (headline KPIs with their change against the window before and the same day a week
//! earlier, coloured by whether the change is good), highlights, and the PNG charts that go
//! with them.

pub mod charts;
pub mod post;
pub mod series;

use crate::kpi::deltas::Delta;
use crate::kpi::docs::{doc, Unit};
use crate::kpi::full::FullReport;
use crate::kpi::report::{format_value, human_duration, DayPoint};
use post::{Attachment, Post, Tone};
pub use series::{DayVolume, WaitingConversation};

/// The headline metrics of a post, in order, and whether a rise is good news.
/// `None`: neither (volumes are workload, not quality).
const HEADLINE: &[(&str, Option<bool>)] = &[
    ("inbound_volume", None),
    ("outbound_volume", None),
    ("conversations_new", None),
    ("response_rate", Some(true)),
    ("frt_median_s", Some(false)),
    ("frt_p90_s", Some(false)),
    ("gos", Some(true)),
    ("resolution_median_s", Some(false)),
    ("fcr_rate", Some(true)),
    ("complaints", Some(false)),
    ("praise", Some(true)),
    ("sentiment_mean", Some(true)),
];

/// A change for a chat field: "▲ 12 %" for counts and durations, "▲ 2.1 pt" for shares, with a
/// green or red dot when the direction is good or bad news, grey when it is neither.
fn change(unit: Unit, d: &Delta, higher_is_better: Option<bool>) -> Option<String> {
    let x = d.delta?;
    let (text, magnitude) = match unit {
        Unit::Share => (format!("{:.1} pt", x.abs() * 100.0), x.abs() * 100.0),
        Unit::Number => (format!("{:.2}", x.abs()), x.abs() * 100.0),
        _ => match d.delta_pct {
            Some(p) => (format!("{:.0} %", p.abs() * 100.0), p.abs() * 100.0),
            None if x != 0.0 => ("new".into(), 100.0),
            None => return Some("=".into()),
        },
    };
    if magnitude < 0.5 {
        return Some("=".into());
    }
    let arrow = if x > 0.0 { "▲" } else { "▼" };
    let dot = match higher_is_better {
        Some(better) if better == (x > 0.0) => "🟢",
        Some(_) => "🔴",
        None => "⚪",
    };
    Some(format!("{dot} {arrow} {text}"))
}

/// The value of `key` with its changes against the previous window and the week before.
fn headline_value(
    r: &FullReport,
    json: &serde_json::Value,
    key: &str,
    better: Option<bool>,
) -> String {
    let unit = doc(key).map(|d| d.unit).unwrap_or(Unit::Count);
    let v = json.get(key).unwrap_or(&serde_json::Value::Null);
    let mut out = format_value(unit, v);
    let comparisons = [
        (r.deltas.previous.as_ref(), "vs previous"),
        (r.deltas.week_earlier.as_ref(), "vs week before"),
    ];
    let mut parts = Vec::new();
    for (comparison, label) in comparisons {
        let Some(c) = comparison else { continue };
        if let Some(text) = c.metrics.get(key).and_then(|d| change(unit, d, better)) {
            parts.push(format!("{text} {label}"));
        }
    }
    if !parts.is_empty() {
        out.push_str("  ");
        out.push_str(&parts.join(", "));
    }
    out
}

fn title_of(key: &str) -> &'static str {
    doc(key).map(|d| d.title).unwrap_or("")
}

fn joined(map: &std::collections::BTreeMap<String, i64>, limit: usize) -> String {
    let mut items: Vec<(&String, &i64)> = map.iter().filter(|(_, v)| **v > 0).collect();
    items.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = items
        .iter()
        .take(limit)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let rest = items.len().saturating_sub(limit);
    if rest > 0 {
        format!("{} · +{rest} more", shown.join(" · "))
    } else {
        shown.join(" · ")
    }
}

fn shorten(text: &str, max: usize) -> String {
    let t: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() <= max {
        t
    } else {
        let cut: String = t.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// A report as a post: headline fields with changes, the breakdowns, the backlog, the badge and
/// the highlights (a success story, loyalists, turnarounds).
pub fn report_post(title: &str, r: &FullReport) -> Post {
    let json = r.report.to_json();
    let v = &r.report.volume;
    let quiet = v.inbound_volume == 0;
    let mut post = Post::new(title);
    let pct = |x: Option<f64>| {
        x.map(|x| format!("{:.1} %", x * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    let dur = |x: Option<f64>| x.map(human_duration).unwrap_or_else(|| "n/a".into());
    post.summary = if quiet {
        format!("{title}: a quiet window, no mentions")
    } else {
        format!(
            "{title}: {} mentions ({} complaints), {} replies, response rate {}, median first response {}, {} waiting now",
            v.inbound_volume,
            r.report.sentiment.complaints,
            v.outbound_volume,
            pct(r.report.response.response_rate),
            dur(r.report.response.frt_median_s),
            r.backlog
        )
    };
    let gos_missed = r
        .report
        .response
        .gos
        .is_some_and(|g| g < 0.8 && r.report.conversations_new > 0);
    post.tone = if quiet {
        Tone::Info
    } else if gos_missed {
        Tone::Warning
    } else {
        Tone::Good
    };
    for (key, better) in HEADLINE {
        let mut name = title_of(key).to_string();
        if *key == "gos" {
            name = format!(
                "{name} (≤ {})",
                human_duration(r.report.response.gos_target_s as f64)
            );
        }
        post = post.field(name, headline_value(r, &json, key, *better), true);
    }
    let backlog = match r.backlog_oldest_wait_s {
        Some(w) if r.backlog > 0 => {
            format!("{} waiting, oldest {}", r.backlog, human_duration(w as f64))
        }
        _ => "nobody waiting".to_string(),
    };
    post = post.field("Waiting now", backlog, true);
    let badge = &r.badge.overall;
    if badge.conversations > 0 {
        post = post.field(
            "Responsiveness badge",
            format!(
                "{} (rate {}, time {})",
                badge.status.unwrap_or("no data"),
                pct(badge.response_rate),
                dur(badge.response_time_s)
            ),
            true,
        );
    }
    for (name, map) in [
        ("By platform", &v.by_platform),
        ("By category", &v.by_category),
        ("Top products", &v.by_product),
        ("Top topics", &v.by_topic),
    ] {
        if map.values().any(|n| *n > 0) {
            post = post.field(name, joined(map, 5), false);
        }
    }
    if let Some(story) = r.success_stories.first() {
        let link = story
            .link
            .as_deref()
            .map(|l| format!(" {l}"))
            .unwrap_or_default();
        post = post.field(
            "Success story",
            format!(
                "@{} on {}: “{}”{link}",
                story.author,
                story.platform,
                shorten(&story.text, 180)
            ),
            false,
        );
    }
    if r.turnarounds_count > 0 {
        post = post.field(
            "Turnarounds",
            format!(
                "{} conversations went from negative to positive",
                r.turnarounds_count
            ),
            false,
        );
    }
    if r.loyalists.count > 0 {
        let names: Vec<String> = r
            .loyalists
            .top
            .iter()
            .take(3)
            .map(|l| format!("@{}", l.author))
            .collect();
        post = post.field(
            "Loyalists",
            format!("{} ({})", r.loyalists.count, names.join(", ")),
            false,
        );
    }
    if quiet {
        post = post.line("A quiet window: no customer mentions.");
    }
    post
}

/// The scheduled digest: the report post, marked late when it is posted after its slot.
pub fn digest_post(name: &str, r: &FullReport, late_by_s: Option<i64>) -> Post {
    let mut post = report_post(&format!("carepulse {name} digest: {}", r.window.label), r);
    if let Some(late) = late_by_s.filter(|l| *l >= 120) {
        post.lines.insert(
            0,
            format!(
                "(posted {} late: the bot was not running at the scheduled time)",
                human_duration(late as f64)
            ),
        );
    }
    post
}

/// The four charts of a digest, over the last weeks of full days (`days`, `trend`): mentions
/// trend (line), mentions by platform (pie), complaints vs praise (lines) and mentions vs
/// resolved (lines). A chart that cannot be drawn is left out (the post still carries every
/// number).
pub fn digest_charts(days: &[DayVolume], trend: &[DayPoint]) -> Vec<Attachment> {
    [
        series::mentions_trend_chart(days),
        series::platforms_chart(days),
        series::complaints_vs_praise_chart(days),
        series::mentions_vs_resolved_chart(trend),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::deltas::delta;
    use crate::kpi::full::{Comparison, Deltas, Filters, WindowInfo};
    use chrono::{TimeZone, Utc};
    use std::collections::BTreeMap;

    fn report(inbound: i64, rate: Option<f64>) -> FullReport {
        let t = Utc
            .with_ymd_and_hms(2026, 11, 22, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut r = FullReport {
            window: WindowInfo {
                label: "yesterday".into(),
                start: t,
                end: t + chrono::Duration::days(1),
                timezone: "UTC".into(),
                days: 1,
            },
            filters: Filters::default(),
            now: t,
            report: Default::default(),
            backlog: 0,
            backlog_oldest_wait_s: None,
            success_stories: Vec::new(),
            turnarounds_count: 0,
            turnarounds: Vec::new(),
            loyalists: Default::default(),
            badge: Default::default(),
            deltas: Deltas::default(),
        };
        r.report.volume.inbound_volume = inbound;
        r.report.volume.outbound_volume = 90;
        r.report.response.response_rate = rate;
        r
    }

    fn with_previous(
        mut r: FullReport,
        metrics: &[(&str, Option<f64>, Option<f64>)],
    ) -> FullReport {
        let m: BTreeMap<String, Delta> = metrics
            .iter()
            .map(|(k, now, base)| (k.to_string(), delta(*now, *base)))
            .collect();
        r.deltas.previous = Some(Comparison {
            start: r.window.start,
            end: r.window.end,
            metrics: m,
        });
        r
    }

    fn field(post: &Post, name: &str) -> String {
        post.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    }

    #[test]
    fn changes_show_direction_and_whether_they_are_good_news() {
        let r = with_previous(
            report(120, Some(0.9)),
            &[
                ("inbound_volume", Some(120.0), Some(100.0)),
                ("response_rate", Some(0.9), Some(0.95)),
                ("frt_median_s", Some(600.0), Some(1200.0)),
            ],
        );
        let post = report_post("today", &r);
        assert_eq!(
            field(&post, "Inbound mentions"),
            "120  ⚪ ▲ 20 % vs previous"
        );
        assert_eq!(
            field(&post, "Response rate"),
            "90.0 %  🔴 ▼ 5.0 pt vs previous"
        );
        assert!(post.summary.contains("120 mentions"), "{}", post.summary);
    }

    #[test]
    fn a_faster_first_response_is_green_and_a_tiny_change_is_equal() {
        let mut r = report(10, Some(1.0));
        r.report.response.frt_median_s = Some(600.0);
        let r = with_previous(
            r,
            &[
                ("frt_median_s", Some(600.0), Some(1200.0)),
                ("outbound_volume", Some(90.0), Some(90.2)),
            ],
        );
        let post = report_post("today", &r);
        assert_eq!(
            field(&post, "First response (median)"),
            "10 min  🟢 ▼ 50 % vs previous"
        );
        assert_eq!(field(&post, "Brand replies"), "90  = vs previous");
    }

    #[test]
    fn a_quiet_day_still_gets_a_digest_that_says_so() {
        let post = digest_post("morning", &report(0, None), None);
        assert!(post.lines.iter().any(|l| l.contains("quiet")));
        assert!(post.summary.contains("quiet"));
        assert_eq!(post.title, "carepulse morning digest: yesterday");
        let late = digest_post("morning", &report(0, None), Some(3 * 3600));
        assert!(
            late.lines[0].contains("3 h 00 min late"),
            "{:?}",
            late.lines
        );
    }

    #[test]
    fn a_missed_service_target_turns_the_post_to_a_warning() {
        let mut r = report(50, Some(0.5));
        r.report.conversations_new = 40;
        r.report.response.gos = Some(0.4);
        r.report.response.gos_target_s = 3600;
        let post = report_post("today", &r);
        assert_eq!(post.tone, Tone::Warning);
        assert!(field(&post, "Grade of service (≤ 1 h 00 min)").starts_with("40.0 %"));
    }

    #[test]
    fn digest_carries_the_four_charts_as_pngs() {
        let date = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default();
        let day = |d: u32, m: i64| DayPoint {
            date: date(d),
            mentions: m,
            resolved_by_us: m / 2,
        };
        let volume = |d: u32, n: i64| {
            let mut v = DayVolume::new(date(d));
            v.inbound = n;
            v.by_platform.insert(crate::model::Platform::X, n);
            v.by_category
                .insert(crate::model::Category::Complaint, n / 3);
            v
        };
        let charts = digest_charts(
            &[volume(20, 10), volume(21, 30), volume(22, 20)],
            &[day(20, 10), day(21, 30), day(22, 20)],
        );
        let names: Vec<&str> = charts.iter().map(|c| c.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "mentions-trend.png",
                "mentions-by-platform.png",
                "complaints-vs-praise.png",
                "mentions-vs-resolved.png"
            ]
        );
        for c in &charts {
            assert_eq!(c.content_type, "image/png");
            assert_eq!(&c.bytes[1..4], b"PNG", "{}", c.filename);
        }
    }
}
