//! Feature extraction for the complaint model: hashed word unigrams and bigrams, hashed
//! character n-grams inside words, and a few dense features (VADER scores and lexical cues).
//! Stateless and allocation-light: the same text always gives the same vector, so training
//! and serving share this code.

use crate::model::Sentiment;

/// Indices below this are dense features; hashed features land in `[DENSE, 2^hash_bits)`.
pub const DENSE: u32 = 32;

/// Shape of the feature space; stored in the model file so serving matches training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureConfig {
    /// Number of hash buckets is `2^hash_bits` (10..=24).
    pub hash_bits: u8,
    /// Character n-gram lengths, inclusive (0 disables).
    pub char_min: u8,
    pub char_max: u8,
    /// Word bigrams on or off.
    pub word_bigrams: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            hash_bits: 18,
            char_min: 2,
            char_max: 5,
            word_bigrams: true,
        }
    }
}

impl FeatureConfig {
    pub fn dims(&self) -> usize {
        1usize << self.hash_bits
    }
}

/// A sparse feature vector (indices may repeat; values add up).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureVec {
    pub idx: Vec<u32>,
    pub val: Vec<f32>,
}

impl FeatureVec {
    fn clear(&mut self) {
        self.idx.clear();
        self.val.clear();
    }
    fn push(&mut self, i: u32, v: f32) {
        self.idx.push(i);
        self.val.push(v);
    }
    /// Gives the entries from `start` on (all pushed with value 1) their unit-L2-norm value:
    /// the same values `normalize_from` computes, without summing the squares one by one.
    fn normalize_ones_from(&mut self, start: usize) {
        let count = self.val.len() - start;
        // A sum of up to 2^24 ones is exact in f32, so its square root is the norm.
        if count == 0 || count > 1 << 24 {
            return self.normalize_from(start);
        }
        let n = (count as f32).sqrt();
        let v = 1.0 / n;
        self.val[start..].fill(v);
    }
    /// Scales the entries from `start` on to unit L2 norm.
    fn normalize_from(&mut self, start: usize) {
        let n: f32 = self.val[start..].iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 0.0 {
            for v in &mut self.val[start..] {
                *v /= n;
            }
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over bytes, seeded with a namespace byte. Stable across platforms and releases.
pub fn fnv1a(ns: u8, bytes: &[u8]) -> u64 {
    let mut h = (FNV_OFFSET ^ u64::from(ns)).wrapping_mul(FNV_PRIME);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn mix(a: u64, b: u64) -> u64 {
    let mut h = a ^ b.rotate_left(31).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= h >> 29;
    h.wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Splits lower-cased text into word tokens (letters, digits, apostrophes; digit runs become
/// `0`) and single-character tokens for `?`, `!` and any other non-ASCII symbol (emoji).
pub fn tokenize(lower: &str, out: &mut Vec<String>) {
    let mut t = Tokens::default();
    t.split(lower);
    out.clear();
    out.extend(t.iter().map(str::to_string));
}

/// Tokens of one text, stored in one buffer (no allocation per token once warmed up).
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    buf: String,
    spans: Vec<(u32, u32)>,
}

impl Tokens {
    /// The tokens, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.spans
            .iter()
            .map(|&(a, b)| &self.buf[a as usize..b as usize])
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Ends the current word (if any) at the end of the buffer, trimming trailing
    /// apostrophes.
    fn close_word(&mut self, start: usize) {
        if self.buf.len() > start {
            let end = start + self.buf[start..].trim_end_matches('\'').len();
            self.buf.truncate(end);
            if end > start {
                self.spans.push((start as u32, end as u32));
            }
        }
    }

    /// `tokenize`, into this buffer.
    pub fn split(&mut self, lower: &str) {
        self.buf.clear();
        self.spans.clear();
        let mut start = 0usize;
        for ch in lower.chars() {
            let ch = if ch == '’' || ch == '`' { '\'' } else { ch };
            let in_word = self.buf.len() > start;
            if ch.is_alphanumeric() || (ch == '\'' && in_word) {
                if ch.is_ascii_digit() {
                    if !self.buf[start..].ends_with('0') {
                        self.buf.push('0');
                    }
                } else {
                    self.buf.push(ch);
                }
            } else {
                self.close_word(start);
                if ch == '?' || ch == '!' || (!ch.is_ascii() && !ch.is_whitespace()) {
                    let a = self.buf.len();
                    self.buf.push(ch);
                    self.spans.push((a as u32, self.buf.len() as u32));
                }
                start = self.buf.len();
            }
        }
        self.close_word(start);
    }
}

/// Words that signal a breach of expectations.
pub fn is_complaint_cue(w: &str) -> bool {
    matches!(
        w,
        "broken"
            | "broke"
            | "breaks"
            | "doesn't"
            | "didn't"
            | "won't"
            | "can't"
            | "cannot"
            | "isn't"
            | "wasn't"
            | "hasn't"
            | "haven't"
            | "still"
            | "waiting"
            | "waited"
            | "refund"
            | "refunded"
            | "charged"
            | "overcharged"
            | "cancelled"
            | "canceled"
            | "late"
            | "delayed"
            | "delay"
            | "missing"
            | "wrong"
            | "never"
            | "worst"
            | "terrible"
            | "awful"
            | "disappointed"
            | "disappointing"
            | "poor"
            | "rubbish"
            | "useless"
            | "issue"
            | "issues"
            | "problem"
            | "problems"
            | "error"
            | "fail"
            | "failed"
            | "fails"
            | "fix"
            | "complaint"
            | "complain"
            | "unacceptable"
            | "ridiculous"
            | "joke"
            | "lost"
            | "damaged"
            | "again"
            | "nobody"
            | "no-one"
            | "crap"
            | "shocking"
            | "appalling"
            | "horrible"
            | "down"
            | "stuck"
            | "faulty"
            | "apparently"
            | "supposed"
            | "ignored"
            | "ignoring"
            | "outage"
            | "disgusting"
    )
}

/// Words that signal a question or request.
pub fn is_question_word(w: &str) -> bool {
    matches!(
        w,
        "how"
            | "what"
            | "when"
            | "where"
            | "why"
            | "who"
            | "which"
            | "can"
            | "could"
            | "would"
            | "is"
            | "are"
            | "do"
            | "does"
            | "did"
            | "will"
            | "should"
            | "any"
            | "anyone"
            | "please"
            | "pls"
            | "plz"
            | "help"
            | "wondering"
    )
}

/// Words that signal thanks or love.
pub fn is_thanks_word(w: &str) -> bool {
    matches!(
        w,
        "thank"
            | "thanks"
            | "thx"
            | "ty"
            | "cheers"
            | "love"
            | "loved"
            | "loving"
            | "awesome"
            | "amazing"
            | "great"
            | "brilliant"
            | "kudos"
            | "shoutout"
            | "appreciate"
            | "appreciated"
            | "excellent"
            | "fantastic"
            | "best"
            | "perfect"
    )
}

fn is_negation(w: &str) -> bool {
    matches!(
        w,
        "not" | "no" | "never" | "nothing" | "nobody" | "none" | "cannot"
    ) || w.ends_with("n't")
}

/// Reusable buffers for `extract`, so serving allocates little per text.
#[derive(Default)]
pub struct Scratch {
    lower: String,
    tokens: Tokens,
    word: Vec<u8>,
}

impl Scratch {
    /// The tokens of the text last passed to `extract`.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }
}

/// Lower-cases like `str::to_lowercase`, without allocating.
fn lowercase_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        out.extend(s.chars().flat_map(char::to_lowercase));
    }
}

/// Builds the feature vector of one message. `raw` is the text as received (for counts of
/// @handles and links), `clean` the stripped text, `s` its sentiment.
pub fn extract(
    cfg: &FeatureConfig,
    raw: &str,
    clean: &str,
    s: &Sentiment,
    scratch: &mut Scratch,
    out: &mut FeatureVec,
) {
    out.clear();
    let mask = (1u64 << cfg.hash_bits) - 1;
    let span = mask + 1 - u64::from(DENSE);
    // `(h & mask) % span` without a division: `h & mask < 2 * span` once there are more
    // than 64 buckets.
    let bucket = |h: u64| -> u32 {
        let x = h & mask;
        let r = if mask >= 64 {
            if x >= span {
                x - span
            } else {
                x
            }
        } else {
            x % span
        };
        (u64::from(DENSE) + r) as u32
    };

    lowercase_into(clean, &mut scratch.lower);
    scratch.tokens.split(&scratch.lower);
    let tokens = &scratch.tokens;

    // Word unigrams and bigrams.
    let start = out.idx.len();
    let mut prev = fnv1a(2, b"<s>");
    for t in tokens.iter() {
        let h = fnv1a(1, t.as_bytes());
        out.push(bucket(h), 1.0);
        if cfg.word_bigrams {
            out.push(bucket(mix(prev, h)), 1.0);
        }
        prev = h;
    }
    if cfg.word_bigrams && !tokens.is_empty() {
        out.push(bucket(mix(prev, fnv1a(2, b"</s>"))), 1.0);
    }
    out.normalize_ones_from(start);

    // Character n-grams inside padded words.
    if cfg.char_min > 0 && cfg.char_max >= cfg.char_min {
        let start = out.idx.len();
        for t in tokens.iter() {
            scratch.word.clear();
            scratch.word.push(b' ');
            scratch.word.extend_from_slice(t.as_bytes());
            scratch.word.push(b' ');
            let w = &scratch.word;
            for n in usize::from(cfg.char_min)..=usize::from(cfg.char_max) {
                if w.len() < n {
                    break;
                }
                for gram in w.windows(n) {
                    out.push(bucket(fnv1a(3 + n as u8, gram)), 1.0);
                }
            }
        }
        out.normalize_ones_from(start);
    }

    // Dense features.
    let mut complaint_cues = 0u32;
    let mut question_words = 0u32;
    let mut thanks = 0u32;
    let mut negation = false;
    let mut first_person = false;
    let mut second_person = false;
    let mut number = false;
    for (i, t) in tokens.iter().enumerate() {
        complaint_cues += u32::from(is_complaint_cue(t));
        if i == 0 && is_question_word(t) {
            question_words += 2;
        } else {
            question_words += u32::from(is_question_word(t));
        }
        thanks += u32::from(is_thanks_word(t));
        negation |= is_negation(t);
        first_person |= matches!(t, "i" | "my" | "me" | "we" | "our" | "i'm" | "i've");
        second_person |= matches!(t, "you" | "your" | "you're" | "u" | "ur");
        number |= t == "0";
    }
    let raw_mentions = raw.matches('@').count().min(3) as f32 / 3.0;
    let has_url = raw.contains("http://") || raw.contains("https://") || raw.contains("www.");
    let caps = clean
        .split_whitespace()
        .any(|w| w.len() > 2 && w.chars().all(|c| c.is_ascii_uppercase()));
    let dense: [(u32, f32); 20] = [
        (1, s.compound as f32),
        (2, s.pos as f32),
        (3, s.neg as f32),
        (4, f32::from(u8::from(s.compound <= -0.05))),
        (5, f32::from(u8::from(s.compound >= 0.05))),
        (6, f32::from(u8::from(clean.contains('?')))),
        (7, clean.matches('!').count().min(3) as f32 / 3.0),
        (8, f32::from(u8::from(negation))),
        (9, complaint_cues.min(3) as f32 / 3.0),
        (10, question_words.min(3) as f32 / 3.0),
        (11, thanks.min(2) as f32 / 2.0),
        (12, raw_mentions),
        (13, f32::from(u8::from(has_url))),
        (14, ((tokens.len() + 1) as f32).ln() / 4.0),
        (15, f32::from(u8::from(caps))),
        (16, f32::from(u8::from(first_person))),
        (17, f32::from(u8::from(second_person))),
        (18, f32::from(u8::from(number))),
        (19, f32::from(u8::from(tokens.is_empty()))),
        (20, f32::from(u8::from(complaint_cues > 0 && negation))),
    ];
    for (i, v) in dense {
        if v != 0.0 {
            out.push(i, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_splits_words_numbers_and_symbols() {
        let mut v = Vec::new();
        tokenize("my order #123 hasn’t arrived?! 😡 'quoted'", &mut v);
        assert_eq!(
            v,
            vec!["my", "order", "0", "hasn't", "arrived", "?", "!", "😡", "quoted"]
        );
    }

    #[test]
    fn extraction_is_deterministic_and_in_range() {
        let cfg = FeatureConfig::default();
        let s = Sentiment::default();
        let mut sc = Scratch::default();
        let (mut a, mut b) = (FeatureVec::default(), FeatureVec::default());
        extract(
            &cfg,
            "@x my order is late",
            "my order is late",
            &s,
            &mut sc,
            &mut a,
        );
        extract(
            &cfg,
            "@x my order is late",
            "my order is late",
            &s,
            &mut sc,
            &mut b,
        );
        assert_eq!(a, b);
        assert!(a.idx.iter().all(|&i| (i as usize) < cfg.dims()));
        assert!(a.idx.len() > 20);
        let mut e = FeatureVec::default();
        extract(&cfg, "", "", &s, &mut sc, &mut e);
        assert_eq!(e.idx, vec![19]);
    }
}
