//! Detector speed: one year of 5-minute buckets (105,120 points) through the spike alerter, and
//! one alert evaluation round for 50 brands × 5 series (one bucket each, as every minute).

use carepulse::alerts::{backtest, CooldownParams, SeriesAlerter, SpikeParams};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn series(n: i64) -> Vec<(i64, f64)> {
    (0..n)
        .map(|i| {
            let hour = ((i * 300) % 86_400) as f64 / 3600.0;
            let base = 20.0 + 15.0 * (std::f64::consts::PI * hour / 24.0).sin();
            let noise = ((i * 7919) % 11) as f64;
            let spike = if i % 20_000 == 10_000 { 300.0 } else { 0.0 };
            (1_420_070_400 + i * 300, base + noise + spike)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let year = series(105_120);
    c.bench_function("spike_year_5m_105k", |b| {
        b.iter(|| {
            let rows = backtest(
                black_box(year.iter().copied()),
                SpikeParams::default(),
                CooldownParams::default(),
                300,
            );
            black_box(rows.len())
        })
    });

    // 250 series warmed up on two weeks, then one step each (one minute's evaluation).
    let warm = series(4032);
    let mut alerters: Vec<SeriesAlerter> = (0..250)
        .map(|_| {
            let mut a =
                SeriesAlerter::new(SpikeParams::default(), CooldownParams::default(), 300, 0);
            for (t, v) in &warm {
                a.step(*t, *v);
            }
            a
        })
        .collect();
    let mut t = 1_420_070_400 + 4032 * 300;
    c.bench_function("evaluate_250_series_one_bucket", |b| {
        b.iter(|| {
            t += 300;
            let mut fired = 0;
            for a in alerters.iter_mut() {
                if a.step(t, black_box(25.0)).1.fires() {
                    fired += 1;
                }
            }
            black_box(fired)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
