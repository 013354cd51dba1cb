//! A fast VADER (vaderSentiment 3.3.2) scorer with the reference's exact output. The lexicon,
//! booster, idiom and emoji tables (vendored byte-identical in `vader_data/`) are parsed once
//! into one hash table keyed by the lower-cased token, so each token costs one lookup that
//! answers every question the rules ask (valence, booster, negation, special words, idiom
//! part). Per-text buffers are reused per thread: scoring allocates nothing in the common
//! case.
//!
//! Exactness: the rules are transcribed from the reference, including its quirks (Python's
//! `list.index` in the "but" rule, int/float provenance in `sum`, CPython's `round`). Python's
//! `str.lower()`/`str.isupper()` are computed here only for ASCII and for a whitelist of
//! non-ASCII code points that are uncased in every Unicode version (punctuation, symbols,
//! emoji); any other character, and very long texts containing "but", are scored by the
//! `vader-parity` crate instead, so the result is exact by construction there too. Parity with
//! `vader-parity` is tested on the 4,200 human-rated tweets and on random word soups.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use vader_parity::SentimentIntensityAnalyzer;

use crate::model::Sentiment;

const VADER_LEXICON: &str = include_str!("vader_data/vader_lexicon.txt");
const EMOJI_LEXICON: &str = include_str!("vader_data/emoji_utf8_lexicon.txt");
const RULES_TABLES: &str = include_str!("vader_data/rules_tables.tsv");

const C_INCR: f64 = 0.733;
const N_SCALAR: f64 = -0.74;
const EP_STEP: f64 = 0.292;
const QM_STEP: f64 = 0.18;
const QM_CAP: f64 = 0.96;
const ALPHA: f64 = 15.0;
const BUT_BEFORE: f64 = 0.5;
const BUT_AFTER: f64 = 1.5;
const DAMP_2: f64 = 0.95;
const DAMP_3: f64 = 0.9;
const NEVER_SCALAR: f64 = 1.25;

/// Texts with more tokens than this that contain "but" go to the reference implementation
/// (the reference's "but" rule is quadratic in the number of tokens).
const LONG_BUT_TOKENS: usize = 2048;

const NEGATE: [&str; 59] = [
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// Words the rules test by name.
mod kw {
    pub const NO: u8 = 1;
    pub const KIND: u8 = 2;
    pub const OF: u8 = 3;
    pub const BUT: u8 = 4;
    pub const LEAST: u8 = 5;
    pub const AT: u8 = 6;
    pub const VERY: u8 = 7;
    pub const SO: u8 = 8;
    pub const THIS: u8 = 9;
    pub const NEVER: u8 = 10;
    pub const WITHOUT: u8 = 11;
    pub const DOUBT: u8 = 12;
    pub const OR: u8 = 13;
    pub const NOR: u8 = 14;
    pub const ALL: [(&str, u8); 14] = [
        ("no", NO),
        ("kind", KIND),
        ("of", OF),
        ("but", BUT),
        ("least", LEAST),
        ("at", AT),
        ("very", VERY),
        ("so", SO),
        ("this", THIS),
        ("never", NEVER),
        ("without", WITHOUT),
        ("doubt", DOUBT),
        ("or", OR),
        ("nor", NOR),
    ];
}

const HAS_VAL: u8 = 1;
const HAS_BOOST: u8 = 2;
const NEGATED: u8 = 4;
const IDIOM: u8 = 8;

/// Everything the rules need to know about one lower-cased token.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Word {
    valence: f64,
    boost: f64,
    flags: u8,
    kw: u8,
}

/// FxHash-style hasher: fast on short keys, good enough spread for a fixed table.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(a)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut a = [0u8; 8];
            a[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(a)).wrapping_mul(K);
        }
        self.0 = h;
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(K);
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(K);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<Key, V> = HashMap<Key, V, BuildHasherDefault<FastHasher>>;

/// Longest key `InlineWords` stores.
const INLINE_KEY: usize = 16;

/// One entry of `InlineWords`: the key zero-padded to 16 bytes, its length and its `Word`.
#[derive(Debug, Clone, Copy, Default)]
struct InlineEntry {
    key: [u64; 2],
    word: Word,
    len: u8,
}

/// The words of `FastVader::words` whose keys have 1 to `INLINE_KEY` bytes (nearly all), in
/// an open-addressing table that keeps each key and its `Word` inside one entry: a lookup
/// hashes and compares two machine words and reads one entry, where the map chases each
/// key's heap allocation. The probed array holds, per slot, a one-byte tag from the key's
/// hash (never 0) and the entry's index (0: empty slot), so a word that is not in the table
/// (most words) is rejected from a small array. `get` answers exactly as the map does
/// (longer and empty keys go to the map).
#[derive(Debug, Default)]
struct InlineWords {
    /// Tag << 24 | entry index + 1, or 0.
    meta: Vec<u32>,
    entries: Vec<InlineEntry>,
    mask: usize,
}

