//! Training and evaluation of the complaint model on labelled texts: featurisation, threshold
//! tuning by inner cross-validation, k-fold cross-validation with seed-fixed stratified folds
//! (never training on the test fold), and the precision/recall/F1 figures. Pure: callers read
//! the files.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::features::{extract, FeatureConfig, FeatureVec, Scratch};
use super::linear::{LinearModel, TrainParams};
use super::markup::strip_markup;
use super::sentiment::SentimentScorer;

/// One labelled text (a row of complaints-dev.csv).
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub text: String,
    pub complaint: bool,
    pub domain: String,
}

/// Binary confusion counts with complaint as the positive class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    pub tp: u32,
    pub fp: u32,
    pub tn: u32,
    pub fn_: u32,
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

impl Confusion {
    pub fn add(&mut self, truth: bool, predicted: bool) {
        match (truth, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
            (true, false) => self.fn_ += 1,
        }
    }
    pub fn merge(&mut self, o: &Confusion) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.tn += o.tn;
        self.fn_ += o.fn_;
    }
    pub fn total(&self) -> u32 {
        self.tp + self.fp + self.tn + self.fn_
    }
    /// Precision of the complaint class.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// Recall of the complaint class.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// F1 of the complaint class.
    pub fn f1(&self) -> f64 {
        f1(self.precision(), self.recall())
    }
    /// Mean of the F1 of both classes.
    pub fn macro_f1(&self) -> f64 {
        let neg = f1(
            ratio(self.tn, self.tn + self.fn_),
            ratio(self.tn, self.tn + self.fp),
        );
        (self.f1() + neg) / 2.0
    }
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.total())
    }
}

/// Feature vectors of `texts`, computed the way `Classifier::classify` computes them.
pub fn featurize(
    scorer: &dyn SentimentScorer,
    cfg: &FeatureConfig,
    texts: &[&str],
) -> Vec<FeatureVec> {
    let mut scratch = Scratch::default();
    texts
        .iter()
        .map(|raw| {
            let clean = strip_markup(raw);
            let s = scorer.score(&clean);
            let mut fv = FeatureVec::default();
            extract(cfg, raw, &clean, &s, &mut scratch, &mut fv);
            fv
        })
        .collect()
}

/// Stratified fold number (0..k) of every example, fixed by `seed`.
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(2);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0usize; labels.len()];
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        for (j, i) in idx.into_iter().enumerate() {
            fold[i] = j % k;
        }
    }
    fold
}

/// Trains on the examples whose index is in `train`.
fn fit(
    xs: &[FeatureVec],
    ys: &[bool],
    train: &[usize],
    cfg: FeatureConfig,
    p: &TrainParams,
) -> LinearModel {
    let data: Vec<(&FeatureVec, bool)> = train.iter().map(|&i| (&xs[i], ys[i])).collect();
    LinearModel::train(&data, cfg, p)
}

/// Threshold maximising macro-F1 of out-of-fold probabilities (3 inner folds of `train`).
fn tune_threshold(
    xs: &[FeatureVec],
    ys: &[bool],
    train: &[usize],
    cfg: FeatureConfig,
    p: &TrainParams,
) -> f32 {
    let labels: Vec<bool> = train.iter().map(|&i| ys[i]).collect();
    let folds = stratified_folds(&labels, 3, p.seed ^ 0x5eed);
    let mut probs = vec![0f64; train.len()];
    for f in 0..3 {
        let inner: Vec<usize> = (0..train.len())
            .filter(|&j| folds[j] != f)
            .map(|j| train[j])
            .collect();
        let m = fit(xs, ys, &inner, cfg, p);
        for j in (0..train.len()).filter(|&j| folds[j] == f) {
            probs[j] = m.predict(&xs[train[j]]);
        }
    }
    let mut best = (0.5f32, -1.0f64);
    for step in 20..=80 {
        let t = step as f64 / 100.0;
        let mut c = Confusion::default();
        for (j, &y) in labels.iter().enumerate() {
            c.add(y, probs[j] >= t);
        }
        // Ties go to the threshold closest to 0.5.
        let score = c.macro_f1() - (t - 0.5).abs() * 1e-6;
        if score > best.1 {
            best = (t as f32, score);
        }
    }
    best.0
}

