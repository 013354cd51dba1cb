//! Throughput of the full classification (markup stripping, VADER, complaint model, category,
//! rules) on the VADER ground-truth tweets. Needs ../shared/data; skips without it.

use std::hint::black_box;

use carepulse::classify::{Classifier, Rules, SentimentScorer, VaderScorer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn tweets() -> Option<Vec<String>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/vader/tweets_GroundTruth.txt"
    );
    let Ok(bytes) = std::fs::read(path) else {
        eprintln!("skipping: {path} is absent");
        return None;
    };
    let text = String::from_utf8_lossy(&bytes);
    Some(
        text.lines()
            .filter_map(|l| {
                l.trim_end_matches('\r')
                    .splitn(3, '\t')
                    .nth(2)
                    .map(str::to_string)
            })
            .collect(),
    )
}

fn bench(c: &mut Criterion) {
    let Some(texts) = tweets() else {
        return;
    };
    let classifier = Classifier::new(&Rules::default()).expect("embedded model loads");
    let vader = VaderScorer::new();
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.sample_size(10);
    g.bench_function("full_4200_tweets", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(classifier.classify(black_box(t)));
            }
        })
    });
    g.bench_function("vader_only_4200_tweets", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(vader.score(black_box(t)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