/// Little-endian load of `b[at..at + 4]`.
fn load4(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// Little-endian load of `b[at..at + 8]`.
fn load8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Up to 8 bytes, little-endian, zero-padded: loads of whole words (overlapping ones agree
/// on the bytes they share), so the key is built in registers.
fn pad8(b: &[u8]) -> u64 {
    let n = b.len();
    match n {
        0 => 0,
        1..=3 => {
            u64::from(b[0])
                | u64::from(b[n / 2]) << (8 * (n / 2))
                | u64::from(b[n - 1]) << (8 * (n - 1))
        }
        4..=7 => load4(b, 0) | load4(b, n - 4) << (8 * (n - 4)),
        _ => load8(b, 0),
    }
}

/// A key of at most 16 bytes, zero-padded, as two little-endian words.
pub(crate) fn pad16(key: &[u8]) -> [u64; 2] {
    if key.len() <= 8 {
        return [pad8(key), 0];
    }
    let n = key.len().min(16);
    // The last 8 bytes, shifted so that byte 8 comes first: bytes 8..n, zero-padded.
    [load8(key, 0), load8(key, n - 8) >> (8 * (16 - n))]
}

impl InlineWords {
    fn pad(key: &[u8]) -> [u64; 2] {
        pad16(key)
    }

    /// The first slot to probe for `key` and the key's tag (never 0).
    fn slot_of(&self, key: [u64; 2], len: usize) -> (usize, u32) {
        let h = (key[0] ^ key[1].rotate_left(29) ^ len as u64).wrapping_mul(K);
        ((h ^ (h >> 32)) as usize & self.mask, (h >> 56) as u32 | 1)
    }

    fn build(map: &FastMap<Box<str>, Word>) -> Self {
        let size = (map.len() * 2).next_power_of_two().max(16);
        let mut t = InlineWords {
            meta: vec![0; size],
            entries: Vec::with_capacity(map.len()),
            mask: size - 1,
        };
        for (k, w) in map {
            let b = k.as_bytes();
            if b.is_empty() || b.len() > INLINE_KEY {
                continue;
            }
            let key = Self::pad(b);
            let (mut i, tag) = t.slot_of(key, b.len());
            while t.meta[i] != 0 {
                i = (i + 1) & t.mask;
            }
            t.meta[i] = tag << 24 | (t.entries.len() as u32 + 1);
            t.entries.push(InlineEntry {
                key,
                word: *w,
                len: b.len() as u8,
            });
        }
        t
    }

    /// `map.get(key)` for the map this table was built from.
    #[inline]
    fn get(&self, map: &FastMap<Box<str>, Word>, key: &str) -> Option<Word> {
        let b = key.as_bytes();
        if b.is_empty() || b.len() > INLINE_KEY {
            return map.get(key).copied();
        }
        let k = Self::pad(b);
        let (mut i, tag) = self.slot_of(k, b.len());
        loop {
            let m = self.meta[i];
            if m == 0 {
                return None;
            }
            if m >> 24 == tag {
                let e = self.entries.get((m & 0xff_ffff) as usize - 1)?;
                if e.key == k && usize::from(e.len) == b.len() {
                    return Some(e.word);
                }
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// Python's `str.isspace()` class (Unicode White_Space plus U+001C..U+001F).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// `s.trim_matches(|c: char| c.is_ascii_punctuation())`, on bytes: ASCII punctuation is
/// one byte, and the first and last bytes of a multi-byte character are not ASCII, so the
/// trimmed ends are the same.
fn trim_ascii_punctuation(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|c| !c.is_ascii_punctuation())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_punctuation())
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or("")
}

/// Non-ASCII code points that Python treats as uncased (`lower()` is the identity,
/// `isupper()`/`islower()` false) in every Unicode version: punctuation, symbols, emoji.
fn is_uncased_non_ascii(c: char) -> bool {
    matches!(c as u32,
        0xA0..=0xA9 | 0xAB..=0xB4 | 0xB6..=0xB9 | 0xBB..=0xBF | 0xD7 | 0xF7
        | 0x2000..=0x206F | 0x20A0..=0x20CF | 0x2190..=0x23FF | 0x2500..=0x27BF
        | 0x2B00..=0x2BFF | 0x3000..=0x303F | 0xFE00..=0xFE0F | 0x1F300..=0x1FAFF)
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    start: u32,
    end: u32,
    upper: bool,
    negated: bool,
    w: Word,
}

#[derive(Debug, Clone, Copy)]
struct Valence {
    value: f64,
    from_int: bool,
}

const INT_ZERO: Valence = Valence {
    value: 0.0,
    from_int: true,
};

#[derive(Default)]
struct Scratch {
    translated: String,
    lower: String,
    toks: Vec<Tok>,
    sentiments: Vec<Valence>,
    ngram: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// VADER 3.3.2 with exact output, fast. Build once (it parses the lexicons) and share.
pub struct FastVader {
    words: FastMap<Box<str>, Word>,
    /// `words` again, for fast lookups.
    inline: InlineWords,
    emojis: FastMap<char, &'static str>,
    /// Multi-token idioms (`SPECIAL_CASES`): key, value, whether Python spells it as an int.
    specials: FastMap<Box<str>, (f64, bool)>,
    /// Multi-token booster keys ("kind of", "sort of", "just enough").
    ngram_boosters: FastMap<Box<str>, f64>,
    reference: SentimentIntensityAnalyzer,
}

impl Default for FastVader {
    fn default() -> Self {
        Self::new()
    }
}

impl FastVader {
    /// Parses the vendored tables (a few milliseconds).
    pub fn new() -> FastVader {
        let mut words: FastMap<Box<str>, Word> = FastMap::default();
        // `make_lex_dict`: later duplicates overwrite earlier ones.
        for line in VADER_LEXICON.trim_end_matches('\n').split('\n') {
            if line.is_empty() {
                continue;
            }
            let mut fields = py_strip(line).split('\t');
            if let (Some(word), Some(measure)) = (fields.next(), fields.next()) {
                if let Ok(v) = measure.parse::<f64>() {
                    let e = words.entry(word.into()).or_default();
                    e.valence = v;
                    e.flags |= HAS_VAL;
                }
            }
        }
        let mut emojis: FastMap<char, &'static str> = FastMap::default();
        for line in EMOJI_LEXICON.trim_end_matches('\n').split('\n') {
            let mut fields = py_strip(line).split('\t');
            if let (Some(key), Some(desc)) = (fields.next(), fields.next()) {
                let mut chars = key.chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    emojis.insert(c, desc);
                }
            }
        }
        let mut specials: FastMap<Box<str>, (f64, bool)> = FastMap::default();
        let mut ngram_boosters: FastMap<Box<str>, f64> = FastMap::default();
        let mut idiom_words: Vec<&str> = Vec::new();
        for line in RULES_TABLES.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split('\t');
            let (Some(kind), Some(key), Some(lit)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Ok(value) = lit.parse::<f64>() else {
                continue;
            };
            let multi = key.contains(' ');
            match kind {
                // Single-token idioms can never match: the reference joins 2-3 tokens.
                "special" if multi => {
                    specials.insert(key.into(), (value, !lit.contains('.')));
                    idiom_words.extend(key.split(' '));
                }
                "booster" if multi => {
                    ngram_boosters.insert(key.into(), value);
                    idiom_words.extend(key.split(' '));
                }
                "booster" => {
                    let e = words.entry(key.into()).or_default();
                    e.boost = value;
                    e.flags |= HAS_BOOST;
                }
                _ => {}
            }
        }
        for w in idiom_words {
            words.entry(w.into()).or_default().flags |= IDIOM;
        }
        for w in NEGATE {
            words.entry(w.into()).or_default().flags |= NEGATED;
        }
        for (w, k) in kw::ALL {
            words.entry(w.into()).or_default().kw = k;
        }
        FastVader {
            inline: InlineWords::build(&words),
            words,
            emojis,
            specials,
            ngram_boosters,
            reference: SentimentIntensityAnalyzer::new(),
        }
    }

    /// Scores one text: compound, pos, neu and neg exactly as vaderSentiment 3.3.2 prints them.
    pub fn score(&self, text: &str) -> Sentiment {
        let fast = SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => self.score_fast(text, &mut s),
            Err(_) => self.score_fast(text, &mut Scratch::default()),
        });
        match fast {
            Some(s) => s,
            None => {
                let r = self.reference.polarity_scores(text);
                Sentiment {
                    compound: r.compound,
                    pos: r.pos,
                    neu: r.neu,
                    neg: r.neg,
                }
            }
        }
    }

    /// Whether `score` takes the fast path for `text` (the rest goes to the reference crate).
    pub fn is_fast_path(&self, text: &str) -> bool {
        SCRATCH
            .with(|s| match s.try_borrow_mut() {
                Ok(mut s) => self.score_fast(text, &mut s),
                Err(_) => self.score_fast(text, &mut Scratch::default()),
            })
            .is_some()
    }

    /// The reference's emoji walk: each emoji of the lexicon becomes its description, with a
    /// space inserted when the previous emitted character was not an ASCII space.
    fn translate_emojis<'a>(&self, text: &'a str, out: &'a mut String) -> &'a str {
        if text.is_ascii() {
            return py_strip(text);
        }
        out.clear();
        let mut prev_space = true;
        for c in text.chars() {
            if let Some(d) = (!c.is_ascii()).then(|| self.emojis.get(&c)).flatten() {
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(d);
                prev_space = false;
            } else {
                out.push(c);
                prev_space = c == ' ';
            }
        }
        py_strip(out)
    }

    /// Splits `text` like the reference's `words_and_emoticons`, lower-casing into
    /// `lower`. Returns false if a token holds a character whose casing is not handled here.
    fn tokenize(&self, text: &str, lower: &mut String, toks: &mut Vec<Tok>) -> bool {
        lower.clear();
        toks.clear();
        let bytes = text.as_bytes();
        let mut i = 0;
        let n = bytes.len();
        while i < n {
            // Skip whitespace.
            let b = bytes[i];
            if b < 0x80 {
                if is_ascii_py_space(b) {
                    i += 1;
                    continue;
                }
            } else {
                let c = text[i..].chars().next().unwrap_or(' ');
                if is_py_space(c) {
                    i += c.len_utf8();
                    continue;
                }
            }
            // Find the end of the token: runs of ASCII non-space bytes by table lookup, each
            // non-ASCII character on its own.
            let start = i;
            while i < n {
                i += bytes[i..]
                    .iter()
                    .position(|&b| TOKEN_STOP[usize::from(b)])
                    .unwrap_or(n - i);
                if i == n || bytes[i] < 0x80 {
                    break;
                }
                let c = text[i..].chars().next().unwrap_or(' ');
                if is_py_space(c) {
                    break;
                }
                i += c.len_utf8();
            }
            let raw = &text[start..i];
            // `_strip_punc_if_word`.
            let stripped = trim_ascii_punctuation(raw);
            let short = if stripped.is_ascii() {
                stripped.len() <= 2
            } else {
                stripped.chars().count() <= 2
            };
            let tok = if short { raw } else { stripped };
            let lstart = lower.len();
            let (mut has_upper, mut has_lower, mut has_apostrophe) = (false, false, false);
            if tok.is_ascii() {
                for &b in tok.as_bytes() {
                    has_upper |= b.is_ascii_uppercase();
                    has_lower |= b.is_ascii_lowercase();
                    has_apostrophe |= b == b'\'';
                }
                // SAFETY-free: ASCII lowercase of ASCII is ASCII.
                lower.extend(tok.bytes().map(|b| char::from(b.to_ascii_lowercase())));
            } else {
                for c in tok.chars() {
                    if c.is_ascii() {
                        has_upper |= c.is_ascii_uppercase();
                        has_lower |= c.is_ascii_lowercase();
                        has_apostrophe |= c == '\'';
                        lower.push(c.to_ascii_lowercase());
                    } else if is_uncased_non_ascii(c) {
                        lower.push(c);
                    } else {
                        return false;
                    }
                }
            }
            let l = &lower[lstart..];
            let w = self.inline.get(&self.words, l).unwrap_or_default();
            // Lower-casing keeps apostrophes, so `tok`'s bytes tell whether `l` has one.
            let negated = w.flags & NEGATED != 0 || (has_apostrophe && l.contains("n't"));
            toks.push(Tok {
                start: lstart as u32,
                end: lower.len() as u32,
                upper: has_upper && !has_lower,
                negated,
                w,
            });
        }
        true
    }

    fn score_fast(&self, text: &str, s: &mut Scratch) -> Option<Sentiment> {
        let Scratch {
            translated,
            lower,
            toks,
            sentiments,
            ngram,
        } = s;
        let text = self.translate_emojis(text, translated);
        if !self.tokenize(text, lower, toks) {
            return None;
        }
        let toks: &[Tok] = toks;
        let lower: &str = lower;
        let any_upper = toks.iter().any(|t| t.upper);
        let cap_diff = any_upper && toks.iter().any(|t| !t.upper);
        let but = toks.iter().position(|t| t.w.kw == kw::BUT);
        if but.is_some() && toks.len() > LONG_BUT_TOKENS {
            return None;
        }
        sentiments.clear();
        for (i, item) in toks.iter().enumerate() {
            if item.w.flags & HAS_BOOST != 0 {
                sentiments.push(INT_ZERO);
                continue;
            }
            if item.w.kw == kw::KIND && toks.get(i + 1).is_some_and(|t| t.w.kw == kw::OF) {
                sentiments.push(INT_ZERO);
                continue;
            }
            sentiments.push(self.sentiment_valence(cap_diff, toks, lower, i, ngram));
        }
        if let Some(bi) = but {
            but_check(bi, sentiments);
        }
        Some(score_valence(sentiments, text))
    }

    fn sentiment_valence(
        &self,
        cap_diff: bool,
        toks: &[Tok],
        lower: &str,
        i: usize,
        ngram: &mut String,
    ) -> Valence {
        let item = &toks[i];
        if item.w.flags & HAS_VAL == 0 {
            return INT_ZERO;
        }
        let lex = item.w.valence;
        let mut v = lex;
        let prev1 = i.checked_sub(1).map(|j| &toks[j]);
        let prev2 = i.checked_sub(2).map(|j| &toks[j]);
        let prev3 = i.checked_sub(3).map(|j| &toks[j]);
        let next1 = toks.get(i + 1);
        let is = |t: Option<&Tok>, k: u8| t.is_some_and(|t| t.w.kw == k);
        let in_lex = |t: &Tok| t.w.flags & HAS_VAL != 0;

        if item.w.kw == kw::NO && next1.is_some_and(in_lex) {
            v = 0.0;
        }
        if is(prev1, kw::NO)
            || is(prev2, kw::NO)
            || (is(prev3, kw::NO) && (is(prev1, kw::OR) || is(prev1, kw::NOR)))
        {
            v = lex * N_SCALAR;
        }
        if item.upper && cap_diff {
            if v > 0.0 {
                v += C_INCR;
            } else {
                v -= C_INCR;
            }
        }
        let mut from_int = false;
        if let Some(p1) = prev1 {
            if !in_lex(p1) {
                let s = scalar_inc_dec(p1, v, cap_diff);
                v += s;
                if p1.negated {
                    v *= N_SCALAR;
                }
            }
        }
        if let (Some(p1), Some(p2)) = (prev1, prev2) {
            if !in_lex(p2) {
                let mut s = scalar_inc_dec(p2, v, cap_diff);
                if s != 0.0 {
                    s *= DAMP_2;
                }
                v += s;
                let (k1, k2) = (p1.w.kw, p2.w.kw);
                if k2 == kw::NEVER && (k1 == kw::SO || k1 == kw::THIS) {
                    v *= NEVER_SCALAR;
                } else if k2 == kw::WITHOUT && k1 == kw::DOUBT {
                } else if p2.negated {
                    v *= N_SCALAR;
                }
            }
        }
        if let (Some(p1), Some(p2), Some(p3)) = (prev1, prev2, prev3) {
            if !in_lex(p3) {
                let mut s = scalar_inc_dec(p3, v, cap_diff);
                if s != 0.0 {
                    s *= DAMP_3;
                }
                v += s;
                let (k1, k2, k3) = (p1.w.kw, p2.w.kw, p3.w.kw);
                if (k3 == kw::NEVER && (k2 == kw::SO || k2 == kw::THIS))
                    || (k1 == kw::SO || k1 == kw::THIS)
                {
                    v *= NEVER_SCALAR;
                } else if k3 == kw::WITHOUT && (k2 == kw::DOUBT || k1 == kw::DOUBT) {
                } else if p3.negated {
                    v *= N_SCALAR;
                }
                (v, from_int) = self.special_idioms(v, toks, lower, i, ngram);
            }
        }
        // `_least_check`.
        if let Some(p1) = prev1 {
            if !in_lex(p1) && p1.w.kw == kw::LEAST {
                let damp = match prev2 {
                    Some(p2) => p2.w.kw != kw::AT && p2.w.kw != kw::VERY,
                    None => true,
                };
                if damp {
                    return Valence {
                        value: v * N_SCALAR,
                        from_int: false,
                    };
                }
            }
        }
        Valence { value: v, from_int }
    }

    /// Looks up the n-gram of tokens `from..to` (joined by single spaces) when every token
    /// is part of some idiom.
    fn ngram<'a>(
        toks: &[Tok],
        lower: &str,
        from: usize,
        to: usize,
        buf: &'a mut String,
    ) -> Option<&'a str> {
        let slice = toks.get(from..to)?;
        if slice.iter().any(|t| t.w.flags & IDIOM == 0) {
            return None;
        }
        buf.clear();
        for (k, t) in slice.iter().enumerate() {
            if k > 0 {
                buf.push(' ');
            }
            buf.push_str(&lower[t.start as usize..t.end as usize]);
        }
        Some(buf.as_str())
    }

    /// `_special_idioms_check` (only reached with `i >= 3`).
    fn special_idioms(
        &self,
        valence: f64,
        toks: &[Tok],
        lower: &str,
        i: usize,
        buf: &mut String,
    ) -> (f64, bool) {
        let mut v = valence;
        let mut from_int = false;
        // onezero, twoonezero, twoone, threetwoone, threetwo: the first hit wins.
        let seqs = [
            (i - 1, i + 1),
            (i - 2, i + 1),
            (i - 2, i),
            (i - 3, i),
            (i - 3, i - 1),
        ];
        for (a, b) in seqs {
            if let Some(&(value, is_int)) =
                Self::ngram(toks, lower, a, b, buf).and_then(|k| self.specials.get(k))
            {
                v = value;
                from_int = is_int;
                break;
            }
        }
        // zeroone, zeroonetwo.
        for (a, b) in [(i, i + 2), (i, i + 3)] {
            if let Some(&(value, is_int)) =
                Self::ngram(toks, lower, a, b, buf).and_then(|k| self.specials.get(k))
            {
                v = value;
                from_int = is_int;
            }
        }
        // threetwoone, threetwo, twoone in BOOSTER_DICT.
        for (a, b) in [(i - 3, i), (i - 3, i - 1), (i - 2, i)] {
            if let Some(&inc) =
                Self::ngram(toks, lower, a, b, buf).and_then(|k| self.ngram_boosters.get(k))
            {
                v += inc;
                from_int = false;
            }
        }
        (v, from_int)
    }
}

