//! What chat answers read beyond the `FullReport`: inbound volume per local day (by platform,
//! by category, with sentiment counts) and the conversations waiting for a reply; and the
//! charts drawn from the daily series (mentions trend, mentions by platform, complaints vs
//! praise, sentiment shares, mentions vs resolved). Pure: data in, PNG attachments out.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::charts::{self, Labels, Series, Slice};
use super::post::Attachment;
use crate::kpi::report::DayPoint;
use crate::model::{Category, Platform, UnixSeconds};

/// Inbound messages of one local day.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DayVolume {
    pub date: NaiveDate,
    pub inbound: i64,
    pub by_platform: BTreeMap<Platform, i64>,
    pub by_category: BTreeMap<Category, i64>,
    /// Messages with compound >= 0.05 and <= -0.05.
    pub positive: i64,
    pub negative: i64,
}

impl DayVolume {
    pub fn new(date: NaiveDate) -> Self {
        DayVolume {
            date,
            ..DayVolume::default()
        }
    }

    pub fn category(&self, c: Category) -> i64 {
        self.by_category.get(&c).copied().unwrap_or(0)
    }
}

/// An actionable conversation with no brand reply yet (for `/kpi backlog`).
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingConversation {
    pub conversation_id: i64,
    pub platform: Option<Platform>,
    pub brand: String,
    pub customer: String,
    /// The oldest inbound message not yet answered.
    pub waiting_since: UnixSeconds,
    pub category: Option<Category>,
    /// Text of the first inbound message (may be empty).
    pub text: String,
    pub link: Option<String>,
}

fn label_days(days: &[DayVolume]) -> String {
    match (days.first(), days.last()) {
        (Some(a), Some(b)) if a.date != b.date => {
            format!("{} – {}", a.date.format("%b %d"), b.date.format("%b %d"))
        }
        (Some(a), _) => a.date.format("%b %d").to_string(),
        _ => "no days".into(),
    }
}

fn attach(
    filename: &str,
    title: &str,
    png: Result<Vec<u8>, charts::ChartError>,
) -> Option<Attachment> {
    // A chart that cannot be drawn is left out: the post still carries every number.
    png.ok()
        .map(|bytes| Attachment::png(filename, title, bytes))
}

/// Mentions per day: the total and, when more than one platform has mentions, each platform.
pub fn mentions_trend_chart(days: &[DayVolume]) -> Option<Attachment> {
    let mut series = vec![Series::new(
        "all mentions",
        days.iter().map(|d| (d.date, d.inbound as f64)).collect(),
    )];
    let platforms: Vec<Platform> = Platform::ALL
        .into_iter()
        .filter(|p| {
            days.iter()
                .any(|d| d.by_platform.get(p).is_some_and(|n| *n > 0))
        })
        .collect();
    if platforms.len() > 1 {
        for p in platforms {
            series.push(Series::new(
                p.display_name(),
                days.iter()
                    .map(|d| (d.date, d.by_platform.get(&p).copied().unwrap_or(0) as f64))
                    .collect(),
            ));
        }
    }
    let labels = Labels::new(
        format!("Mentions per day, {}", label_days(days)),
        "day",
        "mentions per day",
    );
    attach(
        "mentions-trend.png",
        "Mentions trend",
        charts::line_chart(&labels, &series),
    )
}

/// Share of mentions per platform over the days (pie).
pub fn platforms_chart(days: &[DayVolume]) -> Option<Attachment> {
    let slices: Vec<Slice> = Platform::ALL
        .into_iter()
        .map(|p| {
            let n: i64 = days
                .iter()
                .map(|d| d.by_platform.get(&p).copied().unwrap_or(0))
                .sum();
            Slice::new(p.display_name(), n as f64)
        })
        .collect();
    attach(
        "mentions-by-platform.png",
        "Mentions by platform",
        charts::pie_chart(
            &format!("Mentions by platform, {}", label_days(days)),
            &slices,
        ),
    )
}