/// Trains the complaint model on `data`, tuning the decision threshold by inner
/// cross-validation when `tune` is set. Deterministic for a given seed.
pub fn train_complaint_model(
    scorer: &dyn SentimentScorer,
    data: &[Labelled],
    cfg: FeatureConfig,
    p: &TrainParams,
    tune: bool,
) -> LinearModel {
    let texts: Vec<&str> = data.iter().map(|d| d.text.as_str()).collect();
    let xs = featurize(scorer, &cfg, &texts);
    let ys: Vec<bool> = data.iter().map(|d| d.complaint).collect();
    let all: Vec<usize> = (0..data.len()).collect();
    let threshold = if tune {
        tune_threshold(&xs, &ys, &all, cfg, p)
    } else {
        0.5
    };
    let mut m = fit(&xs, &ys, &all, cfg, p);
    m.threshold = threshold;
    m
}

/// Result of k-fold cross-validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CvReport {
    pub overall: Confusion,
    pub per_fold: Vec<Confusion>,
    pub per_domain: BTreeMap<String, Confusion>,
    /// Thresholds chosen inside each fold's training part.
    pub thresholds: Vec<f32>,
}

/// k-fold stratified cross-validation: for each fold, trains (and tunes the threshold) on the
/// other folds only and predicts the held-out fold.
pub fn cross_validate(
    scorer: &dyn SentimentScorer,
    data: &[Labelled],
    k: usize,
    seed: u64,
    cfg: FeatureConfig,
    p: &TrainParams,
    tune: bool,
) -> CvReport {
    let texts: Vec<&str> = data.iter().map(|d| d.text.as_str()).collect();
    let xs = featurize(scorer, &cfg, &texts);
    let ys: Vec<bool> = data.iter().map(|d| d.complaint).collect();
    let folds = stratified_folds(&ys, k, seed);
    let mut report = CvReport::default();
    for f in 0..k.max(2) {
        let train: Vec<usize> = (0..data.len()).filter(|&i| folds[i] != f).collect();
        let threshold = if tune {
            tune_threshold(&xs, &ys, &train, cfg, p)
        } else {
            0.5
        };
        let m = fit(&xs, &ys, &train, cfg, p);
        let mut c = Confusion::default();
        for i in (0..data.len()).filter(|&i| folds[i] == f) {
            let pred = m.predict(&xs[i]) >= f64::from(threshold);
            c.add(ys[i], pred);
            report
                .per_domain
                .entry(data[i].domain.clone())
                .or_default()
                .add(ys[i], pred);
        }
        report.overall.merge(&c);
        report.per_fold.push(c);
        report.thresholds.push(threshold);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_metrics() {
        let c = Confusion {
            tp: 8,
            fp: 2,
            tn: 6,
            fn_: 4,
        };
        assert!((c.precision() - 0.8).abs() < 1e-12);
        assert!((c.recall() - 8.0 / 12.0).abs() < 1e-12);
        assert!((c.accuracy() - 0.7).abs() < 1e-12);
        let neg_f1 = 2.0 * 0.6 * 0.75 / (0.6 + 0.75);
        assert!((c.macro_f1() - (c.f1() + neg_f1) / 2.0).abs() < 1e-12);
        assert_eq!(Confusion::default().macro_f1(), 0.0);
    }

    #[test]
    fn folds_are_stratified_and_seeded() {
        let labels: Vec<bool> = (0..100).map(|i| i % 3 == 0).collect();
        let a = stratified_folds(&labels, 5, 42);
        assert_eq!(a, stratified_folds(&labels, 5, 42));
        assert_ne!(a, stratified_folds(&labels, 5, 43));
        for f in 0..5 {
            let n = a.iter().filter(|&&x| x == f).count();
            let pos = (0..100).filter(|&i| a[i] == f && labels[i]).count();
            assert!((19..=21).contains(&n), "fold {f} has {n}");
            assert!((6..=7).contains(&pos), "fold {f} has {pos} positives");
        }
    }
}
