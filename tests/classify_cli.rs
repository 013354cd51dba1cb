//! End-to-end tests of `carepulse classify`, `carepulse train` and `carepulse eval complaints`
//! through the built binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_carepulse")
}

fn run(args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("binary finishes");
    writer.join().expect("writer thread");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} is absent (clone the repo next to shared/)",
            p.display()
        );
        None
    }
}

#[test]
fn classify_writes_one_object_per_line_including_bad_input() {
    let mut input = Vec::new();
    input.extend_from_slice(b"@acme my order hasn't arrived and nobody answers\n");
    input.extend_from_slice(b"\n");
    input.extend_from_slice(b"bad utf8 \xff\xfe here\r\n");
    input.extend_from_slice("😢 😢\n".as_bytes());
    input.extend_from_slice("¿Dónde está mi pedido? Gracias\n".as_bytes());
    input.extend_from_slice(&b"my router is broken ".repeat(5_000));
    input.extend_from_slice(b"\n<p>Thanks <span class=\"h-card\"><a href=\"https://m.example/@acme\">@<span>acme</span></a></span>, love the new app &amp; card!</p>");
    let (ok, out, err) = run(&["classify", "--format", "json"], &input);
    assert!(ok, "stderr: {err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 7);
    for v in &lines {
        for k in [
            "compound",
            "pos",
            "neu",
            "neg",
            "complaint_score",
            "confidence",
        ] {
            let x = v[k].as_f64().unwrap_or(f64::NAN);
            let lo = if k == "compound" { -1.0 } else { 0.0 };
            assert!((lo..=1.0).contains(&x), "{k} = {x} in {v}");
        }
        let cat = v["category"].as_str().unwrap_or_default();
        assert!(
            ["complaint", "inquiry", "praise", "other"].contains(&cat),
            "{v}"
        );
        assert!(v["products"].is_array() && v["topics"].is_array());
    }
    assert_eq!(lines[0]["category"], "complaint");
    assert_eq!(lines[0]["products"], serde_json::json!(["order"]));
    assert_eq!(lines[1]["compound"], 0.0);
    assert_eq!(lines[1]["neu"], 0.0);
    // The reference vaderSentiment 3.3.2 scores "😢 😢" at -0.7351.
    assert_eq!(lines[3]["compound"], -0.7351, "emoji scored: {}", lines[3]);
    assert_eq!(lines[5]["products"], serde_json::json!(["router"]));
    assert_eq!(lines[6]["category"], "praise");
    assert_eq!(lines[6]["products"], serde_json::json!(["app", "card"]));
}

#[test]
fn classify_uses_rules_file_and_rejects_bad_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("rules.toml");
    std::fs::write(
        &good,
        "[[products]]\nname = \"gift box\"\nkeywords = [\"gift box\", \"hamper\"]\n\n[[topics]]\nname = \"delivery\"\nkeywords = [\"delivery\"]\n",
    )
    .expect("write rules");
    let (ok, out, err) = run(
        &["classify", "--rules", good.to_str().unwrap_or_default()],
        b"two Gift  Boxes and a #delivery\n",
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["products"], serde_json::json!(["gift box"]));
    assert_eq!(v["topics"], serde_json::json!(["delivery"]));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[topics]]\nname = \"x\"\nkeywords = [\"\"]\n").expect("write rules");
    let (ok, _, err) = run(
        &["classify", "--rules", bad.to_str().unwrap_or_default()],
        b"hi\n",
    );
    assert!(!ok);
    assert!(err.contains("empty keyword"), "{err}");
}

const FIXTURE: &str = "tweet_id,text,complaint,domain
1,@shop my order never arrived and nobody replies,1,retail
2,@shop still waiting for my refund after 3 weeks,1,retail
3,@shop the app keeps crashing since the update,1,software
4,@shop charged twice for one order. fix this,1,retail
5,@shop broken screen on arrival again,1,electronics
6,@shop thanks for the quick help!,0,retail
7,@shop love the new collection,0,apparel
8,@shop what time do you open on sunday?,0,retail
9,happy friday everyone @shop,0,random_tweet
10,@shop great service today,0,services
";

#[test]
fn train_then_eval_with_the_trained_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d.csv");
    std::fs::write(&data, FIXTURE).expect("write csv");
    let model = dir.path().join("m.bin");
    let (ok, _, err) = run(
        &[
            "train",
            "--data",
            data.to_str().unwrap_or_default(),
            "--out",
            model.to_str().unwrap_or_default(),
            "--seed",
            "7",
            "--hash-bits",
            "14",
        ],
        b"",
    );
    assert!(ok, "{err}");
    let bytes = std::fs::read(&model).expect("model written");
    assert!(bytes.starts_with(b"CPCM"));

    let (ok, out, err) = run(
        &[
            "eval",
            "complaints",
            data.to_str().unwrap_or_default(),
            "--model-file",
            model.to_str().unwrap_or_default(),
        ],
        b"",
    );
    assert!(ok, "{err}");
    assert!(out.contains("precision="), "{out}");
    assert!(out.contains("macro_f1="), "{out}");
    assert!(
        out.contains("accuracy=1.000"),
        "fits its own training data: {out}"
    );

    let (ok, out, err) = run(
        &["classify", "--model", model.to_str().unwrap_or_default()],
        b"@shop my refund never arrived\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"category\":\"complaint\""), "{out}");
}

