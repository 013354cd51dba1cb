//! `carepulse classify`, `carepulse train` and `carepulse eval complaints`: clap arguments and
//! run functions. Reads stdin as bytes (invalid UTF-8 is decoded lossily), one text per line,
//! and writes one JSON object per line; trains and evaluates the complaint model on a
//! labelled CSV (columns tweet_id,text,complaint,domain).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::classify::features::FeatureConfig;
use crate::classify::train::{cross_validate, train_complaint_model, Confusion, Labelled};
use crate::classify::{Classifier, LinearModel, Rules, TrainParams, VaderScorer};
use crate::model::Classification;

/// Output format of `carepulse classify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per input line.
    #[default]
    Json,
}

/// `carepulse classify`: classify one text per stdin line.
#[derive(Debug, Clone, clap::Args)]
pub struct ClassifyArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// TOML file with [[products]] and [[topics]] tables (name, keywords); default: a small
    /// built-in set.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Complaint model weights file (default: the embedded model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Score the text as given, without stripping markup, @handles and URLs (for parity
    /// checks of the sentiment scorer).
    #[arg(long)]
    pub raw: bool,
    /// Add the scored (stripped) text to each object as "text".
    #[arg(long)]
    pub echo_text: bool,
}

/// Hyper-parameters of the complaint model (shared by `train` and `eval --cv`).
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// L2 regularisation strength.
    #[arg(long, default_value_t = TrainParams::default().l2)]
    pub l2: f64,
    /// Passes over the training data.
    #[arg(long, default_value_t = TrainParams::default().epochs)]
    pub epochs: usize,
    /// Initial SGD learning rate.
    #[arg(long, default_value_t = TrainParams::default().eta0)]
    pub eta0: f64,
    /// Do not weight classes by inverse frequency.
    #[arg(long)]
    pub unbalanced: bool,
    /// Keep the decision threshold at 0.5 instead of tuning it by inner cross-validation.
    #[arg(long)]
    pub no_tune: bool,
    /// log2 of the number of hash buckets.
    #[arg(long, default_value_t = FeatureConfig::default().hash_bits, value_parser = clap::value_parser!(u8).range(10..=24))]
    pub hash_bits: u8,
    /// Shortest character n-gram (0 disables character n-grams).
    #[arg(long, default_value_t = FeatureConfig::default().char_min)]
    pub char_min: u8,
    /// Longest character n-gram.
    #[arg(long, default_value_t = FeatureConfig::default().char_max, value_parser = clap::value_parser!(u8).range(0..=8))]
    pub char_max: u8,
    /// Leave out word bigrams.
    #[arg(long)]
    pub no_bigrams: bool,
}

impl ModelArgs {
    fn config(&self) -> FeatureConfig {
        FeatureConfig {
            hash_bits: self.hash_bits,
            char_min: self.char_min,
            char_max: self.char_max,
            word_bigrams: !self.no_bigrams,
        }
    }
    fn params(&self, seed: u64) -> TrainParams {
        TrainParams {
            l2: self.l2,
            epochs: self.epochs,
            eta0: self.eta0,
            balanced: !self.unbalanced,
            seed,
        }
    }
}

/// `carepulse train`: train the complaint model and write its weights file.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Labelled CSV with columns tweet_id,text,complaint,domain.
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the weights (the shipped model is src/classify/complaint_model.bin).
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the SGD shuffling and the inner folds.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// What `carepulse eval` evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalTarget {
    /// The complaint detector, on a labelled CSV.
    Complaints,
}

/// `carepulse eval complaints FILE [--cv K --seed N]`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    pub target: EvalTarget,
    /// Labelled CSV with columns tweet_id,text,complaint,domain.
    pub file: PathBuf,
    /// Run K-fold cross-validation (training on K-1 folds, testing on the held-out one)
    /// instead of evaluating the shipped model.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(2..=50))]
    pub cv: Option<u64>,
    /// Seed fixing the folds and the training order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Weights file to evaluate (default: the embedded model); ignored with --cv.
    #[arg(long)]
    pub model_file: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[cfg(test)]
