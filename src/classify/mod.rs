//! Classification of every message: markup stripping, VADER sentiment (exact parity with
//! vaderSentiment 3.3.2), the complaint model (logistic regression over hashed word and
//! character n-grams plus VADER and lexical features, weights embedded from
//! `complaint_model.bin`), the category decision (complaint / inquiry / praise / other, with
//! a confidence) and product/topic keyword rules. Pure: no I/O; `Classifier` is `Send + Sync`.

pub mod bytescan;
pub mod category;
#[cfg(test)]
pub(crate) mod corpus;
pub mod features;
pub mod linear;
pub mod markup;
pub mod rules;
pub mod sentiment;
pub mod train;
pub mod vader;

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

pub use linear::{CompactWeights, GramMemo, LinearModel, ModelError, TrainParams};
pub use markup::{strip_markup, strip_markup_cow};
pub use rules::{KeywordRule, Rules};
pub use sentiment::{ReferenceVader, SentimentScorer, VaderScorer};

use crate::model::{Classification, Sentiment};
use features::{fnv1a, Scratch};
use rules::RuleSets;

/// The complaint model weights shipped with the binary (`carepulse train` writes them).
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("complaint_model.bin");

/// Why a classifier could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClassifyError {
    #[error("{kind}: a rule has an empty name; give every [[{kind}]] entry a `name`")]
    EmptyName { kind: &'static str },
    #[error("{kind} rule '{name}' has no keywords; add at least one to `keywords`")]
    NoKeywords { kind: &'static str, name: String },
    #[error("{kind} rule '{name}' has an empty keyword; remove the empty string from `keywords`")]
    EmptyKeyword { kind: &'static str, name: String },
    #[error("{kind} rules could not be compiled: {reason}; use fewer or shorter keywords")]
    Pattern { kind: &'static str, reason: String },
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Classifies message texts. Build once; share freely between threads.
pub struct Classifier {
    scorer: Box<dyn SentimentScorer>,
    model: LinearModel,
    /// The model's non-zero weights (`LinearModel::compact`).
    compact: CompactWeights,
    rules: RuleSets,
    version: String,
    /// Unique to this classifier: claims the per-thread n-gram memo for its model.
    id: u64,
}

thread_local! {
    static BUFFERS: RefCell<(Scratch, GramMemo)> = RefCell::new(Default::default());
}

/// Source of `Classifier::id`.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Texts per unit of work of `classify_many`: threads take the next unit when they finish
/// one, so a thread slowed by other load on the machine does not hold the others up.
const MANY_CHUNK: usize = 256;

/// Texts taken through the pipeline together, one stage at a time (markup, then sentiment,
/// then the complaint model and rules) by `classify_block` and `classify_pairs`. Run text
/// by text, each stage's code evicts the others' from the instruction cache; run over a
/// block, a stage's code stays cached for the whole block. Measured on the VADER tweets:
/// L1 instruction-cache misses fall by nine tenths, and the CPU time of `carepulse classify`
/// by 6 to 16 % from run to run. Blocks of 16 or 256 measured the same.
pub const STAGE_TEXTS: usize = 64;

fn rules_fingerprint(r: &Rules) -> u64 {
    let mut s = String::new();
    for (kind, list) in [("p", &r.products), ("t", &r.topics)] {
        for rule in list {
            s.push_str(kind);
            s.push('\u{1}');
            s.push_str(&rule.name);
            for k in &rule.keywords {
                s.push('\u{2}');
                s.push_str(k);
            }
            s.push('\u{3}');
        }
    }
    fnv1a(0, s.as_bytes())
}

impl Classifier {
    /// VADER, the embedded complaint model and `rules`.
    pub fn new(rules: &Rules) -> Result<Classifier, ClassifyError> {
        Self::with_model_bytes(rules, EMBEDDED_MODEL)
    }

    /// VADER, the complaint model in `model` (the weights file format) and `rules`.
    pub fn with_model_bytes(rules: &Rules, model: &[u8]) -> Result<Classifier, ClassifyError> {
        let m = LinearModel::from_bytes(model)?;
        Self::with_parts(rules, Box::new(VaderScorer::new()), m, fnv1a(0, model))
    }

    /// Any scorer and model; `model_id` identifies the model in `version()`.
    pub fn with_parts(
        rules: &Rules,
        scorer: Box<dyn SentimentScorer>,
        model: LinearModel,
        model_id: u64,
    ) -> Result<Classifier, ClassifyError> {
        let compiled = RuleSets::compile(rules)?;
        let version = format!(
            "{}+cm{:016x}+r{:016x}",
            scorer.id(),
            model_id,
            rules_fingerprint(rules)
        );
        Ok(Classifier {
            scorer,
            compact: model.compact(),
            model,
            rules: compiled,
            version,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Identifies the scorer, model and rules: it changes whenever any of them changes, so
    /// stored classifications with another version are due for reclassification.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Decision threshold of the complaint model.
    pub fn complaint_threshold(&self) -> f64 {
        f64::from(self.model.threshold)
    }

    /// Classifies a message as a platform delivers it (markup is stripped first).
    pub fn classify(&self, text: &str) -> Classification {
        let clean = strip_markup_cow(text);
        self.classify_clean(text, &clean)
    }

    /// Classifies text that is already plain: `raw` is the text as received (used only for
    /// counts of @handles and links), `clean` the text to score and match.
    pub fn classify_clean(&self, raw: &str, clean: &str) -> Classification {
        let sentiment = self.scorer.score(clean);
        self.classify_scored(raw, clean, sentiment)
    }

    /// `classify` of each text, in order, one stage at a time over blocks of `STAGE_TEXTS`:
    /// the same results as classifying the texts one by one, faster.
    pub fn classify_block(&self, texts: &[&str]) -> Vec<Classification> {
        let mut out = Vec::with_capacity(texts.len());
        for part in texts.chunks(STAGE_TEXTS) {
            let cleans: Vec<std::borrow::Cow<'_, str>> =
                part.iter().map(|t| strip_markup_cow(t)).collect();
            let pairs: Vec<(&str, &str)> = part
                .iter()
                .zip(&cleans)
                .map(|(t, c)| (*t, c.as_ref()))
                .collect();
            self.classify_pairs_into(&pairs, &mut out);
        }
        out
    }

    /// `classify_clean(raw, clean)` of each pair, in order, one stage at a time over blocks
    /// of `STAGE_TEXTS`: the same results as classifying the pairs one by one, faster.
    pub fn classify_pairs(&self, pairs: &[(&str, &str)]) -> Vec<Classification> {
        let mut out = Vec::with_capacity(pairs.len());
        self.classify_pairs_into(pairs, &mut out);
        out
    }

    fn classify_pairs_into(&self, pairs: &[(&str, &str)], out: &mut Vec<Classification>) {
        let mut sentiments = Vec::with_capacity(STAGE_TEXTS.min(pairs.len()));
        for part in pairs.chunks(STAGE_TEXTS) {
            sentiments.clear();
            sentiments.extend(part.iter().map(|(_, clean)| self.scorer.score(clean)));
            out.extend(
                part.iter()
                    .zip(sentiments.drain(..))
                    .map(|((raw, clean), s)| self.classify_scored(raw, clean, s)),
            );
        }
    }

    fn classify_scored(&self, raw: &str, clean: &str, sentiment: Sentiment) -> Classification {
        let fused = |scratch: &mut Scratch, memo: Option<&mut GramMemo>| {
            let mut dot = match memo {
                Some(m) => {
                    m.own(self.id);
                    self.model.compact_dot_memo(&self.compact, m)
                }
                None => self.model.compact_dot(&self.compact),
            };
            features::extract_into(&self.model.cfg, raw, clean, &sentiment, scratch, &mut dot);
            let rules = self.rules.matches_lowered(clean, scratch.lower());
            (dot.probability(), scratch.thanks_cue(), rules)
        };
        let (p, thanks, (products, topics)) = BUFFERS.with(|b| match b.try_borrow_mut() {
            Ok(mut b) => {
                let (scratch, memo) = &mut *b;
                fused(scratch, Some(memo))
            }
            Err(_) => fused(&mut Scratch::default(), None),
        });
        let threshold = f64::from(self.model.threshold);
        // `decide` reads the inquiry strength only below the complaint threshold.
        let inquiry = if p >= threshold {
            0.0
        } else {
            category::inquiry_strength(clean)
        };
        let (cat, confidence) = category::decide(p, threshold, inquiry, thanks, &sentiment);
        Classification {
            sentiment,
            category: cat,
            confidence,
            complaint_score: p.clamp(0.0, 1.0),
            products,
            topics,
        }
    }

    /// `classify` of every text, on all available cores; the results are in input order
    /// and identical to classifying the texts one by one.
    pub fn classify_many(&self, texts: &[&str]) -> Vec<Classification> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.classify_many_on(texts, threads)
    }

    /// `classify_many` on at most `threads` threads (1: on the calling thread).
    pub fn classify_many_on(&self, texts: &[&str], threads: usize) -> Vec<Classification> {
        let chunks = texts.len().div_ceil(MANY_CHUNK);
        let threads = threads.min(chunks);
        if threads <= 1 {
            return self.classify_block(texts);
        }
        let next = AtomicU64::new(0);
        let mut parts: Vec<(usize, Vec<Classification>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                            let Some(part) = texts.chunks(MANY_CHUNK).nth(i) else {
                                return done;
                            };
                            done.push((i, self.classify_block(part)));
                        }
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(chunks);
            for h in handles {
                match h.join() {
                    Ok(part) => all.extend(part),
                    // Classification does not panic; should a thread die anyway, carry
                    // its panic to the caller as one-by-one classification would.
                    Err(e) => std::panic::resume_unwind(e),
                }
            }
            all
        });
        parts.sort_unstable_by_key(|p| p.0);
        let mut out = Vec::with_capacity(texts.len());
        for (_, p) in parts {
            out.extend(p);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Category;

    fn classifier() -> Classifier {
        Classifier::new(&Rules::default()).expect("embedded model and default rules load")
    }

    #[test]
    fn classifier_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Classifier>();
    }

    /// `n` texts cycling through `base`, each tagged `#k` with `k` cycling below `tags`, so
    /// neighbouring texts differ.
    fn cycled(base: &[&str], n: usize, tags: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("{} #{}", base[i % base.len()], i % tags))
            .collect()
    }

    fn one_by_one(c: &Classifier, texts: &[&str]) -> Vec<Classification> {
        texts.iter().map(|t| c.classify(t)).collect()
    }

    #[test]
    fn classify_many_on_empty_and_one_text() {
        let c = classifier();
        assert!(c.classify_many(&[]).is_empty());
        assert!(c.classify_many_on(&[], 4).is_empty());
        let one = ["@acme my order hasn't arrived"];
        assert_eq!(c.classify_many(&one), one_by_one(&c, &one));
        assert_eq!(c.classify_many_on(&one, 8), one_by_one(&c, &one));
    }

    /// More texts than threads and than units of work, of different kinds so that a
    /// reordering would show: the same results, in input order, on 1 to 5 threads.
    #[test]
    fn classify_many_keeps_order_and_results() {
        let c = classifier();
        let base = [
            "@acme my order hasn't arrived, it's been 2 weeks",
            "@acme hi, do you ship to Canada?",
            "@acme thank you so much, the new app is great!",
            "nice weather",
            "",
            "😡😡 refund my card NOW",
        ];
        let owned = cycled(&base, MANY_CHUNK * 3 + 17, 7);
        let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
        let want = one_by_one(&c, &texts);
        assert_eq!(c.classify_many(&texts), want);
        for threads in 1..=5 {
            assert_eq!(
                c.classify_many_on(&texts, threads),
                want,
                "{threads} threads"
            );
        }
        let few = &texts[..3];
        assert_eq!(c.classify_many_on(few, 8), one_by_one(&c, few));
    }

    /// Blocks of texts, longer and shorter than a stage block, classified stage by stage:
    /// the same results, in order, as one by one; `classify_pairs` equals `classify_clean`
    /// whether the clean text is stripped or the raw text itself.
    #[test]
    fn blocks_equal_one_by_one() {
        let c = classifier();
        let base = [
            "@acme my order hasn't arrived https://t.co/x",
            "<p>Hi @acme@mastodon.social, do you ship to Canada?</p>",
            "",
            "thank you so much &amp; the new app is GREAT!!",
            "😡😡",
        ];
        let owned = cycled(&base, STAGE_TEXTS * 2 + 3, 11);
        let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
        for n in [0, 1, STAGE_TEXTS - 1, STAGE_TEXTS, texts.len()] {
            assert_eq!(
                c.classify_block(&texts[..n]),
                one_by_one(&c, &texts[..n]),
                "{n} texts"
            );
        }
        let cleans: Vec<String> = texts.iter().map(|t| strip_markup(t)).collect();
        let stripped: Vec<(&str, &str)> = texts
            .iter()
            .zip(&cleans)
            .map(|(t, c)| (*t, c.as_str()))
            .collect();
        let raw: Vec<(&str, &str)> = texts.iter().map(|t| (*t, *t)).collect();
        for pairs in [stripped, raw] {
            let want: Vec<Classification> = pairs
                .iter()
                .map(|(r, cl)| c.classify_clean(r, cl))
                .collect();
            assert_eq!(c.classify_pairs(&pairs), want);
        }
    }

    /// Two classifiers with different models used in turn on one thread: the per-thread
    /// n-gram memo never serves one model's weights to the other.
    #[test]
    fn memo_is_per_model() {
        let a = classifier();
        let mut m = LinearModel::from_bytes(EMBEDDED_MODEL).unwrap();
        for w in &mut m.weights {
            *w *= -2.0;
        }
        let b = Classifier::with_model_bytes(&Rules::default(), &m.to_bytes()).unwrap();
        let text = "@acme my order hasn't arrived, still waiting";
        let fresh_a = std::thread::scope(|s| s.spawn(|| a.classify(text)).join().unwrap());
        let fresh_b = std::thread::scope(|s| s.spawn(|| b.classify(text)).join().unwrap());
        assert_ne!(fresh_a.complaint_score, fresh_b.complaint_score);
        for _ in 0..3 {
            assert_eq!(a.classify(text), fresh_a);
            assert_eq!(b.classify(text), fresh_b);
        }
    }

    #[test]
    fn categories_on_clear_cases() {
        let c = classifier();
        let late = c.classify("@acme my order hasn't arrived, it's been 2 weeks");
        assert_eq!(late.category, Category::Complaint, "{late:?}");
        assert!(late.products.contains(&"order".to_string()));
        let broken = c.classify(
            "@acme my router keeps dropping the connection, still not fixed after 3 calls",
        );
        assert_eq!(broken.category, Category::Complaint, "{broken:?}");
        let q = c.classify("@acme hi, do you ship to Canada?");
        assert_eq!(q.category, Category::Inquiry, "{q:?}");
        let praise = c.classify("@acme thank you so much, the new app is great!");
        assert_eq!(praise.category, Category::Praise, "{praise:?}");
        assert_eq!(praise.products, vec!["app"]);
        let monday = c.classify("I hate Mondays @acme");
        assert_ne!(monday.category, Category::Complaint, "{monday:?}");
        assert!(monday.sentiment.compound < -0.05);
        for r in [&late, &broken, &q, &praise, &monday] {
            assert!((0.0..=1.0).contains(&r.confidence));
            assert!((0.0..=1.0).contains(&r.complaint_score));
        }
    }

    #[test]
    fn handles_and_urls_do_not_move_scores() {
        let c = classifier();
        let a = c.classify("I love the new design");
        let b = c.classify("@acme @bob I love the new design https://t.co/abc");
        assert_eq!(a.sentiment, b.sentiment);
    }

    #[test]
    fn version_changes_with_rules_and_model() {
        let base = classifier();
        let mut r = Rules::default();
        r.topics[0].keywords.push("courier service".into());
        let other_rules = Classifier::new(&r).unwrap();
        assert_ne!(base.version(), other_rules.version());
        let mut m = LinearModel::from_bytes(EMBEDDED_MODEL).unwrap();
        m.bias += 1.0;
        let other_model = Classifier::with_model_bytes(&Rules::default(), &m.to_bytes()).unwrap();
        assert_ne!(base.version(), other_model.version());
        assert_eq!(base.version(), classifier().version());
    }

    #[test]
    fn odd_input_gets_a_label() {
        let c = classifier();
        let long = "my order is late again ".repeat(5000);
        for t in [
            "",
            " ",
            "😡😡😡",
            "¿Dónde está mi pedido?",
            "这是什么",
            &long,
            "\u{0}\u{FFFD}<p>&#0;",
        ] {
            let r = c.classify(t);
            assert!((0.0..=1.0).contains(&r.confidence), "{t:?}");
            assert!(r.sentiment.compound.is_finite());
        }
    }

    #[test]
    fn bad_model_bytes_are_rejected() {
        let e = Classifier::with_model_bytes(&Rules::default(), b"garbage").err();
        assert!(matches!(
            e,
            Some(ClassifyError::Model(ModelError::BadMagic))
        ));
    }

    /// The fused extraction and prediction used when serving gives the probability of
    /// collecting the features and predicting over them (dense and compact weights, which
    /// agree bit for bit) up to rounding, the same bits with and without the memo, and the
    /// thanks cue of `category::has_thanks_cue`, on real texts.
    #[test]
    fn fused_prediction_equals_collected_features() {
        let Some(bytes) = corpus::shared_bytes("vader/tweets_GroundTruth.txt") else {
            return;
        };
        let c = classifier();
        let mut texts: Vec<String> = String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| l.splitn(3, '\t').nth(2).map(str::to_string))
            .collect();
        texts.extend(["".into(), "😍 thx!".into(), "x ".repeat(3000)]);
        let (mut scratch, mut fv) = (Scratch::default(), features::FeatureVec::default());
        let mut memo = GramMemo::default();
        memo.own(c.id);
        for t in &texts {
            let clean = strip_markup_cow(t);
            let s = c.scorer.score(&clean);
            features::extract(&c.model.cfg, t, &clean, &s, &mut scratch, &mut fv);
            let want = c.model.predict_compact(&c.compact, &fv);
            assert_eq!(want.to_bits(), c.model.predict(&fv).to_bits(), "{t:?}");
            let mut dot = c.model.compact_dot(&c.compact);
            features::extract_into(&c.model.cfg, t, &clean, &s, &mut scratch, &mut dot);
            let fused = dot.probability();
            // Summed per token before scaling: equal up to the rounding of the additions.
            assert!((fused - want).abs() < 1e-12, "{t:?}: {fused} vs {want}");
            // Memoised: the first pass fills the memo, the second reads it; both give the
            // bits of the unmemoised sum.
            for pass in 0..2 {
                let mut dot = c.model.compact_dot_memo(&c.compact, &mut memo);
                features::extract_into(&c.model.cfg, t, &clean, &s, &mut scratch, &mut dot);
                assert_eq!(dot.probability().to_bits(), fused.to_bits(), "{t:?} {pass}");
            }
            assert_eq!(
                scratch.thanks_cue(),
                category::has_thanks_cue(scratch.tokens().iter()),
                "{t:?}"
            );
        }
    }
}
