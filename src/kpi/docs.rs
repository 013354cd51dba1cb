//! The one table of metric documentation: JSON key, title (the label `render_text` prints),
//! unit, definition, attribution rule and formula. `explain` prints an entry; the text report
//! takes its labels from here, so what users read and what `/kpi explain` says never drift.

/// How a metric's value is shown in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    /// A share in [0, 1], shown as a percentage.
    Share,
    /// Seconds, shown as a human duration.
    Seconds,
    /// A plain number (sentiment, ratios).
    Number,
    /// Money in the configured currency.
    Money,
    /// A map, list or label.
    Other,
}

/// Documentation of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDoc {
    pub key: &'static str,
    pub title: &'static str,
    pub unit: Unit,
    pub definition: &'static str,
    pub attribution: &'static str,
    pub formula: &'static str,
}

const BY_MESSAGE: &str = "messages created in the window (created_at in [start, end))";
const BY_START: &str = "actionable conversations whose first inbound message is in the window";
const BY_RESOLUTION: &str =
    "conversations whose resolution instant is in the window (marked, thanks, or auto: the last brand reply, once the customer has been silent for auto_resolve_after at now)";

/// Every metric carepulse prints, in report order.
pub const METRICS: &[MetricDoc] = &[
    MetricDoc { key: "inbound_volume", title: "Inbound mentions", unit: Unit::Count, definition: "Customer messages (mentions, comments, replies, DMs) received.", attribution: BY_MESSAGE, formula: "count(inbound messages)" },
    MetricDoc { key: "outbound_volume", title: "Brand replies", unit: Unit::Count, definition: "Messages sent by the brand's own accounts.", attribution: BY_MESSAGE, formula: "count(outbound messages)" },
    MetricDoc { key: "by_platform", title: "By platform", unit: Unit::Other, definition: "Inbound messages per platform.", attribution: BY_MESSAGE, formula: "count(inbound) grouped by platform" },
    MetricDoc { key: "by_category", title: "By category", unit: Unit::Other, definition: "Inbound messages per category (complaint, inquiry, praise, other).", attribution: BY_MESSAGE, formula: "count(inbound) grouped by category" },
    MetricDoc { key: "by_product", title: "By product", unit: Unit::Other, definition: "Inbound messages naming each product (a message naming two products counts for both).", attribution: BY_MESSAGE, formula: "count(inbound naming product p) for each p" },
    MetricDoc { key: "by_topic", title: "By topic", unit: Unit::Other, definition: "Inbound messages about each topic (a message may have several).", attribution: BY_MESSAGE, formula: "count(inbound about topic t) for each t" },
    MetricDoc { key: "conversations_new", title: "New conversations", unit: Unit::Count, definition: "Conversations that started in the window, actionable or not.", attribution: "conversations whose first inbound message is in the window", formula: "count(conversations)" },
    MetricDoc { key: "response_rate", title: "Response rate", unit: Unit::Share, definition: "Share of actionable conversations that have at least one brand reply by now.", attribution: BY_START, formula: "answered / actionable; null when there is none" },
    MetricDoc { key: "frt_mean_s", title: "First response (mean)", unit: Unit::Seconds, definition: "Mean first response time of answered actionable conversations.", attribution: BY_START, formula: "mean(first reply - first inbound)" },
    MetricDoc { key: "frt_median_s", title: "First response (median)", unit: Unit::Seconds, definition: "Median first response time (mean of the two middle values for an even count).", attribution: BY_START, formula: "median(first reply - first inbound)" },
    MetricDoc { key: "frt_p90_s", title: "First response (p90)", unit: Unit::Seconds, definition: "90th percentile of first response time, nearest rank.", attribution: BY_START, formula: "sorted FRTs ascending, value at rank ceil(0.9 n)" },
    MetricDoc { key: "frt_business_mean_s", title: "First response, business (mean)", unit: Unit::Seconds, definition: "Mean first response time counting only business hours (calendar time without [business_hours]).", attribution: BY_START, formula: "mean(business seconds between first inbound and first reply)" },
    MetricDoc { key: "frt_business_median_s", title: "First response, business (median)", unit: Unit::Seconds, definition: "Median first response time in business hours.", attribution: BY_START, formula: "median(business FRT)" },
    MetricDoc { key: "frt_business_p90_s", title: "First response, business (p90)", unit: Unit::Seconds, definition: "90th percentile of business-hours first response time, nearest rank.", attribution: BY_START, formula: "business FRTs ascending, value at rank ceil(0.9 n)" },
    MetricDoc { key: "reply_time_mean_s", title: "Reply time (mean)", unit: Unit::Seconds, definition: "For every brand reply that answers a waiting customer, the time since the oldest unanswered inbound message of that conversation; mean over all such replies.", attribution: BY_START, formula: "mean(reply - oldest unanswered inbound)" },
    MetricDoc { key: "reply_time_median_s", title: "Reply time (median)", unit: Unit::Seconds, definition: "Median of the same reply waits.", attribution: BY_START, formula: "median(reply - oldest unanswered inbound)" },
    MetricDoc { key: "gos", title: "Grade of service", unit: Unit::Share, definition: "Share of actionable conversations answered within sla_target. An unanswered conversation older than the target is a miss; a younger one is undecided and left out.", attribution: BY_START, formula: "hits / (hits + misses); hit = FRT <= target" },
    MetricDoc { key: "gos_target_s", title: "Service target", unit: Unit::Seconds, definition: "The sla_target grade of service is measured against (care.sla_target, default 60 min).", attribution: "configuration", formula: "care.sla_target in seconds" },
    MetricDoc { key: "frt_histogram", title: "First response spread", unit: Unit::Other, definition: "Actionable conversations by first response time: 0-1 h, 1-4 h, 4-8 h, 8-24 h, 24 h+, unanswered.", attribution: BY_START, formula: "count per bucket [lower, upper)" },
    MetricDoc { key: "backlog", title: "Backlog", unit: Unit::Count, definition: "Actionable conversations whose customer is waiting for a reply at now, whenever they started.", attribution: "the instant now, not the window", formula: "count(actionable with an unanswered inbound message)" },
    MetricDoc { key: "backlog_oldest_wait_s", title: "Oldest wait", unit: Unit::Seconds, definition: "How long the longest-waiting customer of the backlog has waited.", attribution: "the instant now", formula: "now - min(oldest unanswered inbound)" },
    MetricDoc { key: "resolved", title: "Resolved", unit: Unit::Count, definition: "Conversations resolved: marked from chat, thanks or praise (compound >= 0.5) after a brand reply, or automatically when the brand spoke last and the customer stayed silent for auto_resolve_after.", attribution: BY_RESOLUTION, formula: "count(resolved)" },
    MetricDoc { key: "resolved_by_us", title: "Resolved by us", unit: Unit::Count, definition: "Resolved conversations with at least one brand reply.", attribution: BY_RESOLUTION, formula: "count(resolved with replies >= 1)" },
    MetricDoc { key: "resolution_mean_s", title: "Resolution time (mean)", unit: Unit::Seconds, definition: "Mean time from the first inbound message to resolution.", attribution: BY_RESOLUTION, formula: "mean(resolved at - first inbound)" },
    MetricDoc { key: "resolution_median_s", title: "Resolution time (median)", unit: Unit::Seconds, definition: "Median time from the first inbound message to resolution.", attribution: BY_RESOLUTION, formula: "median(resolved at - first inbound)" },
    MetricDoc { key: "handling_mean_s", title: "Handling time (mean)", unit: Unit::Seconds, definition: "Mean time from the first brand reply to resolution, over resolved conversations with a reply.", attribution: BY_RESOLUTION, formula: "mean(max(0, resolved at - first reply))" },
    MetricDoc { key: "handling_total_s", title: "Handling time (total)", unit: Unit::Seconds, definition: "Total time from first brand reply to resolution, summed.", attribution: BY_RESOLUTION, formula: "sum(max(0, resolved at - first reply))" },
    MetricDoc { key: "fcr_rate", title: "First contact resolution", unit: Unit::Share, definition: "Share of conversations resolved by us with exactly one brand reply and no reopen.", attribution: BY_RESOLUTION, formula: "count(replies = 1 and reopens = 0) / resolved_by_us" },
    MetricDoc { key: "deflection_rate", title: "Kept on social", unit: Unit::Share, definition: "Share of conversations resolved by us in which no brand reply sent the customer to a costlier channel (phone, email: care.redirect_patterns). Moving to the platform's DMs is not a redirect.", attribution: BY_RESOLUTION, formula: "count(not redirected) / resolved_by_us" },
    MetricDoc { key: "deflection_saving", title: "Estimated saving", unit: Unit::Money, definition: "What the conversations kept on social would have cost on the costliest configured non-social channel, minus their cost on social. Null unless care.cost_per_contact names a channel that is not a platform (phone, email, ...).", attribution: BY_RESOLUTION, formula: "sum over kept conversations of max(0, max(cost of non-platform channels) - cost of their platform (0 if unset))" },
    MetricDoc { key: "sentiment_mean", title: "Sentiment (mean)", unit: Unit::Number, definition: "Mean VADER compound score of classified inbound messages, in [-1, 1].", attribution: BY_MESSAGE, formula: "sum(compound) / count(classified inbound)" },
    MetricDoc { key: "sentiment_pos_share", title: "Positive", unit: Unit::Share, definition: "Share of classified inbound messages with compound >= 0.05.", attribution: BY_MESSAGE, formula: "positive / classified inbound" },
    MetricDoc { key: "sentiment_neu_share", title: "Neutral", unit: Unit::Share, definition: "Share of classified inbound messages with -0.05 < compound < 0.05.", attribution: BY_MESSAGE, formula: "neutral / classified inbound" },
    MetricDoc { key: "sentiment_neg_share", title: "Negative", unit: Unit::Share, definition: "Share of classified inbound messages with compound <= -0.05.", attribution: BY_MESSAGE, formula: "negative / classified inbound" },
    MetricDoc { key: "complaints", title: "Complaints", unit: Unit::Count, definition: "Inbound messages classified as complaints.", attribution: BY_MESSAGE, formula: "count(inbound complaint)" },
    MetricDoc { key: "praise", title: "Praise", unit: Unit::Count, definition: "Inbound messages classified as praise.", attribution: BY_MESSAGE, formula: "count(inbound praise)" },
    MetricDoc { key: "complaint_praise_ratio", title: "Complaints per praise", unit: Unit::Number, definition: "Complaints divided by praise; the goal is 1:1 or lower. Null when both are 0. When praise is 0 and complaints are not, the ratio is infinite: text shows \"∞\", JSON gives null with complaint_praise_ratio_infinite = true.", attribution: BY_MESSAGE, formula: "complaints / praise" },
    MetricDoc { key: "mentions_vs_resolved", title: "Mentions vs resolved", unit: Unit::Other, definition: "Daily series (local days of the window) of inbound volume and resolved_by_us, for the line graph.", attribution: "mentions by message time, resolutions by resolution time, per local day", formula: "per day: count(inbound), count(resolved by us)" },
    MetricDoc { key: "success_stories", title: "Success stories", unit: Unit::Other, definition: "The top 3 inbound praise messages with author, platform, text and link.", attribution: BY_MESSAGE, formula: "rank by compound x ln(2 + engagement), highest first; ties by earlier message" },
    MetricDoc { key: "turnarounds", title: "Turnarounds", unit: Unit::Other, definition: "Conversations that opened with a complaint (or compound <= -0.05) and whose last inbound message, after a brand reply, has compound >= 0.5; with the time it took.", attribution: "conversations whose last inbound message is in the window", formula: "took = last inbound - first inbound" },
    MetricDoc { key: "loyalists", title: "Loyalists", unit: Unit::Other, definition: "Authors with >= 3 praise messages in the trailing 30 days, or >= 2 helpful replies (a positive reply, compound >= 0.05, in another customer's conversation) in the same 30 days; count and top 5.", attribution: "the 30 days ending at the window's end", formula: "rank by praise + helpful replies, then name" },
    MetricDoc { key: "badge", title: "Responsiveness badge", unit: Unit::Other, definition: "Facebook's rule, per platform and overall: \"very responsive\" when response rate >= 90 % and response time <= 15 min; \"at risk\" when both are within 10 % of their threshold (rate >= 81 %, time <= 16.5 min) but not both met; else \"not responsive\". A message counts when it opens a conversation (the first after >= 24 h of silence on both sides, which is how conversations are cut); response time is the mean of the fastest 90 % (ceil(0.9 n)) of first responses.", attribution: "actionable conversations started in the 7 days ending at the window's end", formula: "rate = answered / started; time = mean(fastest ceil(0.9 n) FRTs)" },
    MetricDoc { key: "deltas", title: "Change", unit: Unit::Other, definition: "For every numeric metric: its value in the previous window of equal length and, for daily windows, the same weekday a week earlier.", attribution: "the comparison window, computed with the same rules and the same now", formula: "delta = value - base; delta_pct = delta / |base| (null when base is 0 or either is null)" },
];

