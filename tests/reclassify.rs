//! `carepulse reclassify` through the real binary: after a rule change the stored messages get
//! the new labels (and the KPI breakdowns, read from the rollups, follow); a second run has
//! nothing left to do; an unchanged classifier relabels nothing.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_carepulse");
const NOW: &str = "2026-11-20T00:00:00Z";

fn carepulse(dir: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run carepulse");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?} failed: {e}");
    (o, e)
}

fn topics(dir: &Path) -> serde_json::Value {
    let (json, _) = carepulse(
        dir,
        &["kpi", "--window", "week", "--now", NOW, "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    v["by_topic"].clone()
}

fn relabelled(stderr: &str) -> usize {
    let rest = stderr.split("relabelled ").last().expect("a summary line");
    rest.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[test]
fn reclassify_applies_a_rule_change_to_stored_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"), &config).expect("copy");
    let (_, demo) = carepulse(dir.path(), &["demo", "--days", "3", "--now", NOW]);
    assert!(demo.contains("new messages"), "{demo}");

    // Same classifier and rules: nothing to do.
    let (_, e) = carepulse(dir.path(), &["reclassify"]);
    assert_eq!(relabelled(&e), 0, "{e}");
    let before = topics(dir.path());
    assert!(before.get("gratitude").is_none(), "{before}");

    // A new topic rule: every message is labelled by another version now.
    let mut text = std::fs::read_to_string(&config).expect("read");
    text.push_str("\n[[topics]]\nname = \"gratitude\"\nkeywords = [\"thanks\", \"thank you\"]\n");
    std::fs::write(&config, text).expect("write");
    let (_, e) = carepulse(dir.path(), &["reclassify"]);
    assert!(relabelled(&e) > 1000, "{e}");
    let after = topics(dir.path());
    let gratitude = after["gratitude"].as_i64().unwrap_or(0);
    assert!(gratitude > 0, "the new topic is counted: {after}");
    // The other topics keep their counts.
    assert_eq!(after["billing"], before["billing"], "{before} {after}");

    // Done: a second run relabels nothing; --all relabels everything again.
    let (_, e) = carepulse(dir.path(), &["reclassify"]);
    assert_eq!(relabelled(&e), 0, "{e}");
    let (_, e) = carepulse(dir.path(), &["reclassify", "--all"]);
    assert!(relabelled(&e) > 1000, "{e}");
    assert_eq!(topics(dir.path()), after);
}
