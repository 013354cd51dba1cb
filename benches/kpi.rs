//! KPI benchmarks on synthetic care data built through the public `Store::ingest` API.
//!
//! `KPI_BENCH_DIR` (default /tmp/carepulse-kpi-bench) holds two databases, built once and
//! reused: `m1.db` (1,000,000 messages, 30 days) and `m10.db` (10,000,000 messages, 300 days),
//! both about 33,000 messages a day over three brands and three platforms. Benchmarks: the
//! full report (all store reads + pure engine) for `yesterday` on the 10M database and for
//! `month` on the 1M database. `KPI_BENCH_SIZES=1` builds/benches only the 1M database.
//! The command-line timings and the pandas/DuckDB comparison are in bench/kpi_compare.py.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use criterion::Criterion;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use carepulse::kpi::full_report;
use carepulse::kpi::inputs::KpiRules;
use carepulse::kpi::window::{resolve, WindowSpec};
use carepulse::model::{
    Category, Classification, Direction, NewMessage, Platform, ReportQuery, Sentiment,
};
use carepulse::store::{ClassifiedMessage, IngestRules, Store};

/// The instant the data ends and reports run: 2026-11-23 16:00 UTC.
pub const NOW: i64 = 1_795_420_800 + 8 * 3600;
const PER_DAY: f64 = 33_000.0;
const BRANDS: [&str; 3] = ["Acme", "Globex", "Initech"];
const PLATFORMS: [Platform; 3] = [Platform::X, Platform::Facebook, Platform::Mastodon];

fn classified(
    m: NewMessage,
    category: Category,
    compound: f64,
    products: Vec<String>,
    topics: Vec<String>,
    redirect: bool,
) -> ClassifiedMessage {
    ClassifiedMessage {
        message: m,
        classification: Classification {
            sentiment: Sentiment {
                compound,
                pos: compound.max(0.0),
                neu: 1.0 - compound.abs(),
                neg: (-compound).max(0.0),
            },
            category,
            confidence: 0.8,
            complaint_score: if category == Category::Complaint {
                0.9
            } else {
                0.1
            },
            products,
            topics,
        },
        redirect,
        classifier_version: "bench".into(),
    }
}

/// Messages of one synthetic conversation starting at `t`.
fn conversation(rng: &mut ChaCha8Rng, n: u64, t: i64) -> Vec<ClassifiedMessage> {
    let brand = BRANDS[rng.gen_range(0..BRANDS.len())];
    let platform = PLATFORMS[rng.gen_range(0..PLATFORMS.len())];
    let customer = format!("cust{}", rng.gen_range(0..2_000_000u32));
    let roll: f64 = rng.gen();
    let (category, compound) = match roll {
        r if r < 0.30 => (Category::Complaint, -rng.gen_range(0.05..0.9)),
        r if r < 0.65 => (Category::Inquiry, rng.gen_range(-0.2..0.3)),
        r if r < 0.80 => (Category::Praise, rng.gen_range(0.3..0.95)),
        _ => (Category::Other, rng.gen_range(-0.1..0.1)),
    };
    let products = match rng.gen_range(0..6) {
        0 => vec!["router".to_string()],
        1 => vec!["tv".to_string()],
        2 => vec!["router".to_string(), "phone".to_string()],
        _ => vec![],
    };
    let topics = match rng.gen_range(0..4) {
        0 => vec!["delivery".to_string()],
        1 => vec!["billing".to_string()],
        _ => vec![],
    };
    let id = |k: u32| format!("{n}-{k}");
    let msg =
        |k: u32, author: &str, dir: Direction, at: i64, reply_to: Option<String>| NewMessage {
            platform,
            external_id: id(k),
            brand: brand.to_string(),
            author: author.to_string(),
            direction: dir,
            created_at: Utc.timestamp_opt(at, 0).single().unwrap_or_default(),
            text: format!("message {k} of conversation {n} about my order"),
            reply_to,
            conversation_ref: None,
            url: Some(format!("https://example.test/{n}/{k}")),
            engagement: Some(rng_engagement(n, k)),
            customer: None,
        };
    let handle = format!("{brand}Help");
    let mut out = vec![classified(
        msg(0, &customer, Direction::Inbound, t, None),
        category,
        compound,
        products,
        topics,
        false,
    )];
    let actionable = matches!(category, Category::Complaint | Category::Inquiry);
    if actionable && rng.gen_bool(0.85) {
        // Log-normal-ish delay: minutes to a day.
        let delay = (60.0 * (rng.gen_range(0.0f64..7.0)).exp()) as i64;
        let r1 = t + delay;
        out.push(classified(
            msg(1, &handle, Direction::Outbound, r1, Some(id(0))),
            Category::Other,
            0.3,
            vec![],
            vec![],
            rng.gen_bool(0.1),
        ));
        match rng.gen_range(0..10) {
            0..=2 => out.push(classified(
                msg(
                    2,
                    &customer,
                    Direction::Inbound,
                    r1 + rng.gen_range(60..7200),
                    Some(id(1)),
                ),
                Category::Praise,
                rng.gen_range(0.5..0.95),
                vec![],
                vec![],
                false,
            )),
            3..=4 => {
                let f = r1 + rng.gen_range(60..7200);
                out.push(classified(
                    msg(2, &customer, Direction::Inbound, f, Some(id(1))),
                    Category::Inquiry,
                    0.0,
                    vec![],
                    vec![],
                    false,
                ));
                out.push(classified(
                    msg(
                        3,
                        &handle,
                        Direction::Outbound,
                        f + rng.gen_range(60..20000),
                        Some(id(2)),
                    ),
                    Category::Other,
                    0.2,
                    vec![],
                    vec![],
                    false,
                ));
            }
            _ => {}
        }
    }
    out
}

