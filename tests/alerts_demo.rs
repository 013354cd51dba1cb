//! Demo quality bar of the spike alerter: on five simulated weeks of the shipped demo source
//! (classified by the shipped classifier, as the bot stores them), the balanced preset raises
//! fewer than one false alarm per simulated week outside the planted outage windows, and
//! catches every planted outage after the first day of history (the first week's included)
//! within 15 minutes of its onset.
//!
//! The demo generator has no switch to turn its weekly outage off, so false alarms are counted
//! outside the outage windows (the outage's three hours plus one hour of tail).

use std::collections::BTreeMap;
use std::path::Path;

use carepulse::alerts::{AlertsConfig, CooldownParams, Preset, SeriesAlerter, SpikeParams};
use carepulse::classify::{Classifier, KeywordRule, Rules};
use carepulse::config::{Config, SourceSpec};
use carepulse::model::{Category, Direction, Platform};
use carepulse::sources::demo::DemoGenerator;
use chrono::{DateTime, Duration, TimeZone, Utc};

const BUCKET: i64 = 300;
const DAYS: i64 = 35;

fn shipped_config() -> Config {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"));
    Config::load(path, &|_| None).expect("shipped config.toml loads")
}

/// Complaint counts per 5-minute bucket: brand-wide (`None`) and per platform.
type Counts = BTreeMap<Option<Platform>, BTreeMap<i64, f64>>;

fn demo_counts(config: &Config, from: DateTime<Utc>) -> (Counts, DemoGenerator) {
    demo_counts_seeded(config, from, None)
}

/// [`demo_counts`] with the demo source's seed replaced (`None`: the shipped seed).
fn demo_counts_seeded(
    config: &Config,
    from: DateTime<Utc>,
    seed: Option<u64>,
) -> (Counts, DemoGenerator) {
    let mut spec = config
        .sources
        .iter()
        .find_map(|s| match s {
            SourceSpec::Demo(d) => Some(d.clone()),
            _ => None,
        })
        .expect("the shipped config has a demo source");
    if let Some(seed) = seed {
        spec.seed = seed;
    }
    let brand = config.brands.iter().find(|b| b.name == spec.brand);
    let products: Vec<String> = config.products.iter().map(|p| p.name.clone()).collect();
    let generator = DemoGenerator::new(&spec, brand, &products, config.timezone);
    let conv = |rules: &[carepulse::config::KeywordRule]| {
        rules
            .iter()
            .map(|r| KeywordRule {
                name: r.name.clone(),
                keywords: r.keywords.clone(),
            })
            .collect()
    };
    let classifier = Classifier::new(&Rules {
        products: conv(&config.products),
        topics: conv(&config.topics),
    })
    .expect("classifier");
    let mut counts: Counts = BTreeMap::new();
    let to = from + Duration::days(DAYS);
    for m in generator.generate(from, to) {
        if m.direction != Direction::Inbound {
            continue;
        }
        if classifier.classify(&m.text).category != Category::Complaint {
            continue;
        }
        let b = m.created_at.timestamp().div_euclid(BUCKET) * BUCKET;
        for key in [None, Some(m.platform)] {
            *counts.entry(key).or_default().entry(b).or_default() += 1.0;
        }
    }
    (counts, generator)
}

/// What the balanced alerter did on one simulated run.
struct Outcome {
    /// Posts (buckets in which any series of the brand fires) outside the outage windows.
    false_alarms: Vec<i64>,
    weeks: f64,
    /// Each outage after the warm-up: its start and the detection delay in seconds (from the
    /// outage hour's start to the close of the first firing bucket), `None` if missed.
    delays: Vec<(i64, Option<i64>)>,
    /// Each outage's first three buckets in the brand-wide series: counts, and what the
    /// detector expected for them.
    first3: Vec<([f64; 3], f64)>,
    posts: usize,
}

impl Outcome {
    fn fa_rate(&self) -> f64 {
        self.false_alarms.len() as f64 / self.weeks
    }
}