#[derive(serde::Serialize)]
struct Line<'a> {
    compound: f64,
    pos: f64,
    neu: f64,
    neg: f64,
    category: &'static str,
    confidence: f64,
    complaint_score: f64,
    products: &'a [String],
    topics: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

fn load_rules(path: Option<&Path>) -> anyhow::Result<Rules> {
    match path {
        None => Ok(Rules::default()),
        Some(p) => {
            let s = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read rules file {}", p.display()))?;
            toml::from_str(&s).with_context(|| {
                format!(
                    "rules file {} is not valid: expected [[products]] / [[topics]] tables with `name` and `keywords`",
                    p.display()
                )
            })
        }
    }
}

fn build_classifier(rules: &Rules, model: Option<&Path>) -> anyhow::Result<Classifier> {
    match model {
        None => Classifier::new(rules).context("cannot build the classifier"),
        Some(p) => {
            let bytes = std::fs::read(p)
                .with_context(|| format!("cannot read model file {}", p.display()))?;
            Classifier::with_model_bytes(rules, &bytes)
                .with_context(|| format!("cannot load model file {}", p.display()))
        }
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Lines per unit of work: the reading thread cuts the input into units of this many lines,
/// worker threads classify them, and the reading thread writes their output in input order.
const CHUNK: usize = 512;
/// Units queued for the workers, per worker: enough to keep them busy while the reading
/// thread writes, few enough to bound memory.
const QUEUED_PER_WORKER: usize = 4;

/// Classifies `lines` (one unit's lines, a block at a time: `Classifier::classify_pairs`)
/// and appends one JSON object and a line break per line to `out`.
fn classify_lines(
    args: &ClassifyArgs,
    classifier: &Classifier,
    lines: &[&[u8]],
    out: &mut Vec<u8>,
) {
    use std::borrow::Cow;
    for block in lines.chunks(crate::classify::STAGE_TEXTS) {
        // `from_utf8` validates valid text faster than the lossy decoder; both borrow it.
        let texts: Vec<Cow<'_, str>> = block
            .iter()
            .map(|bytes| match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(bytes),
            })
            .collect();
        let cleans: Vec<Cow<'_, str>> = texts
            .iter()
            .map(|t| {
                if args.raw {
                    Cow::Borrowed(t.as_ref())
                } else {
                    crate::classify::strip_markup_cow(t)
                }
            })
            .collect();
        let pairs: Vec<(&str, &str)> = texts
            .iter()
            .zip(&cleans)
            .map(|(t, c)| (t.as_ref(), c.as_ref()))
            .collect();
        for (c, clean) in classifier.classify_pairs(&pairs).iter().zip(&cleans) {
            // Writing plain numbers, strings and string lists into a Vec cannot fail.
            let mark = out.len();
            if write_line(out, c, args.echo_text.then_some(clean.as_ref())).is_err() {
                out.truncate(mark);
                out.extend_from_slice(b"{}");
            }
            out.push(b'\n');
        }
    }
}

/// Appends the JSON object of `Line` for `c` (and `text`) to `out`: the keys, commas and
/// brackets that serialising `Line` writes, with each number and string written as the same
/// serialiser writes it (`write_json_f64`, `write_json_str`), so the bytes are those of
/// `serde_json::to_writer(out, &Line { .. })` without walking the struct.
fn write_line(out: &mut Vec<u8>, c: &Classification, text: Option<&str>) -> serde_json::Result<()> {
    let s = &c.sentiment;
    out.extend_from_slice(b"{\"compound\":");
    write_json_f64(out, s.compound)?;
    out.extend_from_slice(b",\"pos\":");
    write_json_f64(out, s.pos)?;
    out.extend_from_slice(b",\"neu\":");
    write_json_f64(out, s.neu)?;
    out.extend_from_slice(b",\"neg\":");
    write_json_f64(out, s.neg)?;
    out.extend_from_slice(b",\"category\":");
    write_json_str(out, c.category.as_str())?;
    out.extend_from_slice(b",\"confidence\":");
    write_json_f64(out, round4(c.confidence))?;
    out.extend_from_slice(b",\"complaint_score\":");
    write_json_f64(out, round4(c.complaint_score))?;
    out.extend_from_slice(b",\"products\":");
    write_json_list(out, &c.products)?;
    out.extend_from_slice(b",\"topics\":");
    write_json_list(out, &c.topics)?;
    if let Some(t) = text {
        out.extend_from_slice(b",\"text\":");
        write_json_str(out, t)?;
    }
    out.push(b'}');
    Ok(())
}

/// Writes `x` as serde_json does. The scores are rounded to at most four decimals, and the
/// double nearest to `k / 10^4` prints as that decimal without trailing zeros (no shorter
/// decimal is within half an ulp of it), so such values are written from the integer `k`
/// directly; any other value goes to the serialiser.
fn write_json_f64(out: &mut Vec<u8>, x: f64) -> serde_json::Result<()> {
    let a = x.abs();
    if a < 1e6 {
        // Rounds `a * 10^4` (a truncating conversion, no rounding call); the check below
        // rejects any value this does not give back exactly.
        let k = (a * 10_000.0 + 0.5) as u64;
        if k as f64 / 10_000.0 == a {
            write_decimal(out, x.is_sign_negative(), k);
            return Ok(());
        }
    }
    serde_json::to_writer(&mut *out, &x)
}

/// Writes `k / 10^4` with at least one fraction digit and no trailing zeros.
fn write_decimal(out: &mut Vec<u8>, negative: bool, k: u64) {
    if negative {
        out.push(b'-');
    }
    let (int, frac) = (k / 10_000, k % 10_000);
    if int < 10 {
        out.push(b'0' + int as u8);
    } else {
        out.extend_from_slice(int.to_string().as_bytes());
    }
    out.push(b'.');
    let f = [
        (frac / 1000) as u8,
        (frac / 100 % 10) as u8,
        (frac / 10 % 10) as u8,
        (frac % 10) as u8,
    ];
    // Four fraction digits less the trailing zeros, but at least one.
    let keep = f.iter().rposition(|&x| x != 0).map_or(1, |p| p + 1);
    for &x in &f[..keep] {
        out.push(b'0' + x);
    }
}

/// Writes `s` as a JSON string as serde_json does: copied as is unless it holds a byte that
/// serde_json escapes (a control character, `"` or `\\`).
fn write_json_str(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return serde_json::to_writer(&mut *out, s);
    }
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Writes a list of strings as serde_json does.
fn write_json_list(out: &mut Vec<u8>, list: &[String]) -> serde_json::Result<()> {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, s)?;
    }
    out.push(b']');
    Ok(())
}

