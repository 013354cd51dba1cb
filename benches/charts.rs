//! Rendering the digest's chart set (mentions trend, complaints vs praise, platforms pie,
//! FRT histogram) into PNG bytes. Target: under 300 ms for all four.

use carepulse::digest::charts::{bar_chart, line_chart, pie_chart, Bar, Labels, Series, Slice};
use chrono::NaiveDate;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn daily(name: &str, days: u32, base: f64, step: u32) -> Series {
    let start = NaiveDate::from_ymd_opt(2026, 10, 1).expect("valid date");
    Series::new(
        name,
        (0..days)
            .map(|d| {
                (
                    start + chrono::Duration::days(i64::from(d)),
                    base + f64::from(d * step % 97),
                )
            })
            .collect(),
    )
}

fn digest_set(c: &mut Criterion) {
    let trend = vec![daily("mentions", 30, 400.0, 37)];
    let moods = vec![
        daily("complaints", 30, 120.0, 13),
        daily("praise", 30, 60.0, 7),
    ];
    let platforms = vec![
        Slice::new("X", 620.0),
        Slice::new("Facebook", 310.0),
        Slice::new("Mastodon", 90.0),
        Slice::new("Bluesky", 45.0),
    ];
    let frt = vec![
        Bar::new("<15 min", 120.0),
        Bar::new("15-60 min", 80.0),
        Bar::new("1-4 h", 40.0),
        Bar::new("4-24 h", 12.0),
        Bar::new(">24 h", 3.0),
    ];
    c.bench_function("digest_four_charts", |b| {
        b.iter(|| {
            let a = line_chart(
                &Labels::new("Mentions, 30 days", "day", "mentions per day"),
                &trend,
            );
            let m = line_chart(
                &Labels::new("Complaints vs praise", "day", "messages per day"),
                &moods,
            );
            let p = pie_chart("Mentions by platform", &platforms);
            let f = bar_chart(
                &Labels::new(
                    "First response time",
                    "time to first reply",
                    "conversations",
                ),
                &frt,
            );
            black_box((a, m, p, f))
        })
    });
}

/// The digest's own chart set as `digest::digest_charts` draws it: mentions trend (total and
/// four platforms), mentions by platform, complaints vs praise, mentions vs resolved, over 14
/// days.
fn digest_charts_from_series(c: &mut Criterion) {
    use carepulse::digest::series::DayVolume;
    use carepulse::kpi::report::DayPoint;
    use carepulse::model::{Category, Platform};
    let start = NaiveDate::from_ymd_opt(2026, 11, 9).expect("valid date");
    let days: Vec<DayVolume> = (0..14u32)
        .map(|d| {
            let mut v = DayVolume::new(start + chrono::Duration::days(i64::from(d)));
            for (i, p) in Platform::ALL.into_iter().enumerate() {
                v.by_platform
                    .insert(p, 100 + i64::from(d * 37 % 90) / (i as i64 + 1));
            }
            v.inbound = v.by_platform.values().sum();
            v.by_category.insert(Category::Complaint, v.inbound / 3);
            v.by_category.insert(Category::Praise, v.inbound / 4);
            v
        })
        .collect();
    let trend: Vec<DayPoint> = days
        .iter()
        .map(|d| DayPoint {
            date: d.date,
            mentions: d.inbound,
            resolved_by_us: d.inbound / 2,
        })
        .collect();
    c.bench_function("digest_charts_four_pngs", |b| {
        b.iter(|| {
            let charts = carepulse::digest::digest_charts(black_box(&days), black_box(&trend));
            assert_eq!(charts.len(), 4);
            charts
        })
    });
}

criterion_group!(benches, digest_set, digest_charts_from_series);
criterion_main!(benches);
