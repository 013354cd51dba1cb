//! Logistic regression over hashed sparse features: prediction, reproducible SGD training
//! (seeded shuffling, L2 regularisation, optional class balancing) and the compact binary
//! weights format the binary embeds.
//!
//! Format (little-endian): magic `CPCM`, format version (u8 = 1), hash_bits, char_min,
//! char_max, flags (bit 0: word bigrams) as u8; bias, threshold and weight scale as f32; the
//! number of non-zero weights as u32; then for each, the gap from the previous index as a
//! LEB128 varint and the weight quantised to i16 (`w = q * scale`).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::features::{unit_value, FeatureConfig, FeatureSink, FeatureVec};

const MAGIC: &[u8; 4] = b"CPCM";
const FORMAT: u8 = 1;

/// Why a weights file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("complaint model: not a carepulse weights file (bad magic); write one with `carepulse train`")]
    BadMagic,
    #[error("complaint model: format version {0} is not supported (expected {FORMAT}); retrain with `carepulse train`")]
    Version(u8),
    #[error(
        "complaint model: file is truncated or corrupt at byte {0}; retrain with `carepulse train`"
    )]
    Truncated(usize),
    #[error("complaint model: invalid header ({0}); retrain with `carepulse train`")]
    Header(&'static str),
}

/// A trained binary logistic model.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    pub cfg: FeatureConfig,
    pub bias: f32,
    /// Probability at or above which the positive class is predicted.
    pub threshold: f32,
    /// Dense weights, `cfg.dims()` long.
    pub weights: Vec<f32>,
}

/// The non-zero weights of a model: for each run of 64 weights, a bitmap of which are
/// non-zero and the number of non-zero weights before the run (side by side, so one cache
/// line holds both), and the non-zero values in index order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompactWeights {
    runs: Vec<Run>,
    values: Vec<f32>,
}

/// One run of 64 weights of `CompactWeights`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Run {
    mask: u64,
    rank: u32,
}

impl CompactWeights {
    pub fn new(weights: &[f32]) -> Self {
        let mut c = CompactWeights {
            runs: Vec::with_capacity(weights.len().div_ceil(64)),
            values: Vec::new(),
        };
        for chunk in weights.chunks(64) {
            let mut run = Run {
                mask: 0,
                rank: c.values.len() as u32,
            };
            for (j, w) in chunk.iter().enumerate() {
                if *w != 0.0 {
                    run.mask |= 1 << j;
                    c.values.push(*w);
                }
            }
            c.runs.push(run);
        }
        c
    }

    /// The weight at `i` if it is non-zero.
    #[inline]
    pub fn get(&self, i: usize) -> Option<f32> {
        let run = *self.runs.get(i / 64)?;
        let bit = 1u64 << (i % 64);
        if run.mask & bit == 0 {
            return None;
        }
        let r = run.rank as usize + (run.mask & (bit - 1)).count_ones() as usize;
        self.values.get(r).copied()
    }
}

/// The model's linear score over features fed in order by `features::extract_into`,
/// without collecting them. Each token's character n-gram weights are summed first and the
/// sum is scaled by the block's unit value, so a token costs one product however many
/// n-grams it has, and a `GramMemo` can keep that sum: the score equals
/// `LinearModel::predict_compact` over the collected vector up to the rounding of the
/// additions (well within 1e-12), and is the same, bit for bit, with or without a memo.
/// With a memo, the unigram weight, the cue flags and the n-gram sum of a token seen before
/// are read from it instead of looked up or hashed again.
pub struct CompactDot<'a> {
    c: &'a CompactWeights,
    z: f64,
    unit: f32,
    memo: Option<&'a mut GramMemo>,
    /// Sum of the weights of the current token's n-grams, while `token_grams` runs them.
    token_sum: f64,
    /// Whether `one` adds to `token_sum` (inside `token_grams`) rather than to `z`.
    in_token: bool,
}

impl CompactDot<'_> {
    /// Probability of the positive class.
    pub fn probability(&self) -> f64 {
        sigmoid(self.z)
    }

    /// Sum of the weights of the n-grams `grams` feeds to `one`, in order.
    fn sum_grams(&mut self, grams: impl FnOnce(&mut Self)) -> f64 {
        self.token_sum = 0.0;
        self.in_token = true;
        grams(self);
        self.in_token = false;
        self.token_sum
    }
}

