//! Fuzz target: markup stripping, entity decoding, tokenisation and full classification must
//! never panic and must keep every score in range, whatever the bytes.
#![no_main]

use std::sync::LazyLock;

use carepulse::classify::features::tokenize;
use carepulse::classify::markup::decode_entities;
use carepulse::classify::{strip_markup, Classifier, Rules};
use libfuzzer_sys::fuzz_target;

static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(|| {
    Classifier::new(&Rules::default()).expect("embedded model and default rules load")
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let clean = strip_markup(&text);
    assert!(clean.len() <= text.len() * 4 + 16);
    let _ = decode_entities(&text);
    let mut tokens = Vec::new();
    tokenize(&clean.to_lowercase(), &mut tokens);
    assert!(tokens.iter().all(|t| !t.is_empty()));
    let c = CLASSIFIER.classify(&text);
    assert!((-1.0..=1.0).contains(&c.sentiment.compound));
    assert!((0.0..=1.0).contains(&c.confidence));
    assert!((0.0..=1.0).contains(&c.complaint_score));
});