/// `Line` serialised by serde, for the test that `write_line` writes the same bytes.
#[cfg(test)]
fn line_via_serde(c: &Classification, text: Option<&str>) -> Vec<u8> {
    let line = Line {
        compound: c.sentiment.compound,
        pos: c.sentiment.pos,
        neu: c.sentiment.neu,
        neg: c.sentiment.neg,
        category: c.category.as_str(),
        confidence: round4(c.confidence),
        complaint_score: round4(c.complaint_score),
        products: &c.products,
        topics: &c.topics,
        text,
    };
    serde_json::to_vec(&line).unwrap_or_default()
}

/// One unit of work: up to `CHUNK` lines, stored in one buffer.
struct Unit {
    /// Position of the unit in the input.
    seq: u64,
    data: Vec<u8>,
    /// Byte range of each line in `data`, without its `\n` or `\r\n`.
    spans: Vec<(usize, usize)>,
}

/// Reads up to `CHUNK` lines into a new unit. Returns `None` at end of input.
fn read_unit(input: &mut impl BufRead, seq: u64) -> anyhow::Result<Option<Unit>> {
    let mut data = Vec::with_capacity(CHUNK * 128);
    let mut spans = Vec::with_capacity(CHUNK);
    while spans.len() < CHUNK {
        let start = data.len();
        let n = input
            .read_until(b'\n', &mut data)
            .context("cannot read standard input")?;
        if n == 0 {
            break;
        }
        let mut end = data.len();
        if data[end - 1] == b'\n' {
            end -= 1;
            if end > start && data[end - 1] == b'\r' {
                end -= 1;
            }
        }
        spans.push((start, end));
    }
    Ok((!spans.is_empty()).then_some(Unit { seq, data, spans }))
}