fn rng_engagement(n: u64, k: u32) -> i64 {
    ((n.wrapping_mul(2_654_435_761) ^ u64::from(k)) % 40) as i64
}

/// Builds `messages` messages ending at NOW, unless the file exists.
pub async fn build(path: &Path, messages: u64) -> Store {
    let exists = path.exists();
    let store = Store::open(path).await.expect("open bench database");
    if exists {
        // As the bot keeps them between polls: blocks current for every stored day.
        store.refresh_kpi_blocks().await.expect("KPI blocks");
        return store;
    }
    let days = (messages as f64 / PER_DAY).ceil();
    let span = (days * 86400.0) as i64;
    let start = NOW - span;
    // About 2.05 messages per conversation.
    let conversations = (messages as f64 / 2.05) as u64;
    let step = span as f64 / conversations as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let rules = IngestRules::default();
    let mut batch = Vec::new();
    let began = Instant::now();
    let mut stored = 0u64;
    for n in 0..conversations {
        let t = start + (n as f64 * step) as i64;
        batch.extend(
            conversation(&mut rng, n, t)
                .into_iter()
                .filter(|m| m.message.created_at.timestamp() < NOW),
        );
        if batch.len() >= 20_000 {
            stored += batch.len() as u64;
            store
                .ingest(std::mem::take(&mut batch), None, &rules, NOW)
                .await
                .expect("ingest");
            if n % 200_000 < 10_000 {
                eprintln!(
                    "{}: {stored} messages, {:.0} s",
                    path.display(),
                    began.elapsed().as_secs_f64()
                );
            }
        }
    }
    stored += batch.len() as u64;
    store
        .ingest(batch, None, &rules, NOW)
        .await
        .expect("ingest");
    store.refresh_kpi_blocks().await.expect("KPI blocks");
    eprintln!(
        "{}: built {stored} messages in {:.0} s",
        path.display(),
        began.elapsed().as_secs_f64()
    );
    store
}

fn dir() -> PathBuf {
    std::env::var_os("KPI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/carepulse-kpi-bench"))
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = dir();
    std::fs::create_dir_all(&dir).expect("bench dir");
    let only_small = std::env::var("KPI_BENCH_SIZES").is_ok_and(|v| v == "1");
    let now = Utc.timestamp_opt(NOW, 0).single().unwrap_or_default();
    let rules = KpiRules::default();
    let filters = ReportQuery::default();
    let mut c = Criterion::default().configure_from_args().sample_size(20);
    let mut cases = vec![(
        "month_1M",
        dir.join("m1.db"),
        1_000_000u64,
        WindowSpec::Month,
    )];
    if !only_small {
        cases.push((
            "yesterday_10M",
            dir.join("m10.db"),
            10_000_000,
            WindowSpec::Yesterday,
        ));
    }
    for (name, path, size, spec) in cases {
        let store = rt.block_on(build(&path, size));
        let window = resolve(spec, now, rules.timezone);
        c.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let inputs = store
                        .kpi_inputs(&filters, "bench", window, NOW, &rules)
                        .await
                        .expect("inputs");
                    full_report(&inputs, NOW, &rules)
                })
            })
        });
        rt.block_on(store.close());
    }
    c.final_summary();
}
