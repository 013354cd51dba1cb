//! The spike alert as a chat-neutral `Post`: count vs normal and the ratio, window, platforms,
//! top topics and products, three example messages with links, a link-free summary, and the
//! acknowledge / snooze-1h buttons (with the parser for the ids they send back).

use chrono::TimeZone;

use super::config::Metric;
use super::cooldown::{FireReason, Input};
use crate::digest::post::{Action, Post, Tone};
use crate::model::{Platform, UnixSeconds};

/// An example message shown in an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleMessage {
    pub platform: Platform,
    pub author: String,
    pub text: String,
    pub url: Option<String>,
    pub at: UnixSeconds,
}

/// Everything an alert says. `series_key` identifies the series (e.g. `acme:x:complaints`) and
/// comes back in the button ids.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeAlert {
    pub series_key: String,
    pub brand: String,
    pub metric: Metric,
    pub platforms: Vec<Platform>,
    pub window_start: UnixSeconds,
    pub window_end: UnixSeconds,
    pub count: f64,
    pub expected: f64,
    pub reason: FireReason,
    /// Topics and products named in the spike's messages with their counts, any order.
    pub topics: Vec<(String, usize)>,
    pub products: Vec<(String, usize)>,
    pub examples: Vec<ExampleMessage>,
}

fn top(items: &[(String, usize)], n: usize) -> String {
    let mut v: Vec<&(String, usize)> = items.iter().filter(|(_, c)| *c > 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    if v.is_empty() {
        return "none named".into();
    }
    v.iter()
        .take(n)
        .map(|(name, c)| format!("{name} ({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Renders the alert; `tz` formats the window.
pub fn spike_post(a: &SpikeAlert, tz: chrono_tz::Tz) -> Post {
    let ratio = a.count / a.expected.max(0.5);
    let platforms = if a.platforms.is_empty() {
        "all platforms".to_string()
    } else {
        a.platforms
            .iter()
            .map(|p| p.display_name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fmt = |t: UnixSeconds| {
        tz.timestamp_opt(t, 0)
            .single()
            .map(|d| d.format("%a %H:%M").to_string())
            .unwrap_or_else(|| t.to_string())
    };
    let what = a.metric.as_str();
    let title = match a.reason {
        FireReason::New => format!("Spike in {what} for {}", a.brand),
        FireReason::Grew { .. } => format!("Spike in {what} for {} is growing", a.brand),
    };
    let mut post = Post::new(title);
    post.tone = Tone::Alert;
    post.summary = format!(
        "{} {what} on {platforms} in {} to {}: {:.0} vs {:.0} normal ({:.1}x)",
        a.brand,
        fmt(a.window_start),
        fmt(a.window_end),
        a.count,
        a.expected,
        ratio
    );
    post = post
        .field("Count", format!("{:.0}", a.count), true)
        .field("Normal", format!("{:.1}", a.expected), true)
        .field("Ratio", format!("{ratio:.1}x"), true)
        .field(
            "Window",
            format!("{} – {}", fmt(a.window_start), fmt(a.window_end)),
            true,
        )
        .field("Platforms", platforms, true)
        .field("Top topics", top(&a.topics, 3), false)
        .field("Top products", top(&a.products, 3), false);
    if let FireReason::Grew { previous } = a.reason {
        post.lines.push(format!(
            "Grew from {previous:.0} at the last alert to {:.0}.",
            a.count
        ));
    }
    if !a.examples.is_empty() {
        post.lines.push("**Examples**".into());
    }
    for e in a.examples.iter().take(3) {
        let link = e
            .url
            .as_deref()
            .map(|u| format!(" <{u}>"))
            .unwrap_or_default();
        post.lines.push(format!(
            "• {} on {}: \"{}\"{link}",
            e.author,
            e.platform.display_name(),
            one_line(&e.text, 140)
        ));
    }
    post.actions = vec![
        Action {
            id: format!("alert:ack:{}", a.series_key),
            label: "Acknowledge".into(),
        },
        Action {
            id: format!("alert:snooze1h:{}", a.series_key),
            label: "Snooze 1h".into(),
        },
    ];
    post
}

/// Turns a pressed button's id into the series key and the state-machine input, or `None` for
/// ids that are not alert buttons.
pub fn parse_action(id: &str, now: UnixSeconds) -> Option<(String, Input)> {
    let rest = id.strip_prefix("alert:")?;
    let (kind, key) = rest.split_once(':')?;
    if key.is_empty() {
        return None;
    }
    let input = match kind {
        "ack" => Input::Acknowledge { at: now },
        "snooze1h" => Input::Snooze {
            at: now,
            until: now + 3600,
        },
        _ => return None,
    };
    Some((key.to_string(), input))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> SpikeAlert {
        SpikeAlert {
            series_key: "acme:x:complaints".into(),
            brand: "acme".into(),
            metric: Metric::Complaints,
            platforms: vec![Platform::X, Platform::Facebook],
            window_start: 1_425_297_600, // Mon 12:00 UTC
            window_end: 1_425_297_900,
            count: 42.0,
            expected: 6.0,
            reason: FireReason::New,
            topics: vec![
                ("billing".into(), 3),
                ("outage".into(), 20),
                ("app".into(), 0),
            ],
            products: vec![],
            examples: (0..5)
                .map(|i| ExampleMessage {
                    platform: Platform::X,
                    author: format!("@u{i}"),
                    text: "app  is\ndown again".into(),
                    url: Some(format!("https://x.com/u{i}/status/{i}")),
                    at: 1_425_297_700,
                })
                .collect(),
        }
    }

    #[test]
    fn alert_post_has_numbers_examples_and_buttons() {
        let p = spike_post(&alert(), chrono_tz::UTC);
        assert_eq!(p.title, "Spike in complaints for acme");
        assert_eq!(
            p.summary,
            "acme complaints on X, Facebook in Mon 12:00 to Mon 12:05: 42 vs 6 normal (7.0x)"
        );
        assert!(!p.summary.contains("http"));
        let f = |n: &str| {
            p.fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.clone())
        };
        assert_eq!(f("Ratio").as_deref(), Some("7.0x"));
        assert_eq!(f("Top topics").as_deref(), Some("outage (20), billing (3)"));
        assert_eq!(f("Top products").as_deref(), Some("none named"));
        let examples: Vec<_> = p.lines.iter().filter(|l| l.starts_with("• ")).collect();
        assert_eq!(examples.len(), 3);
        assert_eq!(
            examples[0],
            "• @u0 on X: \"app is down again\" <https://x.com/u0/status/0>"
        );
        assert_eq!(p.actions.len(), 2);
        let (key, input) = parse_action(&p.actions[1].id, 1000).expect("snooze id");
        assert_eq!(key, "acme:x:complaints");
        assert_eq!(
            input,
            Input::Snooze {
                at: 1000,
                until: 4600
            }
        );
        assert!(matches!(
            parse_action(&p.actions[0].id, 5),
            Some((_, Input::Acknowledge { at: 5 }))
        ));
        assert_eq!(parse_action("kpi:today", 5), None);
    }
}