/// Outage onsets (instants, not tied to buckets) in the simulated span.
fn outage_starts(generator: &DemoGenerator, from: DateTime<Utc>) -> Vec<i64> {
    generator
        .outages(from, from + Duration::days(DAYS))
        .iter()
        .filter(|o| **o >= from)
        .map(|o| o.timestamp())
        .collect()
}

/// Runs one alerter per series (brand-wide and per platform) over the counts, as the bot does,
/// and merges their posts per bucket.
fn evaluate(
    counts: &Counts,
    generator: &DemoGenerator,
    from: DateTime<Utc>,
    params: SpikeParams,
    cooldown: CooldownParams,
) -> Outcome {
    let outages = outage_starts(generator, from);
    let end = (from + Duration::days(DAYS)).timestamp();
    let mut posts: BTreeMap<i64, Vec<Option<Platform>>> = BTreeMap::new();
    let mut expected_all: BTreeMap<i64, f64> = BTreeMap::new();
    for (key, series) in counts {
        let mut alerter = SeriesAlerter::new(params, cooldown, BUCKET, 0);
        let mut at = from.timestamp();
        while at < end {
            let v = series.get(&at).copied().unwrap_or(0.0);
            let (score, d) = alerter.step(at, v);
            if key.is_none() {
                expected_all.insert(at, score.expected);
            }
            if d.fires() {
                posts.entry(at).or_default().push(*key);
            }
            at += BUCKET;
        }
    }
    let in_outage = |at: i64| {
        outages
            .iter()
            .any(|&o| at >= o - BUCKET && at < o + 4 * 3600)
    };
    let false_alarms: Vec<i64> = posts.keys().copied().filter(|&a| !in_outage(a)).collect();
    let warm_from = from.timestamp() + params.warmup_s;
    let all = counts.get(&None);
    let mut delays = Vec::new();
    let mut first3 = Vec::new();
    for &o in outages.iter().filter(|&&o| o >= warm_from) {
        // The first post in a bucket that ends after the onset.
        let first = posts
            .keys()
            .copied()
            .find(|&a| a + BUCKET > o && a < o + 4 * 3600);
        delays.push((o, first.map(|a| a + BUCKET - o)));
        let mut c = [0.0; 3];
        let mut e = 0.0;
        let onset_bucket = o.div_euclid(BUCKET) * BUCKET;
        for (j, slot) in c.iter_mut().enumerate() {
            let at = onset_bucket + j as i64 * BUCKET;
            *slot = all.and_then(|s| s.get(&at)).copied().unwrap_or(0.0);
            e += expected_all.get(&at).copied().unwrap_or(0.0);
        }
        first3.push((c, e));
    }
    Outcome {
        false_alarms,
        weeks: DAYS as f64 / 7.0,
        delays,
        first3,
        posts: posts.len(),
    }
}

fn balanced() -> (SpikeParams, CooldownParams) {
    let alerts = AlertsConfig {
        preset: Preset::Balanced,
        ..AlertsConfig::default()
    };
    (
        alerts.spike_params().expect("params"),
        alerts.cooldown_params().expect("cooldown"),
    )
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 7, 0, 0, 0)
        .single()
        .expect("date")
}

#[test]
fn demo_false_alarms_under_one_a_week_and_outages_caught_within_15_minutes() {
    let config = shipped_config();
    let from = start();
    let (counts, generator) = demo_counts(&config, from);
    let (params, cooldown) = balanced();
    assert!(
        outage_starts(&generator, from).len() >= 4,
        "expected weekly outages"
    );
    let out = evaluate(&counts, &generator, from, params, cooldown);
    let rate = out.fa_rate();
    eprintln!(
        "demo: {} posts, {} false alarms in {:.1} weeks ({rate:.2}/week) at {:?}; outage delays (s): {:?}; first three buckets (counts, expected): {:?}",
        out.posts,
        out.false_alarms.len(),
        out.weeks,
        out.false_alarms,
        out.delays,
        out.first3
    );
    assert!(rate < 1.0, "{rate:.2} false alarms per week");
    // Every planted outage is caught within 15 minutes of its onset (from the onset instant to
    // the close of the first bucket that fires). Across ten generator seeds
    // (`demo_across_seeds`) 45 of 48 are; the three later ones have a first quarter-hour at
    // noise level (tail probability of its count above 1e-4 around the learned normal).
    for (o, d) in &out.delays {
        let d = d.unwrap_or_else(|| panic!("outage at {o} missed"));
        assert!(d <= 15 * 60, "outage at {o} caught only after {d} s");
    }
}

