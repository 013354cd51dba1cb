//! Product and topic keyword rules from config, compiled once into one `RegexSet` (`RuleSets`, used when classifying; `CompiledRules` holds
//! one kind).
//! Matching is case-insensitive and word-bounded, finds hashtags (`#delivery`) and simple
//! plurals (order/orders, delivery/deliveries, box/boxes), and lets multi-word keywords span
//! any whitespace.

use aho_corasick::AhoCorasick;
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

/// The names and patterns of the rules of one kind, checked.
fn rule_patterns(
    kind: &'static str,
    rules: &[KeywordRule],
) -> Result<(Vec<String>, Vec<String>), ClassifyError> {
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
    Ok((names, patterns))
}

fn build_set(kind: &'static str, patterns: &[String]) -> Result<Option<RegexSet>, ClassifyError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    RegexSetBuilder::new(patterns)
        .case_insensitive(true)
        .size_limit(64 << 20)
        .build()
        .map(Some)
        .map_err(|e| ClassifyError::Pattern {
            kind,
            reason: e.to_string(),
        })
}

/// Sorted, unique names of the matched rules (`hits` index `names`).
fn names_of(names: &[String], hits: impl Iterator<Item = usize>) -> Vec<String> {
    let mut out: Vec<String> = hits.map(|i| names[i].clone()).collect();
    out.sort();
    out.dedup();
    out
}

impl CompiledRules {
    pub fn compile(kind: &'static str, rules: &[KeywordRule]) -> Result<Self, ClassifyError> {
        let (names, patterns) = rule_patterns(kind, rules)?;
        let set = build_set(kind, &patterns)?;
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
        names_of(&self.names, set.matches(text).into_iter())
    }
}

/// Product and topic rules compiled into one `RegexSet`, so a text is searched once for
/// both kinds; gives what the two `CompiledRules` give. ASCII texts are matched without
/// the regexes when every keyword allows it (`AsciiRules`).
#[derive(Debug, Clone)]
pub struct RuleSets {
    /// Product names, then topic names.
    names: Vec<String>,
    products: usize,
    set: Option<RegexSet>,
    ascii: Option<AsciiRules>,
}

/// One keyword for `AsciiRules`: its words lower-cased, the last one in each spelling the
/// pattern accepts (as is, plus "s" and "es"; or "y" and "ies" after a consonant).
#[derive(Debug, Clone)]
struct AsciiKeyword {
    rule: usize,
    words: Vec<Vec<u8>>,
    last: Vec<Vec<u8>>,
}

/// The keyword rules on ASCII text, as the regexes match them: one multi-pattern search
/// for the start of every keyword (its first word, or the stem of a one-word keyword),
/// then each candidate checked by hand (word boundaries, whitespace runs, plural endings).
/// Built only when every keyword is ASCII and starts and ends with a word character; on
/// an ASCII text, ASCII lower-casing is exactly what case-insensitive matching sees.
#[derive(Debug, Clone)]
struct AsciiRules {
    search: AhoCorasick,
    /// Keywords by search pattern.
    by_pattern: Vec<Vec<AsciiKeyword>>,
    rules: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The whitespace of `\s` among ASCII bytes.
fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

impl AsciiRules {
    fn build(rules: &[&KeywordRule]) -> Option<AsciiRules> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut by_pattern: Vec<Vec<AsciiKeyword>> = Vec::new();
        for (rule, r) in rules.iter().enumerate() {
            for k in &r.keywords {
                let k = k.trim();
                let ok = k.is_ascii()
                    && k.bytes().next().is_some_and(is_word_byte)
                    && k.bytes().last().is_some_and(is_word_byte);
                if !ok {
                    return None;
                }
                let words: Vec<Vec<u8>> = k
                    .split_whitespace()
                    .map(|w| w.to_ascii_lowercase().into_bytes())
                    .collect();
                let word = words.last()?;
                let n = word.len();
                let consonant_y = n >= 2
                    && word[n - 1] == b'y'
                    && word[n - 2].is_ascii_alphabetic()
                    && !b"aeiou".contains(&word[n - 2]);
                let (stem, last): (Vec<u8>, Vec<Vec<u8>>) = if consonant_y {
                    let stem = word[..n - 1].to_vec();
                    let ends = [&b"y"[..], b"ies"].map(|e| [&stem[..], e].concat());
                    (stem, ends.to_vec())
                } else if word[n - 1].is_ascii_alphanumeric() {
                    let ends = [&b""[..], b"s", b"es"].map(|e| [&word[..], e].concat());
                    (word.clone(), ends.to_vec())
                } else {
                    (word.clone(), vec![word.clone()])
                };
                let first = if words.len() == 1 {
                    stem
                } else {
                    words[0].clone()
                };
                let kw = AsciiKeyword {
                    rule,
                    words: words[..words.len() - 1].to_vec(),
                    last,
                };
                match patterns.iter().position(|p| *p == first) {
                    Some(i) => by_pattern[i].push(kw),
                    None => {
                        patterns.push(first);
                        by_pattern.push(vec![kw]);
                    }
                }
            }
        }
        let search = AhoCorasick::new(&patterns).ok()?;
        Some(AsciiRules {
            search,
            by_pattern,
            rules: rules.len(),
        })
    }