impl FeatureSink for CompactDot<'_> {
    fn ones_block(&mut self, count: usize) {
        self.unit = unit_value(count);
    }
    #[inline]
    fn one(&mut self, i: u32) {
        if let Some(w) = self.c.get(i as usize) {
            if self.in_token {
                self.token_sum += f64::from(w);
            } else {
                self.z += f64::from(w) * f64::from(self.unit);
            }
        }
    }
    fn dense(&mut self, i: u32, v: f32) {
        if let Some(w) = self.c.get(i as usize) {
            self.z += f64::from(w) * f64::from(v);
        }
    }
    #[inline]
    fn word(&mut self, token: &str, hash: u64, bucket: u32, flags: impl FnOnce() -> u8) -> u8 {
        let c = self.c;
        let Some(m) = self.memo.as_deref_mut() else {
            self.one(bucket);
            return flags();
        };
        let rec = match m.find(hash, token) {
            Ok(r) => r,
            Err(Some(slot)) => m.insert(slot, hash, token, c.get(bucket as usize), flags()),
            Err(None) => {
                m.text.push(NO_REC);
                self.one(bucket);
                return flags();
            }
        };
        m.text.push(rec);
        match m.recs.get(rec as usize) {
            Some(r) => {
                if r.has_uni {
                    self.z += f64::from(r.uni) * f64::from(self.unit);
                }
                r.flags
            }
            // Records are never removed while a text is scored.
            None => 0,
        }
    }
    #[inline]
    fn token_grams(&mut self, token: &str, hash: u64, grams: impl FnOnce(&mut Self)) {
        let _ = (token, hash);
        let rec = match self.memo.as_deref_mut() {
            Some(m) => {
                let k = m.cursor;
                m.cursor += 1;
                m.text.get(k).copied().unwrap_or(NO_REC) as usize
            }
            None => NO_REC as usize,
        };
        let known = self
            .memo
            .as_deref()
            .and_then(|m| m.recs.get(rec))
            .and_then(|r| r.has_sum.then_some(r.gram_sum));
        let sum = match known {
            Some(sum) => sum,
            None => {
                let sum = self.sum_grams(grams);
                if let Some(r) = self.memo.as_deref_mut().and_then(|m| m.recs.get_mut(rec)) {
                    r.gram_sum = sum;
                    r.has_sum = true;
                }
                sum
            }
        };
        self.z += sum * f64::from(self.unit);
    }
}

/// Longest token (in bytes) a `GramMemo` keeps.
const MEMO_MAX_TOKEN: usize = 16;
/// Tokens a `GramMemo` keeps before it starts over (a vocabulary of this size covers
/// nearly all the tokens of a stream of tweets).
const MEMO_ENTRIES: usize = 1 << 15;
/// Slots of the memo's hash table: it starts at `MEMO_MIN_SLOTS` and doubles as tokens come
/// (keeping it at most half full), so a small vocabulary keeps a small, cache-resident table.
const MEMO_MIN_SLOTS: usize = 1 << 12;
const MEMO_MAX_SLOTS: usize = MEMO_ENTRIES * 2;
/// Entry of `GramMemo::text` for a token the memo does not keep.
const NO_REC: u32 = u32::MAX;

/// What the memo knows about one token.
#[derive(Debug, Clone, Copy, Default)]
struct TokenRec {
    /// The token, zero-padded.
    key: [u64; 2],
    /// Weight of the token's unigram feature, if non-zero.
    uni: f32,
    has_uni: bool,
    /// Cue flags of the token (`features::extract_into`).
    flags: u8,
    klen: u8,
    /// Sum of the weights of the token's character n-grams, once known.
    gram_sum: f64,
    has_sum: bool,
}

/// Per-thread memo, for one model (`owner`), of what the complaint model reads per token of
/// recently seen tokens: the unigram weight, the cue flags and the sum of the character
/// n-gram weights. Word frequencies are skewed, so most tokens of a text were seen before.
/// Bounded: it starts over once it holds `MEMO_ENTRIES` tokens.
#[derive(Debug, Default)]
pub struct GramMemo {
    owner: u64,
    /// Open addressing: high half of the token hash << 32 | record index + 1 (0: empty).
    slots: Vec<u64>,
    recs: Vec<TokenRec>,
    /// Record (or `NO_REC`) of each token of the current text, in order.
    text: Vec<u32>,
    /// Next token of `text` for `token_grams`.
    cursor: usize,
}

