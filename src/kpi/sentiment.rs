//! Sentiment and mix (KPI.md): mean compound and shares of inbound messages, complaints,
//! praise and their ratio.
//!
//! The ratio is infinite when praise is 0 and complaints are not. JSON cannot carry infinity,
//! so `complaint_praise_ratio` is then null and `complaint_praise_ratio_infinite` is true; text
//! shows "∞". Both 0 gives null with the flag false.

use serde::Serialize;

use crate::model::{Category, Direction, MessageAggregate};

/// Sentiment metrics of one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SentimentMix {
    pub sentiment_mean: Option<f64>,
    pub sentiment_pos_share: Option<f64>,
    pub sentiment_neu_share: Option<f64>,
    pub sentiment_neg_share: Option<f64>,
    pub complaints: i64,
    pub praise: i64,
    pub complaint_praise_ratio: Option<f64>,
    pub complaint_praise_ratio_infinite: bool,
}

/// Computes sentiment over classified inbound messages (those with a compound score).
pub fn sentiment(messages: &[MessageAggregate]) -> SentimentMix {
    let mut s = SentimentMix::default();
    let (mut sum, mut pos, mut neu, mut neg) = (0.0, 0i64, 0i64, 0i64);
    for a in messages
        .iter()
        .filter(|a| a.direction == Direction::Inbound)
    {
        sum += a.compound_sum;
        pos += a.positive;
        neu += a.neutral;
        neg += a.negative;
        match a.category {
            Some(Category::Complaint) => s.complaints += a.count,
            Some(Category::Praise) => s.praise += a.count,
            _ => {}
        }
    }
    let n = pos + neu + neg;
    if n > 0 {
        let n = n as f64;
        s.sentiment_mean = Some(sum / n);
        s.sentiment_pos_share = Some(pos as f64 / n);
        s.sentiment_neu_share = Some(neu as f64 / n);
        s.sentiment_neg_share = Some(neg as f64 / n);
    }
    if s.praise > 0 {
        s.complaint_praise_ratio = Some(s.complaints as f64 / s.praise as f64);
    } else if s.complaints > 0 {
        s.complaint_praise_ratio_infinite = true;
    }
    s
}

/// The ratio for people: "1.50", "∞", "n/a".
pub fn ratio_text(s: &SentimentMix) -> String {
    match (s.complaint_praise_ratio, s.complaint_praise_ratio_infinite) {
        (Some(r), _) => format!("{r:.2} ({} : {})", s.complaints, s.praise),
        (None, true) => format!("∞ ({} : 0)", s.complaints),
        (None, false) => "n/a".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Platform;

    fn agg(c: Option<Category>, n: i64, sum: f64, p: i64, u: i64, g: i64) -> MessageAggregate {
        MessageAggregate {
            platform: Platform::X,
            direction: Direction::Inbound,
            category: c,
            count: n,
            compound_sum: sum,
            positive: p,
            neutral: u,
            negative: g,
        }
    }

    #[test]
    fn ratio_cases() {
        // (complaints, praise) -> (ratio, infinite, text)
        let cases = [
            (0, 0, None, false, "n/a"),
            (3, 0, None, true, "∞ (3 : 0)"),
            (0, 2, Some(0.0), false, "0.00 (0 : 2)"),
            (3, 2, Some(1.5), false, "1.50 (3 : 2)"),
        ];
        for (c, p, ratio, inf, text) in cases {
            let s = sentiment(&[
                agg(Some(Category::Complaint), c, 0.0, 0, 0, 0),
                agg(Some(Category::Praise), p, 0.0, 0, 0, 0),
            ]);
            assert_eq!(s.complaint_praise_ratio, ratio, "{c}:{p}");
            assert_eq!(s.complaint_praise_ratio_infinite, inf, "{c}:{p}");
            assert_eq!(ratio_text(&s), text);
        }
    }

    #[test]
    fn mean_and_shares_over_classified_inbound() {
        let mut out = agg(None, 10, 9.0, 10, 0, 0);
        out.direction = Direction::Outbound;
        let s = sentiment(&[
            agg(Some(Category::Complaint), 2, -1.5, 0, 0, 2),
            agg(Some(Category::Praise), 1, 0.5, 1, 0, 0),
            agg(Some(Category::Other), 1, 0.0, 0, 1, 0),
            out,
        ]);
        assert_eq!(s.sentiment_mean, Some(-0.25));
        assert_eq!(s.sentiment_pos_share, Some(0.25));
        assert_eq!(s.sentiment_neu_share, Some(0.25));
        assert_eq!(s.sentiment_neg_share, Some(0.5));
        assert_eq!(sentiment(&[]).sentiment_mean, None);
    }
}