/// ln P(X >= k) for X ~ Poisson(lambda).
fn poisson_log_tail(k: f64, lambda: f64) -> f64 {
    let k = k.max(0.0).floor() as u64;
    if k == 0 {
        return 0.0;
    }
    // 1 - P(X < k), summed in the linear domain (small k and lambda here).
    let mut pmf = (-lambda).exp();
    let mut below = 0.0;
    for j in 0..k {
        below += pmf;
        pmf *= lambda / (j + 1) as f64;
    }
    (1.0 - below).max(1e-300).ln()
}

/// Prints every series' scores from an hour before to an hour after each outage start.
fn trace(
    counts: &Counts,
    generator: &DemoGenerator,
    from: DateTime<Utc>,
    params: SpikeParams,
    cooldown: CooldownParams,
) {
    let outages = outage_starts(generator, from);
    let end = (from + Duration::days(DAYS)).timestamp();
    for (key, series) in counts {
        let mut alerter = SeriesAlerter::new(params, cooldown, BUCKET, 0);
        let mut at = from.timestamp();
        while at < end {
            let v = series.get(&at).copied().unwrap_or(0.0);
            let (s, d) = alerter.step(at, v);
            let bar = serde_json::to_value(&alerter.detector).expect("json")["tail_bar"]
                .as_f64()
                .unwrap_or(0.0);
            if std::env::var("CP_TRACE_ALL").is_ok() && key.is_none() && s.z > 4.0 {
                eprintln!(
                    "all {at} x={v} e={:.2} z={:.2} bar={bar:.2} above={}",
                    s.expected, s.z, s.above
                );
            }
            if outages.iter().any(|&o| at >= o - 3600 && at < o + 3600) {
                eprintln!(
                    "{key:?} {at} (+{}m) x={v} e={:.2} z={:.2} bar={bar:.2} above={} fires={}",
                    (at - outages
                        .iter()
                        .copied()
                        .filter(|&o| o - 3600 <= at)
                        .max()
                        .unwrap_or(at))
                        / 60,
                    s.expected,
                    s.z,
                    s.above,
                    d.fires()
                );
            }
            at += BUCKET;
        }
    }
}

