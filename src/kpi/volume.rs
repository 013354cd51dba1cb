//! Volume metrics (KPI.md, Volume): inbound and outbound messages created in the window, and
//! inbound breakdowns by platform, category, product and topic.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kpi::inputs::TagCount;
use crate::model::{Direction, MessageAggregate};

/// Volume metrics of one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Volume {
    pub inbound_volume: i64,
    pub outbound_volume: i64,
    pub by_platform: BTreeMap<String, i64>,
    pub by_category: BTreeMap<String, i64>,
    pub by_product: BTreeMap<String, i64>,
    pub by_topic: BTreeMap<String, i64>,
}

/// Counts messages by direction and breaks inbound down. Unclassified inbound messages count
/// as `other`; a message naming two products counts once for each.
pub fn volume(messages: &[MessageAggregate], tags: &[TagCount]) -> Volume {
    let mut v = Volume::default();
    for a in messages {
        match a.direction {
            Direction::Inbound => {
                v.inbound_volume += a.count;
                *v.by_platform.entry(a.platform.as_str().into()).or_default() += a.count;
                let cat = a.category.map(|c| c.as_str()).unwrap_or("other");
                *v.by_category.entry(cat.into()).or_default() += a.count;
            }
            Direction::Outbound => v.outbound_volume += a.count,
        }
    }
    for t in tags {
        for p in &t.products {
            *v.by_product.entry(p.clone()).or_default() += t.count;
        }
        for p in &t.topics {
            *v.by_topic.entry(p.clone()).or_default() += t.count;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Platform};

    fn agg(p: Platform, d: Direction, c: Option<Category>, n: i64) -> MessageAggregate {
        MessageAggregate {
            platform: p,
            direction: d,
            category: c,
            count: n,
            compound_sum: 0.0,
            positive: 0,
            neutral: 0,
            negative: 0,
        }
    }

    #[test]
    fn volumes_and_breakdowns() {
        use Direction::*;
        let msgs = vec![
            agg(Platform::X, Inbound, Some(Category::Complaint), 3),
            agg(Platform::X, Inbound, None, 2),
            agg(Platform::Facebook, Inbound, Some(Category::Praise), 4),
            agg(Platform::X, Outbound, None, 5),
        ];
        let tags = vec![
            TagCount {
                products: vec!["router".into(), "tv".into()],
                topics: vec!["delivery".into()],
                count: 2,
            },
            TagCount {
                products: vec!["tv".into()],
                topics: vec![],
                count: 3,
            },
        ];
        let v = volume(&msgs, &tags);
        assert_eq!((v.inbound_volume, v.outbound_volume), (9, 5));
        assert_eq!(v.by_platform["x"], 5);
        assert_eq!(v.by_platform["facebook"], 4);
        assert_eq!(v.by_category["other"], 2);
        assert_eq!(v.by_category["complaint"], 3);
        assert_eq!(v.by_product["tv"], 5);
        assert_eq!(v.by_product["router"], 2);
        assert_eq!(v.by_topic["delivery"], 2);
        assert_eq!(volume(&[], &[]), Volume::default());
    }
}
