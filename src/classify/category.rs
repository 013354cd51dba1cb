//! The category decision on top of the complaint model: complaint when the model says so,
//! else inquiry on question and request cues, else praise on positive sentiment or thanks
//! and love cues, else other. Each label gets a confidence in [0, 1].

use std::sync::LazyLock;

use regex::Regex;

use super::features::is_thanks_word;
use crate::model::{Category, Sentiment};

static REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)\b(?:can\s+(?:you|u|i|we|someone|anyone)|could\s+(?:you|u|i|we|someone)|would\s+you|will\s+you|please\s+(?:help|advise|let|tell|send|check|dm|contact|confirm)|help\s+me|how\s+(?:do|can|to|long|much|many|come)|is\s+(?:there|it|this)|are\s+(?:there|you|they)|do\s+(?:you|i|we)|does\s+(?:it|anyone|this)|any\s+(?:idea|news|update|way|chance)|i\s+need|need\s+help|let\s+me\s+know|wondering|where\s+(?:is|can|do)|when\s+(?:is|will|do|does|can)|what\s+(?:is|are|time|do|does|happened)|who\s+(?:do|can|is)|why\s+(?:is|are|do|does|can't|cant)|dm\s+me|info\s+(?:on|about))\b",
    )
    .expect("request pattern is a valid regex literal")
});

/// Strength of question/request cues in `[0, 1]`: 0 none, 1 a question mark plus a request
/// phrase.
pub fn inquiry_strength(clean: &str) -> f64 {
    let qmark = clean.contains('?');
    let request = REQUEST.is_match(clean);
    match (qmark, request) {
        (true, true) => 1.0,
        (true, false) => 0.75,
        (false, true) => 0.6,
        (false, false) => 0.0,
    }
}

/// Whether the text thanks or declares love (a praise cue independent of VADER).
pub fn has_thanks_cue<'a>(mut lower_tokens: impl Iterator<Item = &'a str>) -> bool {
    lower_tokens.any(|t| {
        matches!(
            t,
            "thank"
                | "thanks"
                | "thx"
                | "ty"
                | "kudos"
                | "shoutout"
                | "love"
                | "loved"
                | "❤"
                | "😍"
                | "🙏"
                | "👍"
        ) || (is_thanks_word(t) && t.starts_with("appreciat"))
    })
}

/// Decides the category and its confidence from the complaint probability, the complaint
/// threshold, cue strengths and sentiment.
pub fn decide(
    p_complaint: f64,
    threshold: f64,
    inquiry: f64,
    thanks: bool,
    s: &Sentiment,
) -> (Category, f64) {
    if p_complaint >= threshold {
        // Map [threshold, 1] onto [0.5, 1] so a complaint is never less than even odds.
        let c = 0.5 + 0.5 * (p_complaint - threshold) / (1.0 - threshold).max(1e-9);
        return (Category::Complaint, c.clamp(0.5, 1.0));
    }
    // Certainty that it is not a complaint, in [0.5, 1].
    let not_complaint = 0.5 + 0.5 * (threshold - p_complaint) / threshold.max(1e-9);
    if inquiry > 0.0 {
        return (Category::Inquiry, (not_complaint * inquiry).clamp(0.0, 1.0));
    }
    if s.compound >= 0.05 || thanks {
        let strength = if thanks {
            0.8_f64.max(s.compound)
        } else {
            0.5 + 0.5 * s.compound
        };
        return (Category::Praise, (not_complaint * strength).clamp(0.0, 1.0));
    }
    let neutrality = 1.0 - s.compound.abs().min(1.0) * 0.5;
    (
        Category::Other,
        (not_complaint * neutrality).clamp(0.0, 1.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inquiry_cues() {
        assert_eq!(inquiry_strength("how do I reset my password?"), 1.0);
        assert_eq!(inquiry_strength("open on sunday?"), 0.75);
        assert_eq!(inquiry_strength("please help me with my account"), 0.6);
        assert_eq!(inquiry_strength("nice weather today"), 0.0);
    }

    #[test]
    fn decision_order_and_confidence_bounds() {
        let pos = Sentiment {
            compound: 0.6,
            pos: 0.5,
            neu: 0.5,
            neg: 0.0,
        };
        let neu = Sentiment::default();
        assert_eq!(decide(0.9, 0.5, 1.0, true, &pos).0, Category::Complaint);
        assert_eq!(decide(0.1, 0.5, 0.6, true, &pos).0, Category::Inquiry);
        assert_eq!(decide(0.1, 0.5, 0.0, false, &pos).0, Category::Praise);
        assert_eq!(decide(0.1, 0.5, 0.0, true, &neu).0, Category::Praise);
        assert_eq!(decide(0.1, 0.5, 0.0, false, &neu).0, Category::Other);
        for p in [0.0, 0.2, 0.49, 0.5, 0.7, 1.0] {
            for t in [0.3, 0.5, 0.8] {
                let (_, c) = decide(p, t, 0.75, false, &neu);
                assert!((0.0..=1.0).contains(&c));
            }
        }
        let (_, strong) = decide(0.99, 0.5, 0.0, false, &neu);
        let (_, weak) = decide(0.55, 0.5, 0.0, false, &neu);
        assert!(strong > weak);
    }
}
