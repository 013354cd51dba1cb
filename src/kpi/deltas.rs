//! Comparisons (KPI.md): every numeric metric against the previous window of equal length and,
//! for daily windows, the same weekday a week earlier. `delta = value - base`, `delta_pct =
//! delta / |base|`, null when the base is 0 or either value is null.

use std::collections::BTreeMap;

use serde::Serialize;

/// One metric's change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Delta {
    pub base: Option<f64>,
    pub delta: Option<f64>,
    pub delta_pct: Option<f64>,
}

/// Keys that are settings or listings, not results: no delta.
const NOT_COMPARED: &[&str] = &["gos_target_s"];

/// The change of `value` against `base`.
pub fn delta(value: Option<f64>, base: Option<f64>) -> Delta {
    let d = match (value, base) {
        (Some(v), Some(b)) => Some(v - b),
        _ => None,
    };
    let pct = match (d, base) {
        (Some(d), Some(b)) if b != 0.0 => Some(d / b.abs()),
        _ => None,
    };
    Delta {
        base,
        delta: d,
        delta_pct: pct,
    }
}

/// Deltas of every top-level numeric (or null) field of two JSON objects of the same shape.
pub fn deltas(current: &serde_json::Value, base: &serde_json::Value) -> BTreeMap<String, Delta> {
    let mut out = BTreeMap::new();
    let (Some(cur), Some(bas)) = (current.as_object(), base.as_object()) else {
        return out;
    };
    for (k, v) in cur {
        if NOT_COMPARED.contains(&k.as_str()) {
            continue;
        }
        let b = bas.get(k).unwrap_or(&serde_json::Value::Null);
        let numeric = |x: &serde_json::Value| x.is_number() || x.is_null();
        if !(numeric(v) && numeric(b)) || (v.is_null() && b.is_null() && !is_metric(k)) {
            continue;
        }
        out.insert(k.clone(), delta(v.as_f64(), b.as_f64()));
    }
    out
}

fn is_metric(k: &str) -> bool {
    crate::kpi::docs::doc(k).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn delta_table() {
        let cases = [
            (Some(12.0), Some(10.0), Some(2.0), Some(0.2)),
            (Some(5.0), Some(0.0), Some(5.0), None),
            (Some(0.0), Some(0.0), Some(0.0), None),
            (None, Some(3.0), None, None),
            (Some(3.0), None, None, None),
            (Some(-1.0), Some(-2.0), Some(1.0), Some(0.5)),
        ];
        for (v, b, d, p) in cases {
            let got = delta(v, b);
            assert_eq!((got.delta, got.delta_pct), (d, p), "{v:?} vs {b:?}");
        }
    }

    #[test]
    fn deltas_cover_numeric_fields_only() {
        let cur = json!({"inbound_volume": 30, "frt_median_s": null, "by_platform": {"x": 3},
            "gos": 0.5, "gos_target_s": 3600, "complaint_praise_ratio_infinite": false});
        let base = json!({"inbound_volume": 20, "frt_median_s": 60.0, "by_platform": {"x": 1},
            "gos": 0.25, "gos_target_s": 3600, "complaint_praise_ratio_infinite": false});
        let d = deltas(&cur, &base);
        assert_eq!(d["inbound_volume"].delta, Some(10.0));
        assert_eq!(d["inbound_volume"].delta_pct, Some(0.5));
        assert_eq!(d["frt_median_s"].delta, None);
        assert_eq!(d["frt_median_s"].base, Some(60.0));
        assert_eq!(d["gos"].delta_pct, Some(1.0));
        assert!(!d.contains_key("by_platform"));
        assert!(!d.contains_key("gos_target_s"));
        assert!(!d.contains_key("complaint_praise_ratio_infinite"));
    }
}
