//! Product and topic keyword rules from config, compiled once into one `RegexSet` per kind.
//! Matching is case-insensitive and word-bounded, finds hashtags (`#delivery`) and simple
//! plurals (order/orders, delivery/deliveries, box/boxes), and lets multi-word keywords span
//! any whitespace.

use regex::{RegexSet, RegexSetBuilder};
use serde::Deserialize;

use super::ClassifyError;

/// One named rule: the name is reported when any keyword matches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    pub name: String,
    pub keywords: Vec<String>,
}

/// The products and topics to detect (config `[[products]]` and `[[topics]]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default)]
    pub products: Vec<KeywordRule>,
    #[serde(default)]
    pub topics: Vec<KeywordRule>,
}

fn rule(name: &str, keywords: &[&str]) -> KeywordRule {
    KeywordRule {
        name: name.to_string(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
    }
}

impl Default for Rules {
    /// A small generic set used by tests and by `carepulse classify` without `--rules`.
    fn default() -> Self {
        Rules {
            products: vec![
                rule("router", &["router", "wifi", "wi-fi", "modem"]),
                rule("app", &["app", "mobile app", "ios app", "android app"]),
                rule("card", &["card", "credit card", "debit card"]),
                rule("order", &["order", "purchase"]),
            ],
            topics: vec![
                rule(
                    "delivery",
                    &[
                        "delivery", "shipping", "parcel", "package", "courier", "box",
                    ],
                ),
                rule(
                    "billing",
                    &[
                        "bill",
                        "billing",
                        "invoice",
                        "charge",
                        "overcharged",
                        "refund",
                    ],
                ),
                rule(
                    "website",
                    &["website", "site", "web page", "checkout", "login"],
                ),
                rule("new sale", &["sale", "discount", "promo", "offer"]),
                rule(
                    "cancel-save",
                    &["cancel", "cancellation", "unsubscribe", "close my account"],
                ),
            ],
        }
    }
}

/// Regex for one keyword: escaped, whitespace-flexible, plural-tolerant, word-bounded.
fn keyword_pattern(kw: &str) -> String {
    let words: Vec<&str> = kw.split_whitespace().collect();
    let mut parts: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
    if let (Some(last), Some(word)) = (parts.last_mut(), words.last()) {
        let lower = word.to_lowercase();
        let chars: Vec<char> = lower.chars().collect();
        let n = chars.len();
        let consonant_y = n >= 2
            && chars[n - 1] == 'y'
            && chars[n - 2].is_alphabetic()
            && !"aeiou".contains(chars[n - 2]);
        if consonant_y {
            let stem: String = chars[..n - 1].iter().collect();
            *last = format!("{}(?:y|ies)", regex::escape(&stem));
        } else if chars.last().is_some_and(|c| c.is_alphanumeric()) {
            last.push_str("(?:s|es)?");
        }
    }
    let body = parts.join(r"\s+");
    let starts_word = kw
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_');
    let ends_word = kw
        .chars()
        .last()
        .is_some_and(|c| c.is_alphanumeric() || c == '_');
    let pre = if starts_word { r"\b" } else { r"(?:^|\W|\b)" };
    let post = if ends_word { r"\b" } else { "" };
    format!("{pre}{body}{post}")
}

/// Compiled rules of one kind.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    names: Vec<String>,
    set: Option<RegexSet>,
}

impl CompiledRules {
    pub fn compile(kind: &'static str, rules: &[KeywordRule]) -> Result<Self, ClassifyError> {
        let mut names = Vec::new();
        let mut patterns = Vec::new();
        for r in rules {
            if r.name.trim().is_empty() {
                return Err(ClassifyError::EmptyName { kind });
            }
            if r.keywords.is_empty() {
                return Err(ClassifyError::NoKeywords {
                    kind,
                    name: r.name.clone(),
                });
            }
            let mut alts = Vec::new();
            for k in &r.keywords {
                if k.trim().is_empty() {
                    return Err(ClassifyError::EmptyKeyword {
                        kind,
                        name: r.name.clone(),
                    });
                }
                alts.push(keyword_pattern(k.trim()));
            }
            names.push(r.name.clone());
            patterns.push(format!("(?:{})", alts.join("|")));
        }
        let set = if patterns.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&patterns)
                    .case_insensitive(true)
                    .size_limit(64 << 20)
                    .build()
                    .map_err(|e| ClassifyError::Pattern {
                        kind,
                        reason: e.to_string(),
                    })?,
            )
        };
        Ok(CompiledRules { names, set })
    }

    /// Sorted, unique names of the rules that match `text`.
    pub fn matches(&self, text: &str) -> Vec<String> {
        let Some(set) = &self.set else {
            return Vec::new();
        };
        // Most texts match no rule: the cheaper yes/no search settles those.
        if !set.is_match(text) {
            return Vec::new();
        }
        let mut out: Vec<String> = set
            .matches(text)
            .into_iter()
            .map(|i| self.names[i].clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(rules: &[KeywordRule]) -> CompiledRules {
        CompiledRules::compile("products", rules).unwrap()
    }

    #[test]
    fn matches_words_hashtags_plurals_and_case() {
        let c = compile(&Rules::default().topics);
        assert_eq!(c.matches("Where is my #Delivery?"), vec!["delivery"]);
        assert_eq!(
            c.matches("two deliveries and three BOXES"),
            vec!["delivery"]
        );
        assert_eq!(c.matches("deliverymen"), Vec::<String>::new());
        assert_eq!(
            c.matches("I want to close   my account, refund please"),
            vec!["billing", "cancel-save"]
        );
        assert_eq!(c.matches("salesman"), Vec::<String>::new());
        let p = compile(&Rules::default().products);
        assert_eq!(p.matches("my orders and my card"), vec!["card", "order"]);
        assert_eq!(p.matches("the application is happy"), Vec::<String>::new());
        assert_eq!(p.matches("reordered"), Vec::<String>::new());
    }

    #[test]
    fn duplicate_names_report_once_and_special_chars_work() {
        let c = compile(&[
            rule("c++", &["c++"]),
            rule("tv", &["tv"]),
            rule("tv", &["television"]),
        ]);
        assert_eq!(c.matches("my TV and television, c++!"), vec!["c++", "tv"]);
    }

    #[test]
    fn bad_rules_fail_with_a_clear_message() {
        let e = CompiledRules::compile("topics", &[rule("x", &["ok", " "])]).unwrap_err();
        assert!(e.to_string().contains("empty keyword"), "{e}");
        assert!(e.to_string().contains("'x'"), "{e}");
        let e = CompiledRules::compile("topics", &[rule("y", &[])]).unwrap_err();
        assert!(e.to_string().contains("no keywords"), "{e}");
        let e = CompiledRules::compile("topics", &[rule(" ", &["a"])]).unwrap_err();
        assert!(e.to_string().contains("name"), "{e}");
    }

    #[test]
    fn rules_deserialize_strictly() {
        let r: Rules =
            toml::from_str("[[products]]\nname = \"app\"\nkeywords = [\"app\"]\n").unwrap();
        assert_eq!(r.products.len(), 1);
        assert!(
            toml::from_str::<Rules>("[[products]]\nname = \"a\"\nkeywords = []\nextra = 1\n")
                .is_err()
        );
    }
}