    /// Whether `kw` matches `lower` at `at` (where its first search pattern was found).
    fn matches_at(kw: &AsciiKeyword, lower: &[u8], at: usize) -> bool {
        let mut pos = at;
        for w in &kw.words {
            if !lower[pos..].starts_with(w) {
                return false;
            }
            pos += w.len();
            let spaces = lower[pos..]
                .iter()
                .take_while(|&&b| is_space_byte(b))
                .count();
            if spaces == 0 {
                return false;
            }
            pos += spaces;
        }
        kw.last.iter().any(|w| {
            lower[pos..].starts_with(w)
                && !matches!(lower.get(pos + w.len()), Some(&b) if is_word_byte(b))
        })
    }

    /// Indices of the rules matching `lower`, an ASCII text lower-cased.
    fn hits(&self, lower: &[u8], hit: &mut [bool]) {
        hit.fill(false);
        for m in self.search.find_overlapping_iter(lower) {
            let at = m.start();
            if at > 0 && is_word_byte(lower[at - 1]) {
                continue;
            }
            for kw in &self.by_pattern[m.pattern().as_usize()] {
                if !hit[kw.rule] && Self::matches_at(kw, lower, at) {
                    hit[kw.rule] = true;
                }
            }
        }
    }
}

impl RuleSets {
    pub fn compile(rules: &Rules) -> Result<Self, ClassifyError> {
        let (mut names, mut patterns) = rule_patterns("products", &rules.products)?;
        let (topic_names, topic_patterns) = rule_patterns("topics", &rules.topics)?;
        let products = names.len();
        names.extend(topic_names);
        patterns.extend(topic_patterns);
        // Each kind on its own first, so a pattern error names the kind at fault.
        build_set("products", &patterns[..products])?;
        build_set("topics", &patterns[products..])?;
        let set = build_set("products and topics", &patterns)?;
        let all: Vec<&KeywordRule> = rules.products.iter().chain(&rules.topics).collect();
        Ok(RuleSets {
            names,
            products,
            set,
            ascii: AsciiRules::build(&all),
        })
    }

    /// `matches`, given `lower`, the text lower-cased (`str::to_lowercase`): ASCII texts
    /// are then matched without the regexes.
    pub fn matches_lowered(&self, text: &str, lower: &str) -> (Vec<String>, Vec<String>) {
        let Some(ascii) = &self.ascii else {
            return self.matches(text);
        };
        if !text.is_ascii() || lower.len() != text.len() {
            return self.matches(text);
        }
        // A flag per rule, on the stack for the usual few dozen rules.
        let mut stack = [false; 64];
        let mut heap = Vec::new();
        let hit: &mut [bool] = if ascii.rules <= stack.len() {
            &mut stack[..ascii.rules]
        } else {
            heap.resize(ascii.rules, false);
            &mut heap
        };
        ascii.hits(lower.as_bytes(), hit);
        let (products, topics) = self.names.split_at(self.products);
        let (p, t) = hit.split_at(self.products);
        let on = |h: &[bool]| {
            h.iter()
                .enumerate()
                .filter(|x| *x.1)
                .map(|x| x.0)
                .collect::<Vec<_>>()
        };
        (
            names_of(products, on(p).into_iter()),
            names_of(topics, on(t).into_iter()),
        )
    }

