//! Pure rendering of KPI reports into chat-neutral posts: the `/kpi` answer and the scheduled
//! digest (headline KPIs with deltas and direction), and the PNG charts that go with them.

pub mod charts;
pub mod post;

use crate::kpi::report::{human_duration, Report};
use post::{Post, Tone};

/// Change of a value against a base, as "▲ 12 %" / "▼ 3 %" / "=", with whether it is good.
fn delta(now: Option<f64>, base: Option<f64>, higher_is_better: bool) -> (String, Option<bool>) {
    match (now, base) {
        (Some(n), Some(b)) if b != 0.0 => {
            let pct = (n - b) / b.abs() * 100.0;
            if pct.abs() < 0.5 {
                ("=".into(), None)
            } else {
                let up = pct > 0.0;
                let arrow = if up { "▲" } else { "▼" };
                (
                    format!("{arrow} {:.0} %", pct.abs()),
                    Some(up == higher_is_better),
                )
            }
        }
        (Some(n), Some(_)) if n != 0.0 => ("new".into(), None),
        _ => (String::new(), None),
    }
}

fn with_delta(
    value: String,
    now: Option<f64>,
    base: Option<f64>,
    higher_is_better: bool,
) -> String {
    let (d, good) = delta(now, base, higher_is_better);
    if d.is_empty() {
        return value;
    }
    let mark = match good {
        Some(true) => "🟢",
        Some(false) => "🔴",
        None => "⚪",
    };
    format!("{value}  {mark} {d}")
}

/// A report as a post: headline fields with deltas against `previous` (the window before).
pub fn report_post(title: &str, r: &Report, previous: Option<&Report>) -> Post {
    let p = previous;
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.1} %", x * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    let dur = |v: Option<f64>| v.map(human_duration).unwrap_or_else(|| "n/a".into());
    let quiet = r.inbound_volume == 0;
    let mut post = Post::new(title);
    post.summary = if quiet {
        format!("{title}: a quiet window, no mentions")
    } else {
        format!(
            "{title}: {} mentions, {} replies, response rate {}, median first response {}",
            r.inbound_volume,
            r.outbound_volume,
            pct(r.response_rate),
            dur(r.frt_median_s)
        )
    };
    post.tone = if quiet { Tone::Info } else { Tone::Good };
    post = post
        .field(
            "Mentions",
            with_delta(
                r.inbound_volume.to_string(),
                Some(r.inbound_volume as f64),
                p.map(|p| p.inbound_volume as f64),
                false,
            ),
            true,
        )
        .field(
            "Replies",
            with_delta(
                r.outbound_volume.to_string(),
                Some(r.outbound_volume as f64),
                p.map(|p| p.outbound_volume as f64),
                true,
            ),
            true,
        )
        .field(
            "Conversations",
            with_delta(
                r.conversations_new.to_string(),
                Some(r.conversations_new as f64),
                p.map(|p| p.conversations_new as f64),
                false,
            ),
            true,
        )
        .field(
            "Response rate",
            with_delta(
                pct(r.response_rate),
                r.response_rate,
                p.and_then(|p| p.response_rate),
                true,
            ),
            true,
        )
        .field(
            "First response (median)",
            with_delta(
                dur(r.frt_median_s),
                r.frt_median_s,
                p.and_then(|p| p.frt_median_s),
                false,
            ),
            true,
        )
        .field(
            "First response (p90)",
            dur(r.frt_p90_s.map(|v| v as f64)),
            true,
        );
    if !r.by_platform.is_empty() {
        post = post.field(
            "By platform",
            r.by_platform
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(" · "),
            false,
        );
    }
    if !r.by_category.is_empty() {
        post = post.field(
            "By category",
            r.by_category
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(" · "),
            false,
        );
    }
    if quiet {
        post = post.line("A quiet window: no customer mentions.");
    }
    post
}

/// The scheduled digest: the report post, marked late when it is posted after its slot.
pub fn digest_post(
    name: &str,
    window_label: &str,
    r: &Report,
    previous: Option<&Report>,
    late_by_s: Option<i64>,
) -> Post {
    let mut post = report_post(
        &format!("carepulse {name} digest: {window_label}"),
        r,
        previous,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_show_direction_and_colour() {
        let now = Report {
            inbound_volume: 120,
            outbound_volume: 90,
            response_rate: Some(0.9),
            ..Report::default()
        };
        let before = Report {
            inbound_volume: 100,
            outbound_volume: 100,
            response_rate: Some(0.95),
            ..Report::default()
        };
        let post = report_post("today", &now, Some(&before));
        let field = |n: &str| {
            post.fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.clone())
                .unwrap_or_default()
        };
        assert_eq!(field("Mentions"), "120  🔴 ▲ 20 %");
        assert_eq!(field("Replies"), "90  🔴 ▼ 10 %");
        assert!(
            field("Response rate").starts_with("90.0 %  🔴 ▼ 5 %"),
            "{}",
            field("Response rate")
        );
        assert!(post.summary.contains("120 mentions"));
    }

    #[test]
    fn a_quiet_day_still_gets_a_digest_that_says_so() {
        let post = digest_post("morning", "yesterday", &Report::default(), None, None);
        assert!(post.lines.iter().any(|l| l.contains("quiet")));
        assert!(post.summary.contains("quiet"));
        let late = digest_post(
            "morning",
            "yesterday",
            &Report::default(),
            None,
            Some(3 * 3600),
        );
        assert!(late.lines[0].contains("3 h 00 min late"));
    }
}