const fn is_ascii_py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f)
}

/// Bytes where an ASCII run of a token stops: Python's ASCII whitespace, and every byte of a
/// non-ASCII character (whose whitespace-ness `is_py_space` decides).
static TOKEN_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i >= 0x80 || is_ascii_py_space(i as u8);
        i += 1;
    }
    t
};

fn scalar_inc_dec(word: &Tok, valence: f64, cap_diff: bool) -> f64 {
    let mut scalar = 0.0_f64;
    if word.w.flags & HAS_BOOST != 0 {
        scalar = word.w.boost;
        if valence < 0.0 {
            scalar = -scalar;
        }
        if word.upper && cap_diff {
            if valence > 0.0 {
                scalar += C_INCR;
            } else {
                scalar -= C_INCR;
            }
        }
    }
    scalar
}

/// `_but_check`, with Python's `list.index` (first equal value) and in-place rewrites.
fn but_check(bi: usize, sentiments: &mut [Valence]) {
    for pos in 0..sentiments.len() {
        let value = sentiments[pos].value;
        let si = if value.is_nan() {
            pos
        } else {
            sentiments
                .iter()
                .position(|s| s.value == value)
                .unwrap_or(pos)
        };
        let weight = match si.cmp(&bi) {
            std::cmp::Ordering::Less => BUT_BEFORE,
            std::cmp::Ordering::Greater => BUT_AFTER,
            std::cmp::Ordering::Equal => continue,
        };
        sentiments[si] = Valence {
            value: value * weight,
            from_int: false,
        };
    }
}

