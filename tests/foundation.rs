//! End-to-end tests of the foundation through the real binary: import idempotency (including
//! a re-run after the import process was killed half way), the console command loop, and the
//! messages a user gets for a missing config, a bad config and a missing file.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_carepulse");

fn shipped_config(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"), &path).expect("copy config");
    path
}

fn carepulse(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run carepulse")
}

fn stored_messages(db: &Path) -> i64 {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = carepulse::store::Store::open(db).await.expect("open");
        let (m, _) = store.counts().await.expect("counts");
        m
    })
}

#[test]
fn importing_twice_stores_every_row_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    shipped_config(dir.path());
    let data = dir.path().join("demo.jsonl");
    let out = carepulse(
        dir.path(),
        &[
            "demo",
            "--days",
            "2",
            "--now",
            "2026-11-20T00:00:00Z",
            "--format",
            "jsonl",
            "--out",
            data.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(&data)
        .expect("read")
        .lines()
        .count() as i64;
    assert!(lines > 500, "{lines} simulated messages");

    let first = carepulse(
        dir.path(),
        &["import", "--format", "jsonl", data.to_str().expect("path")],
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let summary = String::from_utf8_lossy(&first.stderr);
    assert!(
        summary.contains(&format!("imported {lines} messages, 0 duplicates")),
        "{summary}"
    );
    let second = carepulse(
        dir.path(),
        &["import", "--format", "jsonl", data.to_str().expect("path")],
    );
    let summary = String::from_utf8_lossy(&second.stderr);
    assert!(
        summary.contains(&format!("imported 0 messages, {lines} duplicates")),
        "{summary}"
    );
    assert_eq!(stored_messages(&dir.path().join("carepulse.db")), lines);
}

#[test]
fn a_killed_import_rerun_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    shipped_config(dir.path());
    let data = dir.path().join("big.csv");
    let out = carepulse(
        dir.path(),
        &[
            "demo",
            "--days",
            "6",
            "--rate",
            "120",
            "--now",
            "2026-11-20T00:00:00Z",
            "--out",
            data.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = std::fs::read_to_string(&data)
        .expect("read")
        .lines()
        .count() as i64
        - 1;

    // Start an import and kill it once some batches are committed.
    let db = dir.path().join("carepulse.db");
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "import",
            "--commit-rows",
            "2000",
            "--format",
            "twcs",
            data.to_str().expect("path"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let wal_grew = std::fs::metadata(dir.path().join("carepulse.db-wal"))
            .map(|m| m.len() > 2_000_000)
            .unwrap_or(false);
        if wal_grew || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let partial = stored_messages(&db);
    assert!(partial < rows, "the import finished before it was killed ({partial} of {rows}); the test needs a bigger file");

    let rerun = carepulse(
        dir.path(),
        &["import", "--format", "twcs", data.to_str().expect("path")],
    );
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let summary = String::from_utf8_lossy(&rerun.stderr);
    assert!(
        summary.contains(&format!(
            "imported {} messages, {partial} duplicates",
            rows - partial
        )),
        "{summary}"
    );
    assert_eq!(stored_messages(&db), rows);
}

#[test]
fn the_console_answers_commands_and_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = shipped_config(dir.path());
    // Less history keeps the back-fill quick.
    let text = std::fs::read_to_string(&config)
        .expect("read")
        .replace("history_days = 21", "history_days = 2");
    std::fs::write(&config, text).expect("write");
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .arg("run")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str| -> bool {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                let hit = line.contains(needle);
                seen.push(line);
                if hit {
                    return true;
                }
            }
        }
        false
    };
    assert!(
        wait_for("carepulse digest: today so far"),
        "no opening digest"
    );
    writeln!(stdin, "/kpi today").expect("type");
    assert!(wait_for("KPIs today"), "no answer to /kpi today");
    assert!(
        wait_for("Inbound mentions"),
        "answer has no Inbound mentions field"
    );
    writeln!(stdin, "/kpi tomorrow").expect("type");
    assert!(
        wait_for("unknown /kpi option 'tomorrow'"),
        "no usage message"
    );
    writeln!(stdin, "/kpi help").expect("type");
    assert!(wait_for("/kpi explain NAME"), "no help");
    let _ = child.kill();
    let _ = child.wait();
    let transcript = seen.join("\n");
    assert!(!transcript.contains("panicked"), "{transcript}");
}

#[test]
fn user_errors_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = carepulse(dir.path(), &["kpi"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml") && err.contains("--config"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("config.toml"),
        "timezone = \"Mars/Base\"\n[care]\nsla_target = \"soon\"\n",
    )
    .expect("write");
    let out = carepulse(dir.path(), &["kpi"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("timezone") && err.contains("care.sla_target") && err.contains("brands"),
        "{err}"
    );

    shipped_config(dir.path());
    let out = carepulse(
        dir.path(),
        &["import", "--format", "twcs", "no-such-file.csv"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no-such-file.csv"),
        "{err}"
    );
}
