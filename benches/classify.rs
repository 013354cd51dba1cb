//! Throughput of the full classification (markup stripping, VADER, complaint model, category,
//! rules) on the VADER ground-truth tweets, one by one, stage by stage over blocks on one
//! core (`classify_block`) and with `classify_many` on all cores, and of each stage on its
//! own (markup stripping, fast VADER, the reference `vader-parity` crate, feature extraction,
//! the inquiry cue regex, product/topic rules). Needs ../shared/data; skips without it.

use std::hint::black_box;

use carepulse::classify::features::{extract, FeatureConfig, FeatureVec, Scratch};
use carepulse::classify::rules::CompiledRules;
use carepulse::classify::{
    category, strip_markup_cow, Classifier, ReferenceVader, Rules, SentimentScorer, VaderScorer,
};
use carepulse::model::Sentiment;
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
    let reference = ReferenceVader::new();
    let clean: Vec<String> = texts
        .iter()
        .map(|t| strip_markup_cow(t).into_owned())
        .collect();
    let rules = Rules::default();
    let products = CompiledRules::compile("products", &rules.products).expect("rules compile");
    let topics = CompiledRules::compile("topics", &rules.topics).expect("rules compile");
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
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    g.bench_function("full_4200_tweets_blocks", |b| {
        b.iter(|| black_box(classifier.classify_block(black_box(&refs))))
    });
    g.bench_function("full_4200_tweets_all_cores", |b| {
        b.iter(|| black_box(classifier.classify_many(black_box(&refs))))
    });
    g.bench_function("stage_markup_4200_tweets", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(strip_markup_cow(black_box(t)));
            }
        })
    });
    g.bench_function("stage_vader_fast_4200_tweets", |b| {
        b.iter(|| {
            for t in &clean {
                black_box(vader.score(black_box(t)));
            }
        })
    });
    g.bench_function("stage_vader_reference_crate_4200_tweets", |b| {
        b.iter(|| {
            for t in &clean {
                black_box(reference.score(black_box(t)));
            }
        })
    });
    let cfg = FeatureConfig::default();
    let s = Sentiment::default();
    let mut scratch = Scratch::default();
    let mut fv = FeatureVec::default();
    g.bench_function("stage_features_4200_tweets", |b| {
        b.iter(|| {
            for (raw, t) in texts.iter().zip(&clean) {
                extract(&cfg, raw, t, &s, &mut scratch, &mut fv);
                black_box(fv.idx.len());
            }
        })
    });
    g.bench_function("stage_inquiry_cues_4200_tweets", |b| {
        b.iter(|| {
            for t in &clean {
                black_box(category::inquiry_strength(black_box(t)));
            }
        })
    });
    g.bench_function("stage_rules_4200_tweets", |b| {
        b.iter(|| {
            for t in &clean {
                black_box(products.matches(black_box(t)));
                black_box(topics.matches(black_box(t)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