/// CPython's `sum` over the sentiments: exact int prefix, then Neumaier-compensated floats.
fn python_sum(values: &[Valence]) -> f64 {
    let mut iter = values.iter();
    let mut i_result = 0.0_f64;
    let (mut f, mut c) = loop {
        match iter.next() {
            None => return i_result,
            Some(v) if v.from_int => i_result += v.value,
            Some(v) => break (i_result + v.value, 0.0_f64),
        }
    };
    for v in iter {
        let x = v.value;
        let t = f + x;
        if f.abs() >= x.abs() {
            c += (f - t) + x;
        } else {
            c += (x - t) + f;
        }
        f = t;
    }
    if c != 0.0 && c.is_finite() {
        f += c;
    }
    f
}

/// CPython's `round(x, digits)`: correctly rounded decimal, ties to even, nearest double.
/// Fast unless `x` sits within 1e-6 of a rounding tie, where the exact decimal expansion
/// decides.
pub fn python_round(x: f64, digits: u8) -> f64 {
    // The digits VADER rounds to, without the call: powers of ten this small are exact.
    let p = match digits {
        3 => 1e3,
        4 => 1e4,
        _ => 10f64.powi(i32::from(digits)),
    };
    let y = x * p;
    let f = y.floor();
    let frac = y - f;
    if x.is_finite() && y.abs() < 1e15 && (frac - 0.5).abs() > 1e-6 {
        let r = if frac > 0.5 { f + 1.0 } else { f };
        if r == 0.0 {
            return 0.0_f64.copysign(x);
        }
        return r / p;
    }
    let d = usize::from(digits);
    format!("{x:.d$}").parse::<f64>().unwrap_or(x)
}

