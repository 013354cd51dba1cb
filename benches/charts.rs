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

criterion_group!(benches, digest_set);
criterion_main!(benches);
