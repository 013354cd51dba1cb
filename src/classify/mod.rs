//! Classification of every message: markup stripping, VADER sentiment (exact parity with
//! vaderSentiment 3.3.2), the complaint model (logistic regression over hashed word and
//! character n-grams plus VADER and lexical features, weights embedded from
//! `complaint_model.bin`), the category decision (complaint / inquiry / praise / other, with
//! a confidence) and product/topic keyword rules. Pure: no I/O; `Classifier` is `Send + Sync`.

pub mod category;
pub mod features;
pub mod linear;
pub mod markup;
pub mod rules;
pub mod sentiment;
pub mod train;
pub mod vader;

use std::cell::RefCell;

pub use linear::{CompactWeights, LinearModel, ModelError, TrainParams};
pub use markup::{strip_markup, strip_markup_cow};
pub use rules::{KeywordRule, Rules};
pub use sentiment::{ReferenceVader, SentimentScorer, VaderScorer};

use crate::model::{Classification, Sentiment};
use features::{fnv1a, Scratch};
use rules::CompiledRules;

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
    products: CompiledRules,
    topics: CompiledRules,
    version: String,
}

thread_local! {
    static BUFFERS: RefCell<Scratch> = RefCell::new(Scratch::default());
}

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
        let products = CompiledRules::compile("products", &rules.products)?;
        let topics = CompiledRules::compile("topics", &rules.topics)?;
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
            products,
            topics,
            version,
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

    fn classify_scored(&self, raw: &str, clean: &str, sentiment: Sentiment) -> Classification {
        let (p, thanks) = BUFFERS.with(|b| {
            let scratch = &mut *b.borrow_mut();
            let mut dot = self.model.compact_dot(&self.compact);
            features::extract_into(&self.model.cfg, raw, clean, &sentiment, scratch, &mut dot);
            (dot.probability(), scratch.thanks_cue())
        });
        let inquiry = category::inquiry_strength(clean);
        let (cat, confidence) = category::decide(
            p,
            f64::from(self.model.threshold),
            inquiry,
            thanks,
            &sentiment,
        );
        Classification {
            sentiment,
            category: cat,
            confidence,
            complaint_score: p.clamp(0.0, 1.0),
            products: self.products.matches(clean),
            topics: self.topics.matches(clean),
        }
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

    /// The fused extraction and prediction used when serving gives bit for bit the
    /// probability of collecting the features and predicting over them (dense and compact
    /// weights), and the thanks cue of `category::has_thanks_cue`, on real texts.
    #[test]
    fn fused_prediction_equals_collected_features() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/vader/tweets_GroundTruth.txt"
        );
        let Ok(bytes) = std::fs::read(path) else {
            eprintln!("skipping: {path} is absent");
            return;
        };
        let c = classifier();
        let mut texts: Vec<String> = String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| l.splitn(3, '\t').nth(2).map(str::to_string))
            .collect();
        texts.extend(["".into(), "😍 thx!".into(), "x ".repeat(3000)]);
        let (mut scratch, mut fv) = (Scratch::default(), features::FeatureVec::default());
        for t in &texts {
            let clean = strip_markup_cow(t);
            let s = c.scorer.score(&clean);
            features::extract(&c.model.cfg, t, &clean, &s, &mut scratch, &mut fv);
            let want = c.model.predict_compact(&c.compact, &fv);
            assert_eq!(want.to_bits(), c.model.predict(&fv).to_bits(), "{t:?}");
            let mut dot = c.model.compact_dot(&c.compact);
            features::extract_into(&c.model.cfg, t, &clean, &s, &mut scratch, &mut dot);
            assert_eq!(dot.probability().to_bits(), want.to_bits(), "{t:?}");
            assert_eq!(
                scratch.thanks_cue(),
                category::has_thanks_cue(scratch.tokens().iter()),
                "{t:?}"
            );
        }
    }
}
