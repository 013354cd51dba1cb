//! Feature extraction for the complaint model: hashed word unigrams and bigrams, hashed
//! character n-grams inside words, and a few dense features (VADER scores and lexical cues).
//! Stateless and allocation-light: the same text always gives the same vector, so training
//! and serving share this code.

use std::sync::LazyLock;

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
}

/// The value of each of `count` features of value 1 once scaled to unit L2 norm, computed as
/// summing their squares in `f32` would (a sum of ones is exact up to 2^24, where it stops
/// growing).
pub fn unit_value(count: usize) -> f32 {
    1.0 / (count.min(1 << 24) as f32).sqrt()
}

/// Receives the features of one text, in order: blocks of binary features scaled to unit
/// norm (word n-grams, then character n-grams), then the non-zero dense features.
pub trait FeatureSink {
    /// Features up to the next `ones_block` have value `unit_value(count)`.
    fn ones_block(&mut self, count: usize);
    /// A feature of the current block.
    fn one(&mut self, i: u32);
    /// A dense feature with its value.
    fn dense(&mut self, i: u32, v: f32);
    /// The unigram feature `bucket` of a token (`hash` is `fnv1a(1, token)`), fed to `one`,
    /// and the token's cue flags, which `flags` computes: always the same for the same
    /// token, so a sink may memoise both per token.
    #[inline]
    fn word(&mut self, token: &str, hash: u64, bucket: u32, flags: impl FnOnce() -> u8) -> u8
    where
        Self: Sized,
    {
        let _ = (token, hash);
        self.one(bucket);
        flags()
    }
    /// The character n-gram features of one token (`hash` is `fnv1a(1, token)`): `grams`
    /// feeds them to `one`, always the same ones for the same token, so a sink may memoise
    /// what they add up to per token instead of running `grams`.
    #[inline]
    fn token_grams(&mut self, token: &str, hash: u64, grams: impl FnOnce(&mut Self))
    where
        Self: Sized,
    {
        let _ = (token, hash);
        grams(self);
    }
}

/// Collects the features into a `FeatureVec` (idx and val in order).
struct VecSink<'a> {
    out: &'a mut FeatureVec,
    unit: f32,
}

impl FeatureSink for VecSink<'_> {
    fn ones_block(&mut self, count: usize) {
        self.unit = unit_value(count);
        self.out.idx.reserve(count);
        self.out.val.reserve(count);
    }
    #[inline]
    fn one(&mut self, i: u32) {
        self.out.idx.push(i);
        self.out.val.push(self.unit);
    }
    fn dense(&mut self, i: u32, v: f32) {
        self.out.idx.push(i);
        self.out.val.push(v);
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

/// Byte classes of the ASCII tokenizer.
const OTHER: u8 = 0;
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const APOSTROPHE: u8 = 3;
const MARK: u8 = 4;

/// The class of each byte: letters, digits, `'` and `` ` `` (an apostrophe inside a word),
/// `?` and `!` (tokens of their own), and everything else (a separator).
static ASCII_CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphabetic() {
            LETTER
        } else if b.is_ascii_digit() {
            DIGIT
        } else if b == b'\'' || b == b'`' {
            APOSTROPHE
        } else if b == b'?' || b == b'!' {
            MARK
        } else {
            OTHER
        };
        i += 1;
    }
    t
};