#[test]
fn eval_rejects_a_csv_without_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "tweet_id,text\n1,hello\n").expect("write csv");
    let (ok, _, err) = run(
        &["eval", "complaints", data.to_str().unwrap_or_default()],
        b"",
    );
    assert!(!ok);
    assert!(err.contains("complaint"), "{err}");
}

/// The quality bar: macro-F1 >= 0.80 in 5-fold cross-validation on complaints-dev.csv.
#[test]
fn cross_validated_macro_f1_meets_the_bar() {
    let Some(path) = shared("complaints-dev.csv") else {
        return;
    };
    let (ok, out, err) = run(
        &[
            "eval",
            "complaints",
            path.to_str().unwrap_or_default(),
            "--cv",
            "5",
            "--seed",
            "42",
        ],
        b"",
    );
    assert!(ok, "{err}");
    let overall = out
        .lines()
        .find(|l| l.starts_with("overall"))
        .expect("overall line");
    let macro_f1: f64 = overall
        .split_whitespace()
        .find_map(|t| t.strip_prefix("macro_f1="))
        .and_then(|v| v.parse().ok())
        .expect("macro_f1 figure");
    assert!(macro_f1 >= 0.80, "{out}");
    assert!(out.contains("apparel") && out.contains("fold 5"), "{out}");
}

#[test]
fn output_order_follows_input_across_batches_and_threads() {
    let mut input = Vec::new();
    for i in 0..20_000 {
        input.extend_from_slice(if i % 3 == 0 { b"I love it\n" } else { b"meh\n" });
    }
    let (ok, out, err) = run(&["classify"], &input);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 20_000);
    for (i, l) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        let positive = v["compound"].as_f64().unwrap_or(0.0) > 0.5;
        assert_eq!(positive, i % 3 == 0, "line {i}: {l}");
    }
}

mod fuzz_check {
    include!("../fuzz/fuzz_targets/check.rs");
}

/// The fuzz target's property (fuzz/fuzz_targets/check.rs) on seeded random inputs, so it
/// runs on stable `cargo test` without cargo-fuzz: random bytes (invalid UTF-8 included),
/// markup fragments, entities, handles, URLs, emoji, other scripts, and a 100 KB text.
#[test]
fn fuzz_property_holds_on_seeded_random_inputs() {
    use rand::{Rng, SeedableRng};
    let checker = fuzz_check::Checker::new();
    let pieces: &[&str] = &[
        "good",
        "BAD",
        "not",
        "never so",
        "but",
        "kind of",
        "the shit",
        "no",
        "least",
        "at",
        "very",
        "!",
        "?",
        "!!!",
        "???",
        " ",
        "\t",
        "\n",
        "\u{a0}",
        "\u{1c}",
        "<p>",
        "</p>",
        "<br/>",
        "<a href=\"https://x.example/@a\">",
        "</a>",
        "<span class=\"h-card\">",
        "&amp;",
        "&lt;3",
        "&#x1F600;",
        "&#128512;",
        "&#99999999;",
        "&#xD800;",
        "&",
        "&bogus;",
        "@acme",
        "@a@mastodon.social",
        "https://t.co/x",
        "www.example.com/y",
        "#delivery",
        "order",
        "refund",
        "app",
        "😀",
        "😡",
        "👍🏽",
        "❤️",
        "’",
        "…",
        "ß",
        "İ",
        "Σ",
        "ǅ",
        "中文",
        "¿Dónde?",
        "ŞÜPER",
        "\u{0}",
        "\u{FFFD}",
        "'",
        "`",
        "n't",
        "123",
        "0",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x00c1_a551_f1ed);
    for i in 0..4_000 {
        let data: Vec<u8> = if i % 4 == 0 {
            let n = rng.gen_range(0..200);
            (0..n).map(|_| rng.gen::<u8>()).collect()
        } else {
            let n = rng.gen_range(0..40);
            let mut s = Vec::new();
            for _ in 0..n {
                if rng.gen_bool(0.05) {
                    s.push(rng.gen::<u8>());
                } else {
                    s.extend_from_slice(pieces[rng.gen_range(0..pieces.len())].as_bytes());
                    if rng.gen_bool(0.6) {
                        s.push(b' ');
                    }
                }
            }
            s
        };
        checker.check_input(&data);
    }
    let long = "my order is <b>LATE</b> &amp; not good but ok 😡 @acme ".repeat(2_000);
    assert!(long.len() > 100_000);
    checker.check_input(long.as_bytes());
    checker.check_input(b"");
}