/// Complaints and praise per day.
pub fn complaints_vs_praise_chart(days: &[DayVolume]) -> Option<Attachment> {
    let line = |c: Category| {
        days.iter()
            .map(|d| (d.date, d.category(c) as f64))
            .collect()
    };
    let series = [
        Series::new("complaints", line(Category::Complaint)).coloured(charts::BAD),
        Series::new("praise", line(Category::Praise)).coloured(charts::GOOD),
    ];
    let labels = Labels::new(
        format!("Complaints vs praise, {}", label_days(days)),
        "day",
        "messages per day",
    );
    attach(
        "complaints-vs-praise.png",
        "Complaints vs praise",
        charts::line_chart(&labels, &series),
    )
}

/// Positive and negative shares of the day's mentions, in percent (days without mentions
/// are left out of the lines).
pub fn sentiment_chart(days: &[DayVolume]) -> Option<Attachment> {
    let share = |f: fn(&DayVolume) -> i64| {
        days.iter()
            .filter(|d| d.inbound > 0)
            .map(|d| (d.date, f(d) as f64 * 100.0 / d.inbound as f64))
            .collect::<Vec<_>>()
    };
    let series = [
        Series::new("positive", share(|d| d.positive)).coloured(charts::GOOD),
        Series::new("negative", share(|d| d.negative)).coloured(charts::BAD),
    ];
    let labels = Labels::new(
        format!("Sentiment of mentions, {}", label_days(days)),
        "day",
        "share of mentions (%)",
    );
    attach(
        "sentiment.png",
        "Sentiment per day",
        charts::line_chart(&labels, &series),
    )
}

/// Mentions and conversations resolved by the brand per day.
pub fn mentions_vs_resolved_chart(trend: &[DayPoint]) -> Option<Attachment> {
    let series = [
        Series::new(
            "mentions",
            trend.iter().map(|d| (d.date, d.mentions as f64)).collect(),
        ),
        Series::new(
            "resolved by us",
            trend
                .iter()
                .map(|d| (d.date, d.resolved_by_us as f64))
                .collect(),
        )
        .coloured(charts::GOOD),
    ];
    let span = match (trend.first(), trend.last()) {
        (Some(a), Some(b)) => format!("{} – {}", a.date.format("%b %d"), b.date.format("%b %d")),
        _ => "no days".into(),
    };
    let labels = Labels::new(format!("Mentions vs resolved, {span}"), "day", "per day");
    attach(
        "mentions-vs-resolved.png",
        "Mentions vs resolved",
        charts::line_chart(&labels, &series),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32, x: i64, fb: i64, complaints: i64, praise: i64) -> DayVolume {
        let mut v = DayVolume::new(NaiveDate::from_ymd_opt(2026, 11, d).unwrap());
        v.by_platform.insert(Platform::X, x);
        v.by_platform.insert(Platform::Facebook, fb);
        v.inbound = x + fb;
        v.by_category.insert(Category::Complaint, complaints);
        v.by_category.insert(Category::Praise, praise);
        v.positive = praise;
        v.negative = complaints;
        v
    }

    #[test]
    fn every_series_chart_is_a_png_even_without_data() {
        let days = [day(20, 10, 5, 4, 3), day(21, 12, 2, 6, 1)];
        for a in [
            mentions_trend_chart(&days),
            platforms_chart(&days),
            complaints_vs_praise_chart(&days),
            sentiment_chart(&days),
            mentions_trend_chart(&[]),
            platforms_chart(&[]),
        ] {
            let a = a.expect("drawn");
            assert_eq!(&a.bytes[1..4], b"PNG", "{}", a.filename);
        }
    }

    #[test]
    fn days_are_labelled_as_a_span() {
        let days = [day(20, 1, 0, 0, 0), day(21, 1, 0, 0, 0)];
        assert_eq!(label_days(&days), "Nov 20 – Nov 21");
        assert_eq!(label_days(&days[..1]), "Nov 20");
    }
}
