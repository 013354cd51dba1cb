// The property the `classify` fuzz target checks on one input. Shared (through `include!`)
// by the libFuzzer target and by the stable seeded random-input test in
// tests/classify_cli.rs, so both check exactly the same thing.

/// Builds what `check_input` needs once.
pub struct Checker {
    classifier: carepulse::classify::Classifier,
    fast: carepulse::classify::VaderScorer,
    reference: carepulse::classify::ReferenceVader,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    pub fn new() -> Self {
        Checker {
            classifier: carepulse::classify::Classifier::new(&carepulse::classify::Rules::default())
                .expect("embedded model and default rules load"),
            fast: carepulse::classify::VaderScorer::new(),
            reference: carepulse::classify::ReferenceVader::new(),
        }
    }

    /// Markup stripping, entity decoding, tokenisation and full classification never panic
    /// and keep every score in range, whatever the bytes; the fast VADER equals the
    /// reference crate on the stripped text.
    pub fn check_input(&self, data: &[u8]) {
        use carepulse::classify::SentimentScorer;
        let text = String::from_utf8_lossy(data);
        let clean = carepulse::classify::strip_markup(&text);
        assert!(clean.len() <= text.len() * 4 + 16, "stripping grew the text");
        let _ = carepulse::classify::markup::decode_entities(&text);
        let mut tokens = Vec::new();
        carepulse::classify::features::tokenize(&clean.to_lowercase(), &mut tokens);
        assert!(tokens.iter().all(|t| !t.is_empty()), "empty token");
        let c = self.classifier.classify(&text);
        let s = &c.sentiment;
        assert!((-1.0..=1.0).contains(&s.compound), "compound {}", s.compound);
        for (name, v) in [("pos", s.pos), ("neu", s.neu), ("neg", s.neg)] {
            assert!((0.0..=1.0).contains(&v), "{name} {v}");
        }
        assert!((0.0..=1.0).contains(&c.confidence), "confidence {}", c.confidence);
        assert!(
            (0.0..=1.0).contains(&c.complaint_score),
            "complaint_score {}",
            c.complaint_score
        );
        let (a, b) = (self.fast.score(&clean), self.reference.score(&clean));
        assert_eq!(a, b, "fast VADER differs from the reference on {clean:?}");
        assert_eq!(a, c.sentiment, "the classifier scores the stripped text");
    }
}