/// Output of units that came back ahead of their turn, and the next unit to write.
struct Reorder {
    next: u64,
    waiting: std::collections::BTreeMap<u64, Vec<u8>>,
}

impl Reorder {
    /// Takes the output of unit `seq` and writes every unit that is now due.
    fn put(&mut self, seq: u64, buf: Vec<u8>, out: &mut impl Write) -> anyhow::Result<()> {
        self.waiting.insert(seq, buf);
        while let Some(buf) = self.waiting.remove(&self.next) {
            out.write_all(&buf).context("cannot write output")?;
            self.next += 1;
        }
        Ok(())
    }
}

/// Classifies every line of `input` (an empty line included) and writes one JSON object per
/// line to `output`, in input order. Lines are read as bytes and decoded lossily. Worker
/// threads (one per available core) live for the whole run, so their per-thread buffers and
/// token memos stay warm; this thread reads units of `CHUNK` lines, hands them out, and
/// writes the output of finished units in input order.
pub fn run_classify(
    args: &ClassifyArgs,
    mut input: impl BufRead,
    output: impl Write,
) -> anyhow::Result<()> {
    let rules = load_rules(args.rules.as_deref())?;
    let classifier = build_classifier(&rules, args.model.as_deref())?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = std::io::BufWriter::with_capacity(1 << 20, output);
    let (unit_tx, unit_rx) = std::sync::mpsc::sync_channel::<Unit>(threads * QUEUED_PER_WORKER);
    let unit_rx = std::sync::Mutex::new(unit_rx);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(u64, Vec<u8>)>();
    let mut order = Reorder {
        next: 0,
        waiting: std::collections::BTreeMap::new(),
    };
    std::thread::scope(|s| -> anyhow::Result<()> {
        let mut workers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (unit_rx, done_tx, classifier) = (&unit_rx, done_tx.clone(), &classifier);
            workers.push(s.spawn(move || loop {
                // A poisoned lock means another worker died; stop too.
                let unit = match unit_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(unit) = unit else { return };
                let mut buf = Vec::with_capacity(unit.spans.len() * 200);
                let lines: Vec<&[u8]> = unit.spans.iter().map(|&(a, b)| &unit.data[a..b]).collect();
                classify_lines(args, classifier, &lines, &mut buf);
                if done_tx.send((unit.seq, buf)).is_err() {
                    return;
                }
            }));
        }
        drop(done_tx);
        let mut sent = 0u64;
        while let Some(unit) = read_unit(&mut input, sent)? {
            if unit_tx.send(unit).is_err() {
                break;
            }
            sent += 1;
            while let Ok((seq, buf)) = done_rx.try_recv() {
                order.put(seq, buf, &mut out)?;
            }
        }
        drop(unit_tx);
        let failed = || {
            anyhow::anyhow!(
                "a classification thread failed; please report the input that caused it"
            )
        };
        while order.next < sent {
            let (seq, buf) = done_rx.recv().map_err(|_| failed())?;
            order.put(seq, buf, &mut out)?;
        }
        for w in workers {
            w.join().map_err(|_| failed())?;
        }
        Ok(())
    })?;
    out.flush().context("cannot write output")?;
    Ok(())
}

