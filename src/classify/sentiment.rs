//! Sentiment scoring behind the `SentimentScorer` trait. The production scorer is VADER as
//! published in vaderSentiment 3.3.2, computed by our own fast implementation
//! (`super::vader`); `ReferenceVader` wraps the `vader-parity` crate, against which the fast
//! scorer is tested. Parity with the Python reference is measured by `bench/vader_parity.py`
//! and pinned by tests on known texts.

use vader_parity::SentimentIntensityAnalyzer;

use super::vader::FastVader;
use crate::model::Sentiment;

/// Anything that turns a text into VADER's four scores. Implementations must be pure (same
/// text, same scores) and safe to share between threads.
pub trait SentimentScorer: Send + Sync {
    /// Scores one text (already stripped of platform markup).
    fn score(&self, text: &str) -> Sentiment;
    /// Short name and version of the scorer, part of `Classifier::version`.
    fn id(&self) -> &str;
}

/// VADER 3.3.2, exactly, fast.
pub struct VaderScorer {
    fast: FastVader,
}

impl VaderScorer {
    /// Loads the VADER lexicons (a few milliseconds; build one and share it).
    pub fn new() -> Self {
        VaderScorer {
            fast: FastVader::new(),
        }
    }
}

impl SentimentScorer for VaderScorer {
    fn score(&self, text: &str) -> Sentiment {
        self.fast.score(text)
    }

    fn id(&self) -> &str {
        "vader-3.3.2"
    }
}

/// VADER 3.3.2 through the `vader-parity` crate: the yardstick the fast scorer is tested
/// against.
pub struct ReferenceVader {
    analyzer: SentimentIntensityAnalyzer,
}

impl ReferenceVader {
    /// Loads the crate's lexicons.
    pub fn new() -> Self {
        ReferenceVader {
            analyzer: SentimentIntensityAnalyzer::new(),
        }
    }
}

impl Default for ReferenceVader {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for VaderScorer {
    fn default() -> Self {
        Self::new()
    }
}

impl SentimentScorer for ReferenceVader {
    fn score(&self, text: &str) -> Sentiment {
        let s = self.analyzer.polarity_scores(text);
        Sentiment {
            compound: s.compound,
            pos: s.pos,
            neu: s.neu,
            neg: s.neg,
        }
    }

    fn id(&self) -> &str {
        "vader-parity-3.3.2"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-4
    }

    /// Scores printed by the reference vaderSentiment 3.3.2 (README examples plus emoji, ALL-CAPS,
    /// negation, "but", degree words, punctuation emphasis and raw HTML entities).
    #[test]
    fn matches_reference_on_readme_examples() {
        let fast = VaderScorer::new();
        let reference = ReferenceVader::new();
        let cases: &[(&str, f64, f64, f64, f64)] = &[
            ("VADER is smart, handsome, and funny.", 0.8316, 0.746, 0.254, 0.0),
            ("VADER is smart, handsome, and funny!", 0.8439, 0.752, 0.248, 0.0),
            ("VADER is very smart, handsome, and funny.", 0.8545, 0.701, 0.299, 0.0),
            ("VADER is VERY SMART, handsome, and FUNNY.", 0.9227, 0.754, 0.246, 0.0),
            ("VADER is VERY SMART, handsome, and FUNNY!!!", 0.9342, 0.767, 0.233, 0.0),
            ("VADER is not smart, handsome, nor funny.", -0.7424, 0.0, 0.354, 0.646),
            ("The book was good.", 0.4404, 0.492, 0.508, 0.0),
            ("At least it isn't a horrible book.", 0.431, 0.322, 0.678, 0.0),
            ("The book was only kind of good.", 0.3832, 0.303, 0.697, 0.0),
            (
                "The plot was good, but the characters are uncompelling and the dialog is not great.",
                -0.7042,
                0.094,
                0.579,
                0.327,
            ),
            ("Today SUX!", -0.5461, 0.0, 0.221, 0.779),
            ("Today only kinda sux! But I'll get by, lol", 0.5249, 0.317, 0.556, 0.127),
            ("Make sure you :) or :D today!", 0.8633, 0.706, 0.294, 0.0),
            ("Catch utf-8 emoji such as 💘 and 💋 and 😁", 0.875, 0.417, 0.583, 0.0),
            ("Not bad at all", 0.431, 0.487, 0.513, 0.0),
            ("We were 17 deep &amp; the love was so strong", 0.8313, 0.493, 0.507, 0.0),
            ("I &lt;3 you", 0.0, 0.0, 1.0, 0.0),
            ("Hey Apple -I'm yer biggest fan but photo captions sux.", -0.3818, 0.128, 0.62, 0.252),
            ("This is kind of the BEST, not the worst??? :(", 0.9037, 0.615, 0.385, 0.0),
        ];
        for ((text, compound, pos, neu, neg), v) in cases
            .iter()
            .flat_map(|c| [(c, &fast as &dyn SentimentScorer), (c, &reference)])
        {
            let s = v.score(text);
            assert!(
                close(s.compound, *compound),
                "{text}: compound {}",
                s.compound
            );
            assert!(close(s.pos, *pos), "{text}: pos {}", s.pos);
            assert!(close(s.neu, *neu), "{text}: neu {}", s.neu);
            assert!(close(s.neg, *neg), "{text}: neg {}", s.neg);
        }
    }

    #[test]
    fn empty_and_unscoreable_text_is_neutral() {
        let v = VaderScorer::new();
        for t in ["", "   ", "is?", "12345"] {
            let s = v.score(t);
            assert_eq!(s.compound, 0.0, "{t:?}");
        }
    }
}
