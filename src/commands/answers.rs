//! Answers to `/kpi` commands as chat-neutral `Post`s, rendered from what the app read: the
//! help, metric explanations, success stories and turnarounds, the backlog, charts and the
//! CSV export. Pure: data and `now` in, a post out.

use crate::digest::post::{Attachment, Post, Tone};
use crate::digest::series::{self, DayVolume, WaitingConversation};
use crate::kpi::full::FullReport;
use crate::kpi::report::human_duration;
use crate::model::UnixSeconds;

use super::{ChartKind, Filters};

/// A waiting conversation as the backlog answer lists it.
pub type BacklogItem = WaitingConversation;

/// How many waiting conversations the backlog answer lists (all are counted).
pub const BACKLOG_LISTED: usize = 15;

/// " (platform x, brand Acme, product "Smart Kettle")" or "".
pub fn filters_label(f: &Filters) -> String {
    let mut parts = Vec::new();
    if let Some(p) = f.platform {
        parts.push(format!("platform {}", p.display_name()));
    }
    if let Some(b) = &f.brand {
        parts.push(format!("brand {b}"));
    }
    if let Some(p) = &f.product {
        parts.push(format!("product {p}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
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

/// The help answer (only the asker sees it).
pub fn answer_help() -> Post {
    Post {
        title: "carepulse commands".into(),
        summary: "carepulse commands".into(),
        lines: vec![
            "/kpi today|yesterday|week|month — the care KPIs for a window, with changes".into(),
            "/kpi range 2026-11-01 2026-11-07 — explicit dates (both included)".into(),
            "/kpi stories [window] — success stories and turnarounds (default: last 7 days)".into(),
            "/kpi backlog — conversations waiting for a reply, oldest first, with links".into(),
            "/kpi chart volume|sentiment|platforms|complaints-vs-praise [days] — a PNG chart of the last days (default 14, at most 90)".into(),
            "/kpi export [window] — one CSV row per conversation (default: yesterday)".into(),
            "/kpi explain NAME — what a metric means and how it is computed, e.g. /kpi explain gos".into(),
            "/kpi help — this list".into(),
            "Filters for every command but explain and help: platform:x|facebook|mastodon|bluesky  brand:NAME  product:NAME (quote values with spaces: product:\"Smart Kettle\"; names match in any case, and an unknown one lists the known ones)".into(),
        ],
        tone: Tone::Info,
        ephemeral: true,
        ..Post::default()
    }
}

/// `/kpi explain NAME`: the metric's definition, attribution and formula; an unknown name
/// gets the list of known ones (only the asker sees it).
pub fn answer_explain(name: &str) -> Post {
    match crate::kpi::explain(name) {
        Some(text) => {
            let mut lines: Vec<String> = text
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect();
            let title = if lines.is_empty() {
                name.to_string()
            } else {
                lines.remove(0)
            };
            Post {
                summary: format!("What {title} means"),
                title,
                lines,
                tone: Tone::Info,
                ..Post::default()
            }
        }
        None => {
            let keys: Vec<&str> = crate::kpi::docs::METRICS.iter().map(|m| m.key).collect();
            Post::usage_error(format!(
                "no metric named '{name}'. Try /kpi explain with one of: {}",
                keys.join(", ")
            ))
        }
    }
}

/// `/kpi stories`: the success stories (top praise, with links) and turnarounds of a report.
pub fn answer_stories(r: &FullReport, filters: &Filters) -> Post {
    let title = format!(
        "Success stories, {}{}",
        r.window.label,
        filters_label(filters)
    );
    let mut post = Post::new(title.clone());
    post.tone = Tone::Good;
    for (i, s) in r.success_stories.iter().enumerate() {
        let link = s
            .link
            .as_deref()
            .map(|l| format!("\n<{l}>"))
            .unwrap_or_default();
        post = post.field(
            format!("{}. @{} on {}", i + 1, s.author, s.platform),
            format!("“{}”{link}", shorten(&s.text, 300)),
            false,
        );
    }
    if r.turnarounds_count > 0 {
        let mut lines = vec![format!(
            "**{} turnaround{}**: conversations that opened unhappy and ended happy after a reply.",
            r.turnarounds_count,
            if r.turnarounds_count == 1 { "" } else { "s" }
        )];
        for t in &r.turnarounds {
            let link = t
                .link
                .as_deref()
                .map(|l| format!(" <{l}>"))
                .unwrap_or_default();
            lines.push(format!(
                "• @{} on {}: turned around in {}{link}",
                t.customer,
                t.platform,
                human_duration(t.took_s as f64)
            ));
        }
        let more = r.turnarounds_count - r.turnarounds.len() as i64;
        if more > 0 {
            lines.push(format!("… and {more} more"));
        }
        post.lines.extend(lines);
    }
    if r.success_stories.is_empty() && r.turnarounds_count == 0 {
        post.tone = Tone::Info;
        post = post.line("No praise or turnarounds in this window yet.");
        post.summary = format!("{title}: none yet");
    } else {
        post.summary = format!(
            "{title}: {} stor{}, {} turnaround{}",
            r.success_stories.len(),
            if r.success_stories.len() == 1 {
                "y"
            } else {
                "ies"
            },
            r.turnarounds_count,
            if r.turnarounds_count == 1 { "" } else { "s" }
        );
    }
    post
}

/// `/kpi backlog`: `total` waiting conversations, the listed ones oldest first with how long
/// they have waited and a link.
pub fn answer_backlog(
    items: &[BacklogItem],
    total: i64,
    filters: &Filters,
    now: UnixSeconds,
) -> Post {
    let title = format!("Backlog{}", filters_label(filters));
    let mut post = Post::new(title.clone());
    if total == 0 || items.is_empty() {
        post.tone = Tone::Good;
        post.summary = format!("{title}: nobody is waiting for a reply");
        return post.line("Nobody is waiting for a reply. 🎉");
    }
    let oldest = items
        .iter()
        .map(|i| now - i.waiting_since)
        .max()
        .unwrap_or(0)
        .max(0);
    post.summary = format!(
        "{title}: {total} waiting, oldest for {}",
        human_duration(oldest as f64)
    );
    post.tone = if oldest >= 24 * 3600 {
        Tone::Alert
    } else {
        Tone::Warning
    };
    post = post.line(format!(
        "**{total} conversation{} waiting for a reply**, oldest first:",
        if total == 1 { "" } else { "s" }
    ));
    for i in items.iter().take(BACKLOG_LISTED) {
        let platform = i.platform.map(|p| p.display_name()).unwrap_or("?");
        let category = i.category.map(|c| c.as_str()).unwrap_or("message");
        let link = i
            .link
            .as_deref()
            .map(|l| format!(" <{l}>"))
            .unwrap_or_default();
        let text = if i.text.trim().is_empty() {
            String::new()
        } else {
            format!(": “{}”", shorten(&i.text, 120))
        };
        post = post.line(format!(
            "• {} — @{} on {platform} ({category}){text}{link}",
            human_duration((now - i.waiting_since).max(0) as f64),
            i.customer
        ));
    }
    let more = total - items.len().min(BACKLOG_LISTED) as i64;
    if more > 0 {
        post = post.line(format!(
            "… and {more} more (/kpi export lists every conversation)"
        ));
    }
    post
}

/// `/kpi chart KIND DAYS`: the chart as a PNG attachment over the given days.
pub fn answer_chart(kind: ChartKind, days: &[DayVolume], filters: &Filters) -> Post {
    let chart = match kind {
        ChartKind::Volume => series::mentions_trend_chart(days),
        ChartKind::Sentiment => series::sentiment_chart(days),
        ChartKind::Platforms => series::platforms_chart(days),
        ChartKind::ComplaintsVsPraise => series::complaints_vs_praise_chart(days),
    };
    let total: i64 = days.iter().map(|d| d.inbound).sum();
    let title = format!(
        "Chart: {}, last {} day{}{}",
        kind.as_str(),
        days.len(),
        if days.len() == 1 { "" } else { "s" },
        filters_label(filters)
    );
    let mut post = Post::new(title.clone());
    post.summary = format!("{title}: {total} mentions");
    match chart {
        Some(a) => post.attachments.push(a),
        None => post = post.line("The chart could not be drawn; /kpi week has the numbers."),
    }
    post
}

/// `/kpi export`: the CSV as a file attachment.
pub fn answer_export(window_label: &str, filters: &Filters, csv: Vec<u8>) -> Post {
    let rows = csv::Reader::from_reader(csv.as_slice()).records().count();
    let title = format!("Export, {window_label}{}", filters_label(filters));
    let slug: String = window_label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut post = Post::new(title.clone());
    post.summary = format!("{title}: {rows} conversations");
    post = post.line(format!(
        "{rows} conversation{} started in the window, one CSV row each.",
        if rows == 1 { "" } else { "s" }
    ));
    post.attachments.push(Attachment::csv(
        format!("carepulse-{slug}.csv"),
        "Conversations (CSV)",
        csv,
    ));
    post
}