/// Tokens of one text, stored in one buffer (no allocation per token once warmed up).
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    buf: String,
    spans: Vec<(u32, u32)>,
    /// How many `?` and `!` tokens the text gave: as many as it has `?` and `!` characters.
    qmarks: usize,
    bangs: usize,
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
            let b = self.buf.as_bytes();
            let mut end = b.len();
            while end > start && b[end - 1] == b'\'' {
                end -= 1;
            }
            self.buf.truncate(end);
            if end > start {
                self.spans.push((start as u32, end as u32));
            }
        }
    }

    /// `tokenize`, into this buffer.
    pub fn split(&mut self, lower: &str) {
        if lower.is_ascii() {
            self.split_ascii(lower);
        } else {
            self.split_chars(lower);
        }
    }

    /// How many `?` characters the split text has.
    pub fn question_marks(&self) -> usize {
        self.qmarks
    }

    /// How many `!` characters the split text has.
    pub fn exclamation_marks(&self) -> usize {
        self.bangs
    }

    /// Adds the one-character token `?` or `!` at the end of the buffer.
    fn push_mark(&mut self, mark: char) {
        if mark == '?' {
            self.qmarks += 1;
        } else {
            self.bangs += 1;
        }
        let a = self.buf.len();
        self.buf.push(mark);
        self.spans.push((a as u32, self.buf.len() as u32));
    }

    /// `split_chars` for ASCII text: the same tokens without decoding UTF-8 or asking the
    /// Unicode tables (for ASCII, alphanumeric is ASCII alphanumeric, and the only symbol
    /// tokens are `?` and `!`), one table lookup per byte.
    fn split_ascii(&mut self, lower: &str) {
        let mut buf = std::mem::take(&mut self.buf).into_bytes();
        buf.clear();
        buf.reserve(lower.len());
        self.spans.clear();
        (self.qmarks, self.bangs) = (0, 0);
        // Ends the word begun at `start` (if any), trimming trailing apostrophes.
        #[inline]
        fn close(buf: &mut Vec<u8>, spans: &mut Vec<(u32, u32)>, start: usize) {
            let mut end = buf.len();
            while end > start && buf[end - 1] == b'\'' {
                end -= 1;
            }
            buf.truncate(end);
            if end > start {
                spans.push((start as u32, end as u32));
            }
        }
        let mut start = 0usize;
        for &c in lower.as_bytes() {
            match ASCII_CLASS[usize::from(c)] {
                LETTER => buf.push(c),
                DIGIT => {
                    if !(buf.len() > start && buf.last() == Some(&b'0')) {
                        buf.push(b'0');
                    }
                }
                APOSTROPHE => {
                    if buf.len() > start {
                        buf.push(b'\'');
                    }
                }
                class => {
                    if buf.len() > start {
                        close(&mut buf, &mut self.spans, start);
                    }
                    if class == MARK {
                        if c == b'?' {
                            self.qmarks += 1;
                        } else {
                            self.bangs += 1;
                        }
                        self.spans.push((buf.len() as u32, buf.len() as u32 + 1));
                        buf.push(c);
                    }
                    start = buf.len();
                }
            }
        }
        if buf.len() > start {
            close(&mut buf, &mut self.spans, start);
        }
        // Only ASCII bytes were pushed, so this is valid UTF-8 and never takes the lossy path.
        self.buf = match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
    }

    /// `tokenize`, into this buffer, for any text.
    fn split_chars(&mut self, lower: &str) {
        self.buf.clear();
        self.spans.clear();
        (self.qmarks, self.bangs) = (0, 0);
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
                if ch == '?' || ch == '!' {
                    self.push_mark(ch);
                } else if !ch.is_ascii() && !ch.is_whitespace() {
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
pub const COMPLAINT_CUES: &[&str] = &[
    "broken",
    "broke",
    "breaks",
    "doesn't",
    "didn't",
    "won't",
    "can't",
    "cannot",
    "isn't",
    "wasn't",
    "hasn't",
    "haven't",
    "still",
    "waiting",
    "waited",
    "refund",
    "refunded",
    "charged",
    "overcharged",
    "cancelled",
    "canceled",
    "late",
    "delayed",
    "delay",
    "missing",
    "wrong",
    "never",
    "worst",
    "terrible",
    "awful",
    "disappointed",
    "disappointing",
    "poor",
    "rubbish",
    "useless",
    "issue",
    "issues",
    "problem",
    "problems",
    "error",
    "fail",
    "failed",
    "fails",
    "fix",
    "complaint",
    "complain",
    "unacceptable",
    "ridiculous",
    "joke",
    "lost",
    "damaged",
    "again",
    "nobody",
    "no-one",
    "crap",
    "shocking",
    "appalling",
    "horrible",
    "down",
    "stuck",
    "faulty",
    "apparently",
    "supposed",
    "ignored",
    "ignoring",
    "outage",
    "disgusting",
];

/// Words that signal a breach of expectations.
pub fn is_complaint_cue(w: &str) -> bool {
    COMPLAINT_CUES.contains(&w)
}

/// Words that signal a question or request.
pub const QUESTION_WORDS: &[&str] = &[
    "how",
    "what",
    "when",
    "where",
    "why",
    "who",
    "which",
    "can",
    "could",
    "would",
    "is",
    "are",
    "do",
    "does",
    "did",
    "will",
    "should",
    "any",
    "anyone",
    "please",
    "pls",
    "plz",
    "help",
    "wondering",
];

/// Words that signal a question or request.
pub fn is_question_word(w: &str) -> bool {
    QUESTION_WORDS.contains(&w)
}

/// Words that signal thanks or love.
pub const THANKS_WORDS: &[&str] = &[
    "thank",
    "thanks",
    "thx",
    "ty",
    "cheers",
    "love",
    "loved",
    "loving",
    "awesome",
    "amazing",
    "great",
    "brilliant",
    "kudos",
    "shoutout",
    "appreciate",
    "appreciated",
    "excellent",
    "fantastic",
    "best",
    "perfect",
];

/// Words that signal thanks or love.
pub fn is_thanks_word(w: &str) -> bool {
    THANKS_WORDS.contains(&w)
}

/// Negation words (besides every word ending in `n't`).
const NEGATIONS: &[&str] = &["not", "no", "never", "nothing", "nobody", "none", "cannot"];

#[cfg(test)]
fn is_negation(w: &str) -> bool {
    NEGATIONS.contains(&w) || w.ends_with("n't")
}

const FIRST_PERSON: &[&str] = &["i", "my", "me", "we", "our", "i'm", "i've"];
const SECOND_PERSON: &[&str] = &["you", "your", "you're", "u", "ur"];
/// Thanks and love cues of the category decision (`category::has_thanks_cue`), besides the
/// thanks words starting with "appreciat".
const THANKS_CUES: &[&str] = &[
    "thank", "thanks", "thx", "ty", "kudos", "shoutout", "love", "loved", "❤", "😍", "🙏", "👍",
];

/// Flags of a token in `WordTable`.
const F_COMPLAINT: u8 = 1;
const F_QUESTION: u8 = 2;
const F_THANKS: u8 = 4;
const F_NEGATION: u8 = 8;
const F_FIRST: u8 = 16;
const F_SECOND: u8 = 32;
const F_THANKS_CUE: u8 = 64;
const F_NUMBER: u8 = 128;

/// Every cue word with its flags, in an open-addressing table keyed by the token hash that
/// the word features compute anyway: one probe per token instead of a scan per word list.
struct WordTable {
    slots: Vec<(&'static str, u8)>,
    mask: usize,
}

impl WordTable {
    fn build() -> Self {
        let mut entries: Vec<(&'static str, u8)> = Vec::new();
        let lists: [(&[&'static str], u8); 7] = [
            (COMPLAINT_CUES, F_COMPLAINT),
            (QUESTION_WORDS, F_QUESTION),
            (THANKS_WORDS, F_THANKS),
            (NEGATIONS, F_NEGATION),
            (FIRST_PERSON, F_FIRST),
            (SECOND_PERSON, F_SECOND),
            (THANKS_CUES, F_THANKS_CUE),
        ];
        for (list, flag) in lists {
            for &w in list {
                entries.push((w, flag));
            }
        }
        for &w in THANKS_WORDS {
            if w.starts_with("appreciat") {
                entries.push((w, F_THANKS_CUE));
            }
        }
        entries.push(("0", F_NUMBER));
        let size = (entries.len() * 4).next_power_of_two();
        let mut t = WordTable {
            slots: vec![("", 0); size],
            mask: size - 1,
        };
        for (w, f) in entries {
            let mut i = t.slot(fnv1a(1, w.as_bytes()));
            loop {
                let e = &mut t.slots[i];
                if e.0.is_empty() || e.0 == w {
                    *e = (w, e.1 | f);
                    break;
                }
                i = (i + 1) & t.mask;
            }
        }
        t
    }

    fn slot(&self, h: u64) -> usize {
        (h >> 40) as usize & self.mask
    }

    /// Flags of token `t` whose `fnv1a(1, ..)` hash is `h`.
    #[inline]
    fn flags(&self, h: u64, t: &str) -> u8 {
        let mut i = self.slot(h);
        loop {
            let (w, f) = self.slots[i];
            if w.is_empty() {
                return 0;
            }
            if w == t {
                return f;
            }
            i = (i + 1) & self.mask;
        }
    }
}

static WORD_TABLE: LazyLock<WordTable> = LazyLock::new(WordTable::build);

/// Reusable buffers for `extract`, so serving allocates little per text.
#[derive(Default)]
pub struct Scratch {
    lower: String,
    tokens: Tokens,
    /// `fnv1a(1, token)` of each token.
    hashes: Vec<u64>,
    word: Vec<u8>,
    thanks_cue: bool,
}

impl Scratch {
    /// The tokens of the text last passed to `extract`.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The text last passed to `extract`, lower-cased (`str::to_lowercase`).
    pub fn lower(&self) -> &str {
        &self.lower
    }

    /// Whether the text last passed to `extract` has a thanks or love cue: the value of
    /// `category::has_thanks_cue` on its tokens.
    pub fn thanks_cue(&self) -> bool {
        self.thanks_cue
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

/// Whether a whitespace-separated word of more than two bytes is all ASCII capitals.
fn has_caps_word(clean: &str) -> bool {
    if !clean.is_ascii() {
        return clean
            .split_whitespace()
            .any(|w| w.len() > 2 && w.chars().all(|c| c.is_ascii_uppercase()));
    }
    // ASCII: the whitespace of `split_whitespace` is \t, \n, \x0B, \x0C, \r and space.
    let (mut len, mut upper) = (0usize, true);
    for &b in clean.as_bytes() {
        if matches!(b, b'\t'..=b'\r' | b' ') {
            if len > 2 && upper {
                return true;
            }
            (len, upper) = (0, true);
        } else {
            len += 1;
            upper &= b.is_ascii_uppercase();
        }
    }
    len > 2 && upper
}

/// Byte cues of the raw text, counted word by word (`bytescan`): `@` count, and whether it has a `/` or a `.` (the URL searches run
/// only then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct RawCues {
    mentions: usize,
    slash: bool,
    dot: bool,
}

impl RawCues {
    fn of(raw: &str) -> Self {
        let [at, slash, dot] = super::bytescan::count_bytes(raw.as_bytes(), [b'@', b'/', b'.']);
        RawCues {
            mentions: at,
            slash: slash > 0,
            dot: dot > 0,
        }
    }
}

/// Cues of the clean text: whether it has a `?`, how many `!` (counted by the tokenizer),
/// and `has_caps_word`
/// (scanned for only when three ASCII capitals stand in a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct CleanCues {
    qmark: bool,
    bangs: usize,
    caps: bool,
}

impl CleanCues {
    /// The cues of `clean`, whose lower-cased tokens are `tokens` (they count the `?` and `!`:
    /// lower-casing neither makes nor removes one).
    fn of(clean: &str, tokens: &Tokens) -> Self {
        let b = clean.as_bytes();
        CleanCues {
            qmark: tokens.question_marks() > 0,
            bangs: tokens.exclamation_marks(),
            // A word of three or more ASCII capitals holds three capitals in a row: texts
            // without (most) skip the word scan.
            caps: super::bytescan::has_three_capitals(b) && has_caps_word(clean),
        }
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
    let mut sink = VecSink { out, unit: 0.0 };
    extract_into(cfg, raw, clean, s, scratch, &mut sink);
}

/// `extract`, feeding the features to `sink` in order instead of collecting them.
pub fn extract_into(
    cfg: &FeatureConfig,
    raw: &str,
    clean: &str,
    s: &Sentiment,
    scratch: &mut Scratch,
    out: &mut impl FeatureSink,
) {
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

    // Word unigrams and bigrams, and the cue words (looked up by the unigram hash).
    let table = &*WORD_TABLE;
    let mut complaint_cues = 0u32;
    let mut question_words = 0u32;
    let mut thanks = 0u32;
    let mut any_flags = 0u8;
    let n_tokens = tokens.len();
    out.ones_block(if cfg.word_bigrams && n_tokens > 0 {
        2 * n_tokens + 1
    } else {
        n_tokens
    });
    let mut prev = fnv1a(2, b"<s>");
    scratch.hashes.clear();
    for (i, t) in tokens.iter().enumerate() {
        let h = fnv1a(1, t.as_bytes());
        scratch.hashes.push(h);
        let f = out.word(t, h, bucket(h), || {
            let f = table.flags(h, t);
            if t.ends_with("n't") {
                f | F_NEGATION
            } else {
                f
            }
        });
        if cfg.word_bigrams {
            out.one(bucket(mix(prev, h)));
        }
        prev = h;
        complaint_cues += u32::from(f & F_COMPLAINT != 0);
        let q = u32::from(f & F_QUESTION != 0);
        question_words += if i == 0 { 2 * q } else { q };
        thanks += u32::from(f & F_THANKS != 0);
        any_flags |= f;
    }
    scratch.thanks_cue = any_flags & F_THANKS_CUE != 0;
    let negation = any_flags & F_NEGATION != 0;
    let first_person = any_flags & F_FIRST != 0;
    let second_person = any_flags & F_SECOND != 0;
    let number = any_flags & F_NUMBER != 0;
    if cfg.word_bigrams && !tokens.is_empty() {
        out.one(bucket(mix(prev, fnv1a(2, b"</s>"))));
    }

    // Character n-grams inside padded words.
    if cfg.char_min > 0 && cfg.char_max >= cfg.char_min {
        let (lo, hi) = (usize::from(cfg.char_min), usize::from(cfg.char_max));
        let count: usize = tokens
            .iter()
            .map(|t| {
                let len = t.len() + 2;
                (lo..=hi.min(len)).map(|n| len - n + 1).sum::<usize>()
            })
            .sum();
        out.ones_block(count);
        let word = &mut scratch.word;
        for (t, &h) in tokens.iter().zip(&scratch.hashes) {
            out.token_grams(t, h, |out| {
                word.clear();
                word.push(b' ');
                word.extend_from_slice(t.as_bytes());
                word.push(b' ');
                for n in lo..=hi {
                    if word.len() < n {
                        break;
                    }
                    for gram in word.windows(n) {
                        out.one(bucket(fnv1a(3 + n as u8, gram)));
                    }
                }
            });
        }
    }

    // Dense features.
    let rc = RawCues::of(raw);
    let raw_mentions = rc.mentions.min(3) as f32 / 3.0;
    // The substring searches run only for texts with a '/' or a '.'.
    let has_url = (rc.slash && (raw.contains("http://") || raw.contains("https://")))
        || (rc.dot && raw.contains("www."));
    let cc = CleanCues::of(clean, tokens);
    let caps = cc.caps;
    let dense: [(u32, f32); 20] = [
        (1, s.compound as f32),
        (2, s.pos as f32),
        (3, s.neg as f32),
        (4, f32::from(u8::from(s.compound <= -0.05))),
        (5, f32::from(u8::from(s.compound >= 0.05))),
        (6, f32::from(u8::from(cc.qmark))),
        (7, cc.bangs.min(3) as f32 / 3.0),
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
            out.dense(i, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::corpus::shared_text;

    #[test]
    fn tokenizer_splits_words_numbers_and_symbols() {
        let mut v = Vec::new();
        tokenize("my order #123 hasn’t arrived?! 😡 'quoted'", &mut v);
        assert_eq!(
            v,
            vec!["my", "order", "0", "hasn't", "arrived", "?", "!", "😡", "quoted"]
        );
    }

    /// The ASCII tokenizer gives the tokens of the general one on every ASCII text of the
    /// corpora and on edge cases (digit runs, apostrophes, backquotes, symbols).
    #[test]
    fn ascii_split_equals_char_split() {
        let mut texts: Vec<String> = [
            "",
            "'",
            "''a''",
            "a'b'' c`d` `e",
            "12ab34 0 00x0 a1b2c3 1'2 '9",
            "what?! no!! ?x! #123 @a_b-c",
            "MiXeD Case? ABC`s 9`9 x``y a''b",
            "don't won`t it's'' ''tis",
            "\t\x0b\x00\x7f~ a",
        ]
        .map(String::from)
        .to_vec();
        for f in ["vader/tweets_GroundTruth.txt", "complaints-dev.csv"] {
            if let Some(all) = shared_text(f) {
                let before = texts.len();
                texts.extend(all.lines().map(str::to_lowercase).filter(|l| l.is_ascii()));
                assert!(texts.len() > before, "{f} gave no ASCII lines");
            }
        }
        let (mut a, mut b) = (Tokens::default(), Tokens::default());
        for t in &texts {
            a.split_ascii(t);
            b.split_chars(t);
            assert!(a.iter().eq(b.iter()), "{t:?}");
            let marks = (t.matches('?').count(), t.matches('!').count());
            assert_eq!((a.question_marks(), a.exclamation_marks()), marks, "{t:?}");
            assert_eq!((b.question_marks(), b.exclamation_marks()), marks, "{t:?}");
        }
    }

    #[test]
    fn caps_scan_equals_split_whitespace() {
        let slow = |t: &str| {
            t.split_whitespace()
                .any(|w| w.len() > 2 && w.chars().all(|c| c.is_ascii_uppercase()))
        };
        for t in [
            "",
            "ABC",
            "AB",
            "AB C",
            "x ABC",
            "ABC\x0bx",
            "x\x0bABC",
            "ABc DEF",
            "A1C",
            "ÉTÉ ABC",
            "ÀBC",
            "OK\u{a0}NOW",
            "ok\u{a0}NOW",
            "  WHY  ",
            "\tYES\r\n",
        ] {
            assert_eq!(has_caps_word(t), slow(t), "{t:?}");
        }
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

    /// The flags of the word table are the word-list predicates, token by token, on every
    /// token of the VADER tweets and of complaints-dev.csv plus the list words themselves.
    #[test]
    fn word_table_flags_equal_the_word_lists() {
        let mut words: Vec<String> = [
            COMPLAINT_CUES,
            QUESTION_WORDS,
            THANKS_WORDS,
            NEGATIONS,
            FIRST_PERSON,
            SECOND_PERSON,
            THANKS_CUES,
        ]
        .iter()
        .flat_map(|l| l.iter().map(|w| w.to_string()))
        .collect();
        words.extend(["0", "", "'", "don't", "n't", "appreciation", "thanksss"].map(String::from));
        for f in ["vader/tweets_GroundTruth.txt", "complaints-dev.csv"] {
            if let Some(all) = shared_text(f) {
                let mut t = Tokens::default();
                let mut lower = String::new();
                lowercase_into(&all, &mut lower);
                t.split(&lower);
                words.extend(t.iter().map(String::from));
            }
        }
        let table = WordTable::build();
        for w in &words {
            let f = table.flags(fnv1a(1, w.as_bytes()), w);
            let old = [
                (is_complaint_cue(w), F_COMPLAINT),
                (is_question_word(w), F_QUESTION),
                (is_thanks_word(w), F_THANKS),
                (NEGATIONS.contains(&w.as_str()), F_NEGATION),
                (
                    matches!(
                        w.as_str(),
                        "i" | "my" | "me" | "we" | "our" | "i'm" | "i've"
                    ),
                    F_FIRST,
                ),
                (
                    matches!(w.as_str(), "you" | "your" | "you're" | "u" | "ur"),
                    F_SECOND,
                ),
                (
                    crate::classify::category::has_thanks_cue(std::iter::once(w.as_str())),
                    F_THANKS_CUE,
                ),
                (w == "0", F_NUMBER),
            ];
            for (want, flag) in old {
                assert_eq!(f & flag != 0, want, "{w:?} flag {flag}");
            }
            let neg = f & F_NEGATION != 0 || w.ends_with("n't");
            assert_eq!(neg, is_negation(w), "{w:?}");
        }
    }

    /// The one-pass cues equal the searches they replace, on the corpora and edge cases.
    #[test]
    fn one_pass_cues_equal_the_searches() {
        let mut texts: Vec<String> = [
            "",
            "ABC",
            "AB",
            "x ABC!",
            "ÉTÉ ABC?",
            "ok\u{a0}NOW",
            "@a @b/c.d",
            "?!?!!",
            "A\tBCD\r",
            "é",
            "WHY?",
            "WHY ?",
            "ÀBC",
        ]
        .map(String::from)
        .to_vec();
        if let Some(all) = shared_text("vader/tweets_GroundTruth.txt") {
            texts.extend(all.lines().map(String::from));
        }
        for t in &texts {
            let r = RawCues::of(t);
            assert_eq!(r.mentions, t.matches('@').count(), "{t:?}");
            assert_eq!(
                (r.slash, r.dot),
                (t.contains('/'), t.contains('.')),
                "{t:?}"
            );
            let mut tokens = Tokens::default();
            tokens.split(&t.to_lowercase());
            let c = CleanCues::of(t, &tokens);
            let want = CleanCues {
                qmark: t.contains('?'),
                bangs: t.matches('!').count(),
                caps: has_caps_word(t),
            };
            assert_eq!(c, want, "{t:?}");
        }
    }
}