impl GramMemo {
    /// Empties the memo unless it already belongs to `owner` (an id unique to one model).
    pub fn own(&mut self, owner: u64) {
        if self.owner != owner || self.slots.is_empty() {
            self.owner = owner;
            self.clear();
        }
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.slots.resize(MEMO_MIN_SLOTS, 0);
        self.recs.clear();
    }

    /// Starts a text: starts over first if the memo is full.
    fn begin_text(&mut self) {
        if self.recs.len() >= MEMO_ENTRIES || self.slots.is_empty() {
            self.clear();
        }
        self.text.clear();
        self.cursor = 0;
    }

    /// Doubles the table, re-placing every record.
    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        let mask = size - 1;
        for s in old.into_iter().filter(|&s| s != 0) {
            let mut i = (s >> 32) as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// The record of `token` (hash `hash`), or where a new record for it goes: the free
    /// slot, or `None` if the memo does not keep it (too long, or the memo is full).
    #[inline]
    fn find(&self, hash: u64, token: &str) -> Result<u32, Option<usize>> {
        let b = token.as_bytes();
        if b.is_empty() || b.len() > MEMO_MAX_TOKEN || self.slots.is_empty() {
            return Err(None);
        }
        let key = super::vader::pad16(b);
        let high = hash >> 32;
        let mask = self.slots.len() - 1;
        let mut i = high as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            if s >> 32 == high {
                let r = (s as u32).wrapping_sub(1);
                if let Some(rec) = self.recs.get(r as usize) {
                    if rec.key == key && usize::from(rec.klen) == b.len() {
                        return Ok(r);
                    }
                }
            }
            i = (i + 1) & mask;
        }
        Err((self.recs.len() < MEMO_ENTRIES).then_some(i))
    }

    /// Records `token` (hash `hash`) in free slot `slot` (from `find`); returns its record.
    fn insert(&mut self, slot: usize, hash: u64, token: &str, uni: Option<f32>, flags: u8) -> u32 {
        let r = self.recs.len() as u32;
        self.recs.push(TokenRec {
            key: super::vader::pad16(token.as_bytes()),
            uni: uni.unwrap_or(0.0),
            has_uni: uni.is_some(),
            flags,
            klen: token.len() as u8,
            gram_sum: 0.0,
            has_sum: false,
        });
        self.slots[slot] = (hash >> 32) << 32 | u64::from(r + 1);
        if self.recs.len() * 2 > self.slots.len() && self.slots.len() < MEMO_MAX_SLOTS {
            self.grow();
        }
        r
    }
}