/// Reads a labelled CSV (tweet_id,text,complaint,domain; complaint is 0 or 1).
pub fn read_labelled(path: &Path) -> anyhow::Result<Vec<Labelled>> {
    let mut r = csv::Reader::from_path(path)
        .with_context(|| format!("cannot open labelled CSV {}", path.display()))?;
    let headers = r.headers()?.clone();
    let col = |name: &str| -> anyhow::Result<usize> {
        headers.iter().position(|h| h == name).with_context(|| {
            format!(
                "{} has no `{name}` column: expected columns tweet_id,text,complaint,domain",
                path.display()
            )
        })
    };
    let (ti, ci) = (col("text")?, col("complaint")?);
    let di = headers.iter().position(|h| h == "domain");
    let mut out = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: bad CSV record {}", path.display(), n + 2))?;
        let complaint = match rec.get(ci).map(str::trim) {
            Some("1") => true,
            Some("0") => false,
            other => bail!(
                "{} line {}: complaint must be 0 or 1, found {:?}",
                path.display(),
                n + 2,
                other
            ),
        };
        out.push(Labelled {
            text: rec.get(ti).unwrap_or_default().to_string(),
            complaint,
            domain: di.and_then(|i| rec.get(i)).unwrap_or("all").to_string(),
        });
    }
    if out.is_empty() {
        bail!("{} has no labelled rows", path.display());
    }
    Ok(out)
}

/// Trains the complaint model and writes the weights file.
pub fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let data = read_labelled(&args.data)?;
    let scorer = VaderScorer::new();
    let model = train_complaint_model(
        &scorer,
        &data,
        args.model.config(),
        &args.model.params(args.seed),
        !args.model.no_tune,
    );
    let bytes = model.to_bytes();
    std::fs::write(&args.out, &bytes)
        .with_context(|| format!("cannot write weights to {}", args.out.display()))?;
    eprintln!(
        "trained on {} texts; threshold {:.2}; wrote {} bytes to {}",
        data.len(),
        model.threshold,
        bytes.len(),
        args.out.display()
    );
    Ok(())
}

fn write_row(out: &mut impl Write, label: &str, c: &Confusion) -> std::io::Result<()> {
    writeln!(
        out,
        "{label:<14} n={:<5} precision={:.3} recall={:.3} f1={:.3} macro_f1={:.3} accuracy={:.3}",
        c.total(),
        c.precision(),
        c.recall(),
        c.f1(),
        c.macro_f1(),
        c.accuracy()
    )
}

/// Evaluates the complaint detector: the shipped (or given) model on the file, or k-fold
/// cross-validation with `--cv`. Prints precision and recall of the complaint class, its F1,
/// macro-F1 over both classes and accuracy, overall and per domain.
pub fn run_eval(args: &EvalArgs, mut out: impl Write) -> anyhow::Result<()> {
    match args.target {
        EvalTarget::Complaints => {}
    }
    let data = read_labelled(&args.file)?;
    let positives = data.iter().filter(|d| d.complaint).count();
    if let Some(k) = args.cv {
        let scorer = VaderScorer::new();
        let report = cross_validate(
            &scorer,
            &data,
            k as usize,
            args.seed,
            args.model.config(),
            &args.model.params(args.seed),
            !args.model.no_tune,
        );
        writeln!(
            out,
            "complaints: {} texts ({positives} complaints) from {}; {k}-fold stratified CV, seed {}",
            data.len(),
            args.file.display(),
            args.seed
        )?;
        write_row(&mut out, "overall", &report.overall)?;
        for (i, c) in report.per_fold.iter().enumerate() {
            write_row(&mut out, &format!("fold {}", i + 1), c)?;
        }
        for (d, c) in &report.per_domain {
            write_row(&mut out, d, c)?;
        }
        let t: Vec<String> = report
            .thresholds
            .iter()
            .map(|t| format!("{t:.2}"))
            .collect();
        writeln!(out, "thresholds chosen per fold: {}", t.join(" "))?;
    } else {
        let classifier = build_classifier(&Rules::default(), args.model_file.as_deref())?;
        let threshold = classifier.complaint_threshold();
        let mut overall = Confusion::default();
        let mut per_domain = std::collections::BTreeMap::<String, Confusion>::new();
        for d in &data {
            let pred = classifier.classify(&d.text).complaint_score >= threshold;
            overall.add(d.complaint, pred);
            per_domain
                .entry(d.domain.clone())
                .or_default()
                .add(d.complaint, pred);
        }
        writeln!(
            out,
            "complaints: {} texts ({positives} complaints) from {}; model {} (threshold {threshold:.2})",
            data.len(),
            args.file.display(),
            classifier.version()
        )?;
        write_row(&mut out, "overall", &overall)?;
        for (d, c) in &per_domain {
            write_row(&mut out, d, c)?;
        }
    }
    Ok(())
}

