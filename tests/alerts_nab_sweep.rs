//! Parameter sweep over NAB's five Twitter series without rebuilding: an ignored test that runs
//! `alerts::backtest` (the bot's detector) for every JSON override set in `CP_SETS` (e.g.
//! `[{"min_spread":0.15},{"pseudo_count":4}]`, merged onto the balanced preset) and writes
//! `<set>_<series>.csv` (`timestamp,value,score,alert`) to `CP_OUT` (default: the temp dir),
//! for `bench/nab/sweep_score.py` to score. Run with
//! `cargo test --test alerts_nab_sweep -- --ignored`.
use carepulse::alerts::{backtest, CooldownParams, Preset, SpikeParams};

#[test]
#[ignore]
fn sweep_writes_one_backtest_per_set_and_series() {
    let sets = std::env::var("CP_SETS").unwrap_or_else(|_| "[{}]".into());
    let sets: Vec<serde_json::Value> = serde_json::from_str(&sets).unwrap();
    let base = serde_json::to_value(SpikeParams::preset(Preset::Balanced)).unwrap();
    let out_dir = std::env::var("CP_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/nab");
    for (i, set) in sets.iter().enumerate() {
        let mut v = base.clone();
        for (k, x) in set.as_object().unwrap() {
            v[k] = x.clone();
        }
        let p: SpikeParams = serde_json::from_value(v).unwrap();
        for s in ["AAPL", "AMZN", "CRM", "CVS", "FB"] {
            let path = format!("{dir}/Twitter_volume_{s}.csv");
            let Ok(text) = std::fs::read_to_string(&path) else {
                eprintln!("skipped: no NAB data at {path}");
                return;
            };
            let rows = carepulse::cli::alerts::parse_series(&text).unwrap();
            let (labels, series): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
            let n = series.len();
            let out = backtest(series, p, CooldownParams::default(), 300);
            assert_eq!(out.len(), n, "one backtest row per input row");
            let mut w = String::from("timestamp,value,score,alert\n");
            for ((ts, val), r) in labels.iter().zip(&out) {
                w.push_str(&format!(
                    "{ts},{val},{:.4},{}\n",
                    r.score,
                    u8::from(r.alert)
                ));
            }
            std::fs::write(out_dir.join(format!("{i}_{s}.csv")), w).unwrap();
        }
        // The demo's series (written by `alerts_demo`'s ignored dump test), when given.
        let Ok(demo) = std::env::var("CP_DEMO") else {
            continue;
        };
        for entry in std::fs::read_dir(&demo).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !(name.starts_with("demo_") && name.ends_with(".csv")) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let rows = carepulse::cli::alerts::parse_series(&text).unwrap();
            let (_, series): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
            let out = backtest(series, p, CooldownParams::default(), 300);
            let mut w = String::from("timestamp,alert\n");
            for r in &out {
                w.push_str(&format!("{},{}\n", r.at, u8::from(r.alert)));
            }
            std::fs::write(out_dir.join(format!("{i}_{name}")), w).unwrap();
        }
    }
}