fn score_valence(sentiments: &[Valence], text: &str) -> Sentiment {
    if sentiments.is_empty() {
        return Sentiment {
            compound: 0.0,
            pos: 0.0,
            neu: 0.0,
            neg: 0.0,
        };
    }
    let mut sum_s = python_sum(sentiments);
    let (mut ep, mut qm) = (0usize, 0usize);
    for &b in text.as_bytes() {
        ep += usize::from(b == b'!');
        qm += usize::from(b == b'?');
    }
    let ep_amp = (ep.min(4) as f64) * EP_STEP;
    let qm_amp = if qm > 1 {
        if qm <= 3 {
            (qm as f64) * QM_STEP
        } else {
            QM_CAP
        }
    } else {
        0.0
    };
    let punct = ep_amp + qm_amp;
    // Three arms, as the reference: a zero sum takes no emphasis.
    match sum_s.total_cmp(&0.0) {
        std::cmp::Ordering::Greater => sum_s += punct,
        std::cmp::Ordering::Less => sum_s -= punct,
        std::cmp::Ordering::Equal => {}
    }
    let compound = (sum_s / ((sum_s * sum_s) + ALPHA).sqrt()).clamp(-1.0, 1.0);
    let (mut pos_sum, mut neg_sum, mut neu_count) = (0.0_f64, 0.0_f64, 0.0_f64);
    for s in sentiments {
        let x = s.value;
        if x > 0.0 {
            pos_sum += x + 1.0;
        }
        if x < 0.0 {
            neg_sum += x - 1.0;
        }
        if x == 0.0 {
            neu_count += 1.0;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += punct;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= punct;
    }
    let total = pos_sum + neg_sum.abs() + neu_count;
    Sentiment {
        compound: python_round(compound, 4),
        pos: python_round((pos_sum / total).abs(), 3),
        neu: python_round((neu_count / total).abs(), 3),
        neg: python_round((neg_sum / total).abs(), 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn reference(v: &FastVader, text: &str) -> Sentiment {
        let r = v.reference.polarity_scores(text);
        Sentiment {
            compound: r.compound,
            pos: r.pos,
            neu: r.neu,
            neg: r.neg,
        }
    }

    /// Bit-for-bit equality of the four scores (so -0.0 and 0.0 differ too).
    fn same(a: &Sentiment, b: &Sentiment) -> bool {
        a.compound.to_bits() == b.compound.to_bits()
            && a.pos.to_bits() == b.pos.to_bits()
            && a.neu.to_bits() == b.neu.to_bits()
            && a.neg.to_bits() == b.neg.to_bits()
    }

    use crate::classify::corpus::shared_text as shared;

    /// The inline table answers as the map on every key of the map, on keys that differ from
    /// them by a byte or a trailing NUL, on long and empty keys and on the corpus tokens.
    #[test]
    fn inline_words_answer_as_the_map() {
        let v = FastVader::new();
        let mut keys: Vec<String> = v.words.keys().map(|k| k.to_string()).collect();
        let mut near = Vec::new();
        for k in &keys {
            near.push(format!("{k}\0"));
            near.push(format!("{k}x"));
            near.push(k[..k.len() - k.chars().last().map_or(0, char::len_utf8)].to_string());
        }
        keys.extend(near);
        keys.extend(
            [
                "",
                "\0",
                "a",
                "abcdefghijklmnop",
                "abcdefghijklmnopq",
                "😡",
                "no",
                "kind of",
            ]
            .map(String::from),
        );
        if let Some(t) = shared("vader/tweets_GroundTruth.txt") {
            keys.extend(t.split_whitespace().map(str::to_lowercase));
        }
        let long = v.words.keys().filter(|k| k.len() > INLINE_KEY).count();
        assert_eq!(v.inline.entries.len() + long, v.words.len());
        let mut found = 0;
        for k in &keys {
            let want = v.words.get(k.as_str()).copied();
            assert_eq!(v.inline.get(&v.words, k), want, "{k:?}");
            found += usize::from(want.is_some());
        }
        assert!(found >= v.words.len());
    }

    /// `pad16` zero-pads every length from 0 to 16 bytes as a byte copy does.
    #[test]
    fn pad16_equals_a_byte_copy() {
        let src: Vec<u8> = (1..=16u8).map(|i| i.wrapping_mul(37) | 1).collect();
        for n in 0..=16 {
            let mut a = [0u8; 16];
            a[..n].copy_from_slice(&src[..n]);
            let want = [
                u64::from_le_bytes(a[..8].try_into().unwrap()),
                u64::from_le_bytes(a[8..].try_into().unwrap()),
            ];
            assert_eq!(pad16(&src[..n]), want, "{n}");
        }
    }

    #[test]
    fn tables_parse_like_the_reference() {
        let v = FastVader::new();
        let lex = v.words.values().filter(|w| w.flags & HAS_VAL != 0).count();
        let boost = v
            .words
            .values()
            .filter(|w| w.flags & HAS_BOOST != 0)
            .count();
        assert_eq!(lex, 7506);
        assert_eq!(boost + v.ngram_boosters.len(), 84);
        assert_eq!(v.ngram_boosters.len(), 3);
        assert_eq!(
            v.specials.len(),
            8,
            "the single-token idiom 'badass' can never match"
        );
        assert_eq!(v.emojis.len(), 1212);
        assert!(
            v.emojis.keys().all(|c| !c.is_ascii()),
            "ASCII text skips the emoji walk"
        );
        assert_eq!(v.words["good"].valence, 1.9);
        assert_eq!(v.words["no"].kw, kw::NO);
        assert_eq!(v.words["no"].valence, -1.2);
        assert_eq!(v.specials["the shit"], (3.0, true));
        assert_eq!(v.specials["bus stop"], (0.0, false));
    }

    #[test]
    fn python_round_matches_the_decimal_rounding() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for i in 0..200_000 {
            let x: f64 = match i % 4 {
                0 => rng.gen_range(-1.0..1.0),
                1 => f64::from(rng.gen_range(-20_000i32..20_000)) / 20_000.0,
                2 => (f64::from(rng.gen_range(-2_000i32..2_000)) + 0.5) / 1000.0,
                _ => rng.gen_range(-1e-4..1e-4),
            };
            for d in [3u8, 4] {
                let du = usize::from(d);
                let slow: f64 = format!("{x:.du$}").parse().unwrap();
                assert_eq!(python_round(x, d).to_bits(), slow.to_bits(), "{x} {d}");
            }
        }
        assert_eq!(python_round(0.0625, 3), 0.062);
        assert_eq!(python_round(-0.00004, 3).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn equals_the_reference_crate_on_the_human_rated_tweets() {
        let Some(data) = shared("vader/tweets_GroundTruth.txt") else {
            return;
        };
        let v = FastVader::new();
        let (mut n, mut fast) = (0, 0);
        for line in data.lines() {
            let Some(text) = line.trim_end_matches('\r').splitn(3, '\t').nth(2) else {
                continue;
            };
            n += 1;
            fast += usize::from(v.is_fast_path(text));
            let (a, b) = (v.score(text), reference(&v, text));
            assert!(same(&a, &b), "{text:?}: fast {a:?} reference {b:?}");
        }
        assert_eq!(n, 4200);
        assert!(fast >= 4190, "only {fast} of {n} texts took the fast path");
    }

    #[test]
    fn equals_the_reference_crate_on_brand_tweets() {
        let v = FastVader::new();
        for rel in ["complaints-dev.csv", "twcs/twcs_head121.csv"] {
            let Some(data) = shared(rel) else {
                continue;
            };
            let mut r = csv::Reader::from_reader(data.as_bytes());
            let col = r
                .headers()
                .unwrap()
                .iter()
                .position(|h| h == "text")
                .unwrap();
            let mut n = 0;
            for rec in r.records() {
                let rec = rec.unwrap();
                let text = rec.get(col).unwrap_or_default();
                let (a, b) = (v.score(text), reference(&v, text));
                assert!(same(&a, &b), "{rel}: {text:?}: fast {a:?} reference {b:?}");
                n += 1;
            }
            assert!(n > 100, "{rel}: {n} rows");
        }
    }

    /// Random word soups built from the words the rules care about, in every casing, with
    /// punctuation, emoji and odd whitespace: the fast scorer equals the reference crate.
    #[test]
    fn equals_the_reference_crate_on_random_word_soups() {
        let v = FastVader::new();
        let mut vocab: Vec<String> = [
            "good",
            "bad",
            "great",
            "terrible",
            "love",
            "hate",
            "happy",
            "sad",
            "no",
            "not",
            "never",
            "so",
            "this",
            "without",
            "doubt",
            "least",
            "at",
            "very",
            "kind",
            "of",
            "sort",
            "but",
            "BUT",
            "or",
            "nor",
            "isn't",
            "don't",
            "cant",
            "ain't",
            "the",
            "shit",
            "bomb",
            "bad",
            "ass",
            "bus",
            "stop",
            "yeah",
            "right",
            "kiss",
            "death",
            "to",
            "die",
            "for",
            "beating",
            "heart",
            "just",
            "enough",
            "kinda",
            "sorta",
            "extremely",
            "barely",
            "really",
            "hardly",
            "kind-of",
            ":)",
            ":(",
            ":D",
            "<3",
            "lol",
            "sux",
            "funny",
            "smart",
            "horrible",
            "uncompelling",
            "dialog",
            "is",
            "was",
            "a",
            "it",
            "my",
            "order",
            "late",
            "refund",
            "fuck",
            "fucking",
            "damn",
            "wtf",
            "ok",
            "okay",
            "fine",
            "meh",
            "😀",
            "😡",
            "💔",
            "👍🏽",
            "❤️",
            "’",
            "…",
            "é",
            "Ünïcödé",
            "ΣΑΣ",
            "ß",
            "İ",
            "!",
            "?",
            "!!",
            "??",
            "...",
            "-",
            "--good--",
            "so!",
            "is?",
            "8-)",
            "n't",
            "yes",
            "maybe",
            "hope",
            "wish",
            "fail",
            "broken",
            "help",
            "thanks",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let extra: Vec<String> = vocab.iter().map(|w| w.to_uppercase()).collect();
        vocab.extend(extra);
        let lex: Vec<&str> = v
            .words
            .iter()
            .filter(|(_, w)| w.flags & (HAS_VAL | HAS_BOOST) != 0)
            .map(|(k, _)| &**k)
            .collect();
        let seps = [
            " ", " ", " ", "  ", "\t", "\n", ", ", "! ", "? ", ".", "\u{a0}", "\u{1c}",
        ];
        let puncts = ["", "", "", "!", "?", ",", ".", "!!!", "?!", "...", ":"];
        let mut rng = ChaCha8Rng::seed_from_u64(20240601);
        let mut fast = 0;
        let n = 60_000;
        for _ in 0..n {
            let len = rng.gen_range(0..18);
            let mut t = String::new();
            for k in 0..len {
                if k > 0 || rng.gen_bool(0.1) {
                    t.push_str(seps[rng.gen_range(0..seps.len())]);
                }
                let w: String = if rng.gen_bool(0.3) {
                    lex[rng.gen_range(0..lex.len())].to_string()
                } else {
                    vocab[rng.gen_range(0..vocab.len())].clone()
                };
                let w = match rng.gen_range(0..6) {
                    0 => w.to_uppercase(),
                    1 => {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_uppercase().chain(c).collect())
                            .unwrap_or_default()
                    }
                    _ => w,
                };
                t.push_str(&w);
                t.push_str(puncts[rng.gen_range(0..puncts.len())]);
            }
            fast += usize::from(v.is_fast_path(&t));
            let (a, b) = (v.score(&t), reference(&v, &t));
            assert!(same(&a, &b), "{t:?}: fast {a:?} reference {b:?}");
        }
        assert!(fast > n / 2, "{fast} of {n} on the fast path");
    }

    #[test]
    fn long_texts_and_odd_characters_still_equal_the_reference() {
        let v = FastVader::new();
        let long_but = "good but bad ".repeat(1000);
        let long = "so very good, not bad at all! ".repeat(2000);
        for t in [
            long_but.as_str(),
            long.as_str(),
            "",
            "   ",
            "\u{1c}",
            "ŞÜPER GOOD",
            "Σ good",
            "ǅ",
            "GOOD ǅ bad",
            "\u{FFFD}\u{0}",
        ] {
            let (a, b) = (v.score(t), reference(&v, t));
            assert!(
                same(&a, &b),
                "{:?}: fast {a:?} reference {b:?}",
                &t[..t.len().min(40)]
            );
        }
        assert!(
            !v.is_fast_path(&long_but),
            "long texts with 'but' go to the reference"
        );
        assert!(v.is_fast_path(&long));
    }

    /// The byte trim equals `trim_matches` on ASCII punctuation.
    #[test]
    fn byte_trim_equals_trim_matches() {
        for t in [
            "",
            "!",
            "!!!",
            "a",
            "!a!",
            "...hello,",
            "'don't'",
            "é!",
            "!é",
            "(😡)",
            "\"“x”\"",
            "-_-",
            ":)",
            "a.b",
            "«a»",
            "!\u{a0}!",
        ] {
            assert_eq!(
                trim_ascii_punctuation(t),
                t.trim_matches(|c: char| c.is_ascii_punctuation()),
                "{t:?}"
            );
        }
    }
}