/// Training hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// L2 regularisation strength (per example).
    pub l2: f64,
    pub epochs: usize,
    /// Initial learning rate.
    pub eta0: f64,
    /// Weight classes inversely to their frequency.
    pub balanced: bool,
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            l2: 1e-4,
            epochs: 30,
            eta0: 0.5,
            balanced: true,
            seed: 42,
        }
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl LinearModel {
    /// Probability of the positive class.
    pub fn predict(&self, x: &FeatureVec) -> f64 {
        let mut z = f64::from(self.bias);
        for (&i, &v) in x.idx.iter().zip(&x.val) {
            if let Some(w) = self.weights.get(i as usize) {
                z += f64::from(*w) * f64::from(v);
            }
        }
        sigmoid(z)
    }

    /// The non-zero weights in compact form, for `predict_compact`.
    pub fn compact(&self) -> CompactWeights {
        CompactWeights::new(&self.weights)
    }

    /// `predict` over the compact weights: only the non-zero weights (a fifth of a hashed
    /// model) are stored, so they stay in cache. Gives the same probability as `predict`:
    /// adding a zero product leaves the sum unchanged (up to the sign of a zero sum, which
    /// the sigmoid ignores). `c` must come from `self.compact()`.
    pub fn predict_compact(&self, c: &CompactWeights, x: &FeatureVec) -> f64 {
        let mut z = f64::from(self.bias);
        for (&i, &v) in x.idx.iter().zip(&x.val) {
            if let Some(w) = c.get(i as usize) {
                z += f64::from(w) * f64::from(v);
            }
        }
        sigmoid(z)
    }

    /// A `FeatureSink` computing `predict_compact` as the features are extracted. `c` must
    /// come from `self.compact()`.
    pub fn compact_dot<'a>(&self, c: &'a CompactWeights) -> CompactDot<'a> {
        CompactDot {
            c,
            z: f64::from(self.bias),
            unit: 0.0,
            memo: None,
            token_sum: 0.0,
            in_token: false,
        }
    }

    /// `compact_dot`, memoising per token in `memo`, which must have been claimed with
    /// `GramMemo::own` for this model and weights.
    pub fn compact_dot_memo<'a>(
        &self,
        c: &'a CompactWeights,
        memo: &'a mut GramMemo,
    ) -> CompactDot<'a> {
        memo.begin_text();
        CompactDot {
            memo: Some(memo),
            ..self.compact_dot(c)
        }
    }

    /// Trains on `(features, label)` pairs. Same data, config and params give the same model.
    pub fn train(data: &[(&FeatureVec, bool)], cfg: FeatureConfig, p: &TrainParams) -> Self {
        let dims = cfg.dims();
        let mut v = vec![0f64; dims];
        let mut scale = 1.0f64;
        let mut bias = 0.0f64;
        let n_pos = data.iter().filter(|(_, y)| *y).count().max(1) as f64;
        let n_neg = data.iter().filter(|(_, y)| !*y).count().max(1) as f64;
        let n = data.len() as f64;
        let (w_pos, w_neg) = if p.balanced {
            (n / (2.0 * n_pos), n / (2.0 * n_neg))
        } else {
            (1.0, 1.0)
        };
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
        let mut t = 0f64;
        for _ in 0..p.epochs {
            order.shuffle(&mut rng);
            for &k in &order {
                let (x, y) = data[k];
                let eta = p.eta0 / (1.0 + p.eta0 * p.l2 * t);
                t += 1.0;
                let mut z = bias;
                for (&i, &val) in x.idx.iter().zip(&x.val) {
                    z += scale * v[i as usize] * f64::from(val);
                }
                let (target, cw) = if y { (1.0, w_pos) } else { (0.0, w_neg) };
                let g = (sigmoid(z) - target) * cw;
                scale *= 1.0 - eta * p.l2;
                for (&i, &val) in x.idx.iter().zip(&x.val) {
                    v[i as usize] -= eta * g * f64::from(val) / scale;
                }
                bias -= eta * g * 0.1;
                if scale < 1e-9 {
                    for w in &mut v {
                        *w *= scale;
                    }
                    scale = 1.0;
                }
            }
        }
        LinearModel {
            cfg,
            bias: bias as f32,
            threshold: 0.5,
            weights: v.iter().map(|w| (w * scale) as f32).collect(),
        }
    }

    /// Serialises to the compact format (weights quantised to i16).
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        let mut out = Vec::with_capacity(64 + self.weights.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        out.push(self.cfg.hash_bits);
        out.push(self.cfg.char_min);
        out.push(self.cfg.char_max);
        out.push(u8::from(self.cfg.word_bigrams));
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        let entries: Vec<(usize, i16)> = self
            .weights
            .iter()
            .enumerate()
            .map(|(i, w)| (i, (w / scale).round().clamp(-32767.0, 32767.0) as i16))
            .filter(|(_, q)| *q != 0)
            .collect();
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        let mut prev = 0usize;
        for (i, q) in entries {
            let mut gap = (i - prev) as u64;
            prev = i;
            loop {
                let byte = (gap & 0x7f) as u8;
                gap >>= 7;
                if gap == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            out.extend_from_slice(&q.to_le_bytes());
        }
        out
    }

    /// Reads the compact format.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ModelError> {
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8], ModelError> {
            let s = b.get(pos..pos + n).ok_or(ModelError::Truncated(pos))?;
            pos += n;
            Ok(s)
        };
        if take(4)? != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let h = take(5)?;
        if h[0] != FORMAT {
            return Err(ModelError::Version(h[0]));
        }
        let cfg = FeatureConfig {
            hash_bits: h[1],
            char_min: h[2],
            char_max: h[3],
            word_bigrams: h[4] & 1 == 1,
        };
        if !(10..=24).contains(&cfg.hash_bits) {
            return Err(ModelError::Header("hash_bits outside 10..=24"));
        }
        if cfg.char_max > 8 {
            return Err(ModelError::Header("char n-grams longer than 8"));
        }
        let f32_at = |s: &[u8]| f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let bias = f32_at(take(4)?);
        let threshold = f32_at(take(4)?);
        let scale = f32_at(take(4)?);
        if !(0.0..=1.0).contains(&threshold) || !scale.is_finite() || !bias.is_finite() {
            return Err(ModelError::Header("threshold, scale or bias out of range"));
        }
        let c = take(4)?;
        let count = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
        let mut weights = vec![0f32; cfg.dims()];
        let mut idx = 0usize;
        for _ in 0..count {
            let mut gap = 0u64;
            let mut shift = 0;
            loop {
                let byte = take(1)?[0];
                gap |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
                if shift > 35 {
                    return Err(ModelError::Header("index gap too large"));
                }
            }
            idx += gap as usize;
            let q = take(2)?;
            let slot = weights
                .get_mut(idx)
                .ok_or(ModelError::Header("weight index outside the hash space"))?;
            *slot = f32::from(i16::from_le_bytes([q[0], q[1]])) * scale;
        }
        Ok(LinearModel {
            cfg,
            bias,
            threshold,
            weights,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fv(pairs: &[(u32, f32)]) -> FeatureVec {
        FeatureVec {
            idx: pairs.iter().map(|p| p.0).collect(),
            val: pairs.iter().map(|p| p.1).collect(),
        }
    }

    #[test]
    fn learns_a_separable_problem_and_round_trips() {
        let cfg = FeatureConfig {
            hash_bits: 10,
            ..FeatureConfig::default()
        };
        let pos = fv(&[(100, 1.0), (7, 0.5)]);
        let neg = fv(&[(200, 1.0), (7, 0.5)]);
        let data: Vec<(&FeatureVec, bool)> = (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    (&pos, true)
                } else {
                    (&neg, false)
                }
            })
            .collect();
        let m = LinearModel::train(&data, cfg, &TrainParams::default());
        assert!(m.predict(&pos) > 0.8, "{}", m.predict(&pos));
        assert!(m.predict(&neg) < 0.2, "{}", m.predict(&neg));
        let again = LinearModel::train(&data, cfg, &TrainParams::default());
        assert_eq!(m, again, "training is reproducible");
        let back = LinearModel::from_bytes(&m.to_bytes()).unwrap();
        assert_eq!(back.cfg, m.cfg);
        assert!((back.predict(&pos) - m.predict(&pos)).abs() < 1e-3);
    }

    #[test]
    fn compact_weights_predict_like_the_dense_ones() {
        let mut weights = vec![0.0f32; 1000];
        for i in (0..1000).step_by(7) {
            weights[i] = (i as f32 - 500.0) / 300.0;
        }
        weights[63] = 0.25;
        weights[64] = -0.5;
        weights[999] = 1.5;
        let m = LinearModel {
            cfg: FeatureConfig {
                hash_bits: 10,
                ..FeatureConfig::default()
            },
            bias: 0.1,
            threshold: 0.5,
            weights,
        };
        let c = m.compact();
        for i in 0..1000 {
            let w = m.weights[i];
            assert_eq!(c.get(i), (w != 0.0).then_some(w), "{i}");
        }
        assert_eq!(c.get(1000), None);
        let x = fv(&[
            (0, 0.3),
            (7, 0.5),
            (63, 1.0),
            (64, 0.2),
            (65, 0.9),
            (999, 0.1),
            (5000, 1.0),
        ]);
        assert_eq!(m.predict_compact(&c, &x).to_bits(), m.predict(&x).to_bits());
    }

    #[test]
    fn rejects_corrupt_files() {
        assert_eq!(LinearModel::from_bytes(b"nope"), Err(ModelError::BadMagic));
        assert!(matches!(
            LinearModel::from_bytes(b"CPCM"),
            Err(ModelError::Truncated(_))
        ));
        let m = LinearModel {
            cfg: FeatureConfig {
                hash_bits: 10,
                ..FeatureConfig::default()
            },
            bias: 0.0,
            threshold: 0.5,
            weights: vec![0.5; 1024],
        };
        let b = m.to_bytes();
        assert!(LinearModel::from_bytes(&b[..b.len() - 1]).is_err());
    }
}
