//! Contract tests of `carepulse alerts backtest`: output shape, streaming decisions, one alert
//! per planted spike, clear errors for bad rows, and a run on a real NAB Twitter series.

use std::io::Write;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_carepulse"))
}

fn write_series(rows: &[(i64, f64)]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(f, "timestamp,value").expect("write");
    for (t, v) in rows {
        let ts = chrono::DateTime::from_timestamp(*t, 0).expect("time");
        writeln!(f, "{},{}", ts.format("%Y-%m-%d %H:%M:%S"), v).expect("write");
    }
    f
}

/// Two weeks of a daily-shaped complaint count with one planted spike.
fn planted() -> (Vec<(i64, f64)>, usize) {
    let start = 1_425_254_400;
    let spike_at = 3000;
    let rows = (0..4032)
        .map(|i| {
            let t = start + i as i64 * 300;
            let hour = ((t % 86_400) / 3600) as f64;
            let base = 4.0 + 8.0 * (std::f64::consts::PI * hour / 24.0).sin().powi(2);
            let jitter = ((i * 37) % 5) as f64 - 2.0;
            let v = if (spike_at..spike_at + 4).contains(&i) {
                90.0
            } else {
                (base + jitter).max(0.0)
            };
            (t, v)
        })
        .collect();
    (rows, spike_at)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = bin().args(args).output().expect("run carepulse");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn alerts_of(stdout: &str) -> Vec<usize> {
    stdout
        .lines()
        .skip(1)
        .enumerate()
        .filter(|(_, l)| l.ends_with(",1"))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn every_row_is_written_and_the_planted_spike_alerts_once_in_its_bucket() {
    let (rows, spike_at) = planted();
    let f = write_series(&rows);
    let path = f.path().to_str().expect("path");
    let (ok, out, err) = run(&[
        "alerts", "backtest", "--series", path, "--bucket", "5m", "--preset", "balanced",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "timestamp,value,score,alert");
    assert_eq!(lines.len(), rows.len() + 1);
    for l in &lines[1..] {
        let cells: Vec<&str> = l.split(',').collect();
        assert_eq!(cells.len(), 4, "{l}");
        assert!(cells[2].parse::<f64>().is_ok(), "{l}");
        assert!(cells[3] == "0" || cells[3] == "1", "{l}");
    }
    assert_eq!(
        alerts_of(&out),
        vec![spike_at],
        "exactly one alert, on the spike's first bucket"
    );
}

#[test]
fn decisions_are_streaming() {
    let (rows, spike_at) = planted();
    let full = write_series(&rows);
    let head = write_series(&rows[..spike_at + 1]);
    let (_, out_full, _) = run(&[
        "alerts",
        "backtest",
        "--series",
        full.path().to_str().expect("p"),
    ]);
    let (_, out_head, _) = run(&[
        "alerts",
        "backtest",
        "--series",
        head.path().to_str().expect("p"),
    ]);
    let n = out_head.lines().count();
    assert_eq!(
        out_full.lines().take(n).collect::<Vec<_>>(),
        out_head.lines().collect::<Vec<_>>()
    );
}

#[test]
fn bad_rows_fail_with_the_line_number() {
    let mut f = tempfile::NamedTempFile::new().expect("temp");
    writeln!(
        f,
        "timestamp,value\n2015-02-26 21:42:53,10\n2015-02-26 21:47:53,ten"
    )
    .expect("w");
    let (ok, _, err) = run(&[
        "alerts",
        "backtest",
        "--series",
        f.path().to_str().expect("p"),
    ]);
    assert!(!ok);
    assert!(err.contains("line 3") && err.contains("ten"), "{err}");
    let (ok, _, err) = run(&["alerts", "backtest", "--series", "/nonexistent/series.csv"]);
    assert!(!ok && err.contains("/nonexistent/series.csv"), "{err}");
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("x.db");
    let db = db.to_str().expect("p");
    let (ok, _, err) = run(&[
        "alerts", "backtest", "--db", db, "--store", "--brand", "acme",
    ]);
    assert!(!ok && err.contains("no messages for brand 'acme'"), "{err}");
}

#[test]
fn nab_twitter_series_alerts_rarely_and_inside_labelled_windows() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/nab/Twitter_volume_FB.csv"
    );
    if !std::path::Path::new(path).exists() {
        eprintln!("skipping: {path} is absent (clone the repo next to shared/)");
        return;
    }
    let (ok, out, err) = run(&["alerts", "backtest", "--series", path]);
    assert!(ok, "{err}");
    let alerts = alerts_of(&out);
    // FB has two labelled windows over ~55 days: an alerter, not a score stream.
    assert!((1..=10).contains(&alerts.len()), "{} alerts", alerts.len());
    // Windows (NAB labels): 2015-03-14 22:12:53 – 03-17 16:02:53, 2015-04-02 08:52:53 – 04-05 02:42:53.
    let stamps: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    let inside = |s: &str| {
        ("2015-03-14 22:12:53"..="2015-03-17 16:02:53").contains(&s)
            || ("2015-04-02 08:52:53"..="2015-04-05 02:42:53").contains(&s)
    };
    let hits = alerts.iter().filter(|&&i| inside(stamps[i])).count();
    assert!(
        hits * 2 >= alerts.len(),
        "most alerts fall in labelled windows: {hits}/{}",
        alerts.len()
    );
}