/// The documentation entry of a metric, by JSON key.
pub fn doc(key: &str) -> Option<&'static MetricDoc> {
    METRICS.iter().find(|m| m.key == key)
}

/// The label `render_text` prints for a key (the key itself if undocumented).
pub fn title(key: &str) -> &'static str {
    doc(key).map(|m| m.title).unwrap_or("?")
}

/// What `carepulse kpi explain NAME` prints: title, definition, attribution and formula.
/// Accepts the JSON key or the title, case-insensitively.
pub fn explain(name: &str) -> Option<String> {
    let n = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let m = METRICS
        .iter()
        .find(|m| m.key == n || m.title.to_ascii_lowercase().replace(['-', ' '], "_") == n)?;
    Some(format!(
        "{} ({})\n  Definition:  {}\n  Attribution: {}\n  Formula:     {}\n",
        m.title, m.key, m.definition, m.attribution, m.formula
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_explain_finds_them() {
        let mut keys: Vec<&str> = METRICS.iter().map(|m| m.key).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate metric key");
        let text = explain("frt_p90_s").expect("documented");
        assert!(text.contains("ceil(0.9 n)"));
        assert!(text.contains("Attribution"));
        assert!(explain("Grade of service").is_some());
        assert!(explain("no_such_metric").is_none());
    }
}