/// Multi-seed harness: the demo with seeds `CP_SEEDS` (comma-separated; default 1 to 10) and
/// the balanced preset with the JSON overrides in `CP_PARAMS` (e.g. `{"poisson_z":3.5}`).
/// Prints, per seed, false alarms per week and every outage's delay and first three buckets
/// (counts against the detector's expectation, with the Poisson tail of their sum), then the
/// share of outages caught within 15, 30 and 45 minutes. Run with
/// `cargo test --test alerts_demo demo_across_seeds -- --ignored --nocapture`.
#[test]
#[ignore]
fn demo_across_seeds() {
    let config = shipped_config();
    let from = start();
    let seeds: Vec<u64> = std::env::var("CP_SEEDS")
        .unwrap_or_else(|_| "1,2,3,4,5,6,7,8,9,10".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("CP_SEEDS: comma-separated integers")
        })
        .collect();
    let (mut params, cooldown) = balanced();
    if let Ok(overrides) = std::env::var("CP_PARAMS") {
        let mut v = serde_json::to_value(params).expect("params to json");
        let o: serde_json::Value = serde_json::from_str(&overrides).expect("CP_PARAMS json");
        for (k, x) in o.as_object().expect("CP_PARAMS object") {
            v[k] = x.clone();
        }
        params = serde_json::from_value(v).expect("CP_PARAMS fields");
    }
    let (mut n, mut m15, mut m30, mut m45, mut fa, mut weeks) = (0, 0, 0, 0, 0usize, 0.0);
    let mut fa_worst: f64 = 0.0;
    let mut separable = (0, 0);
    let mut sep_fast = 0;
    for seed in seeds {
        let (counts, generator) = demo_counts_seeded(&config, from, Some(seed));
        let out = evaluate(&counts, &generator, from, params, cooldown);
        fa += out.false_alarms.len();
        weeks += out.weeks;
        fa_worst = fa_worst.max(out.fa_rate());
        // Each false alarm's distance from the latest outage onset before it.
        let onsets = outage_starts(&generator, from);
        let fa_after: Vec<String> = out
            .false_alarms
            .iter()
            .map(|&a| {
                onsets
                    .iter()
                    .rev()
                    .find(|&&o| o <= a)
                    .map_or("before any".into(), |o| {
                        format!("+{:.1}h", (a - o) as f64 / 3600.0)
                    })
            })
            .collect();
        let mut line = format!("seed {seed:>3}: FA {:.2}/week {fa_after:?};", out.fa_rate());
        for ((_, d), (c, e)) in out.delays.iter().zip(&out.first3) {
            n += 1;
            let d_min = d.map(|d| d / 60);
            m15 += usize::from(d_min.is_some_and(|d| d <= 15));
            m30 += usize::from(d_min.is_some_and(|d| d <= 30));
            m45 += usize::from(d_min.is_some_and(|d| d <= 45));
            let sum: f64 = c.iter().sum();
            let p = poisson_log_tail(sum, *e).exp();
            // Separable within 15 minutes at a false-alarm budget of ~1e-4 per test.
            separable.1 += 1;
            if p < 1e-4 {
                separable.0 += 1;
                sep_fast += usize::from(d_min.is_some_and(|d| d <= 15));
            }
            line.push_str(&format!(
                " [{} {:?} vs {e:.1} p={p:.1e}]",
                d_min.map_or("miss".to_string(), |d| format!("{d}m")),
                c
            ));
        }
        eprintln!("{line}");
        if std::env::var("CP_TRACE")
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            == Some(seed)
        {
            trace(&counts, &generator, from, params, cooldown);
        }
    }
    eprintln!(
        "{n} outages: {m15} within 15 min ({:.0}%), {m30} within 30, {m45} within 45; \
         first 15 min Poisson-separable (p < 1e-4): {} of {}, {sep_fast} of them caught within 15 min; \
         FA {:.2}/week overall, worst seed {fa_worst:.2}",
        100.0 * m15 as f64 / n.max(1) as f64,
        separable.0,
        separable.1,
        fa as f64 / weeks
    );
}

/// Writes the demo's complaint counts per series (`demo_<series>.csv`, `timestamp,value` with
/// Unix seconds and every bucket, zeros included) and the outage starts (`demo_outages.txt`)
/// to `CP_DEMO`, for the parameter sweep (`tests/alerts_nab_sweep.rs`) and
/// `bench/nab/demo_score.py`. Run with `cargo test --test alerts_demo -- --ignored`.
#[test]
#[ignore]
fn dump_demo_counts_for_the_sweep() {
    let dir = std::path::PathBuf::from(std::env::var("CP_DEMO").unwrap_or_else(|_| "/tmp".into()));
    let config = shipped_config();
    let from = Utc
        .with_ymd_and_hms(2026, 9, 7, 0, 0, 0)
        .single()
        .expect("date");
    let (counts, generator) = demo_counts(&config, from);
    let end = (from + Duration::days(DAYS)).timestamp();
    for (key, series) in &counts {
        let name = key.map_or("all".to_string(), |p| format!("{p:?}").to_lowercase());
        let mut w = String::from("timestamp,value\n");
        let mut at = from.timestamp();
        while at < end {
            w.push_str(&format!(
                "{at},{}\n",
                series.get(&at).copied().unwrap_or(0.0)
            ));
            at += BUCKET;
        }
        std::fs::write(dir.join(format!("demo_{name}.csv")), w).expect("write counts");
    }
    let outages: String = outage_starts(&generator, from)
        .iter()
        .map(|o| format!("{o}\n"))
        .collect();
    std::fs::write(dir.join("demo_outages.txt"), outages).expect("write outages");
}