/// Loads a weights file (for callers that want the model itself).
pub fn load_model(path: &Path) -> anyhow::Result<LinearModel> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    Ok(LinearModel::from_bytes(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Sentiment};

    /// `write_line` writes the bytes serde writes for `Line`, on real classifications (with
    /// and without the text) and on odd values: non-finite and negative-zero numbers,
    /// strings that need escaping, several products and topics.
    #[test]
    fn write_line_equals_serde() {
        let classifier = Classifier::new(&Rules::default()).expect("default classifier builds");
        let mut cases: Vec<(Classification, Option<String>)> = [
            "@acme my order hasn't arrived, it's been 2 weeks",
            "thank you so much, the new app is great! \"quoted\" \\ back\u{1}slash",
            "",
            "😡😡 refund my card NOW ☃ \u{2028}",
        ]
        .iter()
        .map(|t| (classifier.classify(t), Some(t.to_string())))
        .collect();
        let odd = Classification {
            sentiment: Sentiment {
                compound: f64::NAN,
                pos: -0.0,
                neu: f64::INFINITY,
                neg: 1e-300,
            },
            category: Category::Other,
            confidence: 0.123456,
            complaint_score: 1.0 / 3.0,
            products: vec!["a\"b".into(), "c\nd".into()],
            topics: vec!["é".into(), "\u{7f}".into(), String::new()],
        };
        cases.push((odd, Some("\u{0}\t".into())));
        for (c, text) in &cases {
            for t in [None, text.as_deref()] {
                let mut mine = Vec::new();
                write_line(&mut mine, c, t).expect("writes into a Vec");
                assert_eq!(
                    String::from_utf8_lossy(&mine),
                    String::from_utf8_lossy(&line_via_serde(c, t)),
                    "{c:?}"
                );
            }
        }
    }

    /// `write_json_f64` writes what serde_json writes: every multiple of 1e-4 in [-3, 3]
    /// (and of 1e-3, 1e-2, ...), their neighbours one ulp away, and odd values.
    #[test]
    fn json_f64_equals_serde() {
        let mut xs: Vec<f64> = vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
            1e300,
            123_456.789_1,
            999_999.999_9,
            1e6,
            0.1 + 0.2,
            1.0 / 3.0,
        ];
        for d in 0..=4 {
            let p = 10f64.powi(d);
            for k in -30_000i64..=30_000 {
                let x = k as f64 / p;
                xs.extend([
                    x,
                    f64::from_bits(x.to_bits() + 1),
                    f64::from_bits(x.to_bits().saturating_sub(1)),
                ]);
            }
        }
        for x in xs {
            let mut mine = Vec::new();
            write_json_f64(&mut mine, x).expect("writes into a Vec");
            let want = serde_json::to_vec(&x).expect("serialises");
            assert_eq!(
                String::from_utf8_lossy(&mine),
                String::from_utf8_lossy(&want),
                "{x:e}"
            );
        }
    }

    /// `write_json_str` writes what serde_json writes, escapes and non-ASCII included.
    #[test]
    fn json_str_equals_serde() {
        for s in [
            "",
            "praise",
            "a\"b",
            "c\\d",
            "e\nf",
            "\u{1}",
            "\u{7f}",
            "é ☃ 😡",
            "\u{2028}",
            "tab\there",
        ] {
            let mut mine = Vec::new();
            write_json_str(&mut mine, s).expect("writes into a Vec");
            assert_eq!(mine, serde_json::to_vec(s).expect("serialises"), "{s:?}");
            let list = vec![s.to_string(), "x".to_string()];
            let mut mine = Vec::new();
            write_json_list(&mut mine, &list).expect("writes into a Vec");
            assert_eq!(
                mine,
                serde_json::to_vec(&list).expect("serialises"),
                "{s:?}"
            );
        }
    }
}