    /// Sorted, unique names of the product rules and of the topic rules that match `text`.
    pub fn matches(&self, text: &str) -> (Vec<String>, Vec<String>) {
        let Some(set) = &self.set else {
            return (Vec::new(), Vec::new());
        };
        if !set.is_match(text) {
            return (Vec::new(), Vec::new());
        }
        let hits = set.matches(text);
        let (products, topics) = self.names.split_at(self.products);
        (
            names_of(products, hits.iter().filter(|&i| i < self.products)),
            names_of(
                topics,
                hits.iter()
                    .filter(|&i| i >= self.products)
                    .map(|i| i - self.products),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::corpus::shared_text;

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

    /// The combined set finds what the two sets of each kind find, on texts hitting none,
    /// one or both kinds, and with a kind empty.
    #[test]
    fn combined_sets_equal_one_set_per_kind() {
        let mut with_empty = Rules::default();
        with_empty.products.clear();
        for rules in [Rules::default(), with_empty] {
            let both = RuleSets::compile(&rules).unwrap();
            let p = CompiledRules::compile("products", &rules.products).unwrap();
            let t = CompiledRules::compile("topics", &rules.topics).unwrap();
            for text in [
                "",
                "nice weather",
                "my ORDERS and two deliveries, refund my card",
                "the app site sale",
                "close   my account #wifi",
                "salesman reordered",
            ] {
                assert_eq!(
                    both.matches(text),
                    (p.matches(text), t.matches(text)),
                    "{text}"
                );
            }
        }
        let e = RuleSets::compile(&Rules {
            products: vec![],
            topics: vec![rule("x", &[""])],
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("topics"), "{e}");
    }

    /// The ASCII matcher finds what the regexes find: on every line of the VADER tweets and
    /// complaints-dev.csv, and on crafted edge cases (boundaries, plurals, whitespace runs,
    /// hashtags, underscores, keywords sharing a start), for the default rules and rules
    /// with odd keywords; rules it cannot handle fall back to the regexes.
    #[test]
    fn ascii_matcher_equals_the_regexes() {
        let mut texts: Vec<String> = [
            "",
            "app",
            "apps",
            "appes",
            "happy",
            "app_",
            "_app",
            "app-store",
            "#app!",
            "APP",
            "the Apps.",
            "wifi",
            "wi-fi",
            "WI-FI's",
            "modems",
            "credit card",
            "credit  \t card",
            "credit\ncards",
            "creditcard",
            "close my account",
            "close  my\taccounts",
            "close my accountant",
            "deliveries",
            "delivery",
            "deliverys",
            "deliveryies",
            "boxes",
            "boxs",
            "box's",
            "bill billing billions",
            "offer offers offering",
            "web page",
            "web pages",
            "web-page",
            "site_",
            "a sale",
            "sales",
            "salesman",
            "x\x0bcancel",
            "cancellation",
            "3cancel",
            "cancel3",
            "checkout!",
            "login?",
            "my ios app",
            "ios  apps",
            "order's",
            "orders",
            "reorder",
            "purchase purchases",
        ]
        .map(String::from)
        .to_vec();
        for f in ["vader/tweets_GroundTruth.txt", "complaints-dev.csv"] {
            if let Some(all) = shared_text(f) {
                texts.extend(all.lines().map(String::from));
            }
        }
        let odd = Rules {
            products: vec![
                rule("tv", &["tv", "tvs", "smart tv"]),
                rule(
                    "x_y",
                    &["x_y", "Co-Op", "Ab2", "party", "key", "city break"],
                ),
            ],
            topics: vec![rule("way", &["way", "ways", "a"])],
        };
        let mut fallback = Rules::default();
        fallback.topics.push(rule("c++", &["c++"]));
        // More rules than the matcher's flags on the stack hold.
        let mut many = Rules::default();
        let words = [
            "late", "refund", "love", "thanks", "phone", "order", "card", "help", "still", "never",
            "great", "wait",
        ];
        for i in 0..70 {
            let w = words[i % words.len()];
            many.topics
                .push(rule(&format!("t{i}"), &[w, &format!("{w} {i}")]));
        }
        let mut ascii_hits = 0;
        for rules in [Rules::default(), odd, fallback, many] {
            let sets = RuleSets::compile(&rules).unwrap();
            let expect_fast = rules
                .products
                .iter()
                .chain(&rules.topics)
                .all(|r| r.keywords.iter().all(|k| !k.contains('+')));
            assert_eq!(sets.ascii.is_some(), expect_fast);
            for t in &texts {
                let got = sets.matches_lowered(t, &t.to_lowercase());
                assert_eq!(got, sets.matches(t), "{t:?}");
                if t.is_ascii() && !(got.0.is_empty() && got.1.is_empty()) {
                    ascii_hits += 1;
                }
            }
        }
        assert!(ascii_hits > 50, "{ascii_hits}");
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
