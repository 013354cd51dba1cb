//! Waiting customers: one batched nudge listing the oldest actionable conversations whose
//! customer has waited past the SLA (in business time), never one message per conversation.

use crate::digest::post::{Action, Post, Tone};
use crate::model::{ConversationFacts, Platform, UnixSeconds};

/// One overdue conversation in a nudge.
#[derive(Debug, Clone, PartialEq)]
pub struct Overdue {
    pub conversation_id: i64,
    pub platform: Option<Platform>,
    pub brand: String,
    pub customer: String,
    pub url: Option<String>,
    /// Business seconds waited so far.
    pub waited_s: i64,
}

/// Actionable conversations whose customer has waited at least `sla_s` business seconds by
/// `now`, oldest wait first. `business` counts business seconds between two instants.
pub fn overdue(
    facts: &[ConversationFacts],
    now: UnixSeconds,
    sla_s: i64,
    business: &dyn Fn(UnixSeconds, UnixSeconds) -> i64,
) -> Vec<Overdue> {
    let mut out: Vec<Overdue> = facts
        .iter()
        .filter(|f| f.actionable && f.marked_resolved_at.is_none())
        .filter_map(|f| {
            let since = f.waiting_since?;
            if since > now {
                return None;
            }
            let waited_s = business(since, now);
            (waited_s >= sla_s).then(|| Overdue {
                conversation_id: f.id,
                platform: f.platform,
                brand: f.brand.clone(),
                customer: f.customer.clone(),
                url: f.first_inbound_url.clone(),
                waited_s,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.waited_s
            .cmp(&a.waited_s)
            .then(a.conversation_id.cmp(&b.conversation_id))
    });
    out
}

/// "2h 05m", "45m", "3d 4h".
pub fn human_duration(s: i64) -> String {
    let s = s.max(0);
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else {
        format!("{m}m")
    }
}

/// The one nudge for everything overdue, listing at most `max_listed` oldest waits with links;
/// `None` when nobody is overdue.
pub fn nudge(
    facts: &[ConversationFacts],
    now: UnixSeconds,
    sla_s: i64,
    business: &dyn Fn(UnixSeconds, UnixSeconds) -> i64,
    max_listed: usize,
) -> Option<Post> {
    let all = overdue(facts, now, sla_s, business);
    let oldest = all.first()?;
    let n = all.len();
    let who = if n == 1 {
        "customer is"
    } else {
        "customers are"
    };
    let mut post = Post::new(format!(
        "{n} {who} waiting past the {} SLA",
        human_duration(sla_s)
    ));
    post.summary = format!(
        "{n} {who} waiting past the {} SLA; longest {}",
        human_duration(sla_s),
        human_duration(oldest.waited_s)
    );
    post.tone = Tone::Warning;
    for o in all.iter().take(max_listed.max(1)) {
        let platform = o.platform.map_or("unknown platform", |p| p.display_name());
        let customer = if o.customer.is_empty() {
            "a customer"
        } else {
            &o.customer
        };
        let link = o
            .url
            .as_deref()
            .map(|u| format!(" <{u}>"))
            .unwrap_or_default();
        post.lines.push(format!(
            "• **{}** waiting: {customer} on {platform} ({}){link}",
            human_duration(o.waited_s),
            o.brand
        ));
    }
    if n > max_listed.max(1) {
        post.lines
            .push(format!("… and {} more", n - max_listed.max(1)));
    }
    post.actions.push(Action {
        id: "waiting:ack".into(),
        label: "On it".into(),
    });
    Some(post)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(id: i64, since: Option<i64>, actionable: bool) -> ConversationFacts {
        ConversationFacts {
            id,
            platform: Some(Platform::X),
            brand: "acme".into(),
            customer: format!("@c{id}"),
            waiting_since: since,
            actionable,
            first_inbound_url: Some(format!("https://x.com/c{id}/status/{id}")),
            ..ConversationFacts::default()
        }
    }

    #[test]
    fn one_nudge_lists_the_oldest_waits_in_business_time() {
        let now = 100_000;
        let facts = vec![
            conv(1, Some(now - 7200), true),
            conv(2, Some(now - 600), true),     // within SLA
            conv(3, Some(now - 90_000), true),  // oldest
            conv(4, Some(now - 50_000), false), // praise: not actionable
            conv(5, None, true),                // answered
            conv(6, Some(now - 5000), true),
        ];
        // Business time counts half of wall time (e.g. a 12-hour business day).
        let business = |a: i64, b: i64| (b - a) / 2;
        let post = nudge(&facts, now, 1800, &business, 2).expect("overdue");
        assert_eq!(post.title, "3 customers are waiting past the 30m SLA");
        assert_eq!(post.lines.len(), 3);
        assert!(post.lines[0].contains("@c3") && post.lines[0].contains("12h 30m"));
        assert!(post.lines[0].contains("<https://x.com/c3/status/3>"));
        assert!(post.lines[1].contains("@c1"));
        assert_eq!(post.lines[2], "… and 1 more");
        assert!(!post.summary.contains("http"));
        assert_eq!(nudge(&facts[1..2], now, 1800, &business, 5), None);
    }
}
