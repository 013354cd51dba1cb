//! The `/kpi` grammar and its answers, shared by every chat transport (console, Discord
//! gateway, Discord HTTP interactions, Slack). `parse` turns a typed line into a `Command` or a
//! usage message (pure: no clock, no I/O); the app fetches what the command needs and the
//! `answer_*` functions of `answers` render the `Post`.
//!
//! Grammar (words are case-insensitive, values keep their case):
//!
//! ```text
//! /kpi [today|yesterday|week|month|range FROM TO] [FILTER...]
//! /kpi stories [WINDOW] [FILTER...]                      (default window: week)
//! /kpi backlog [FILTER...]
//! /kpi chart volume|sentiment|platforms|complaints-vs-praise [DAYS] [FILTER...]   (DAYS 1-90, default 14)
//! /kpi export [WINDOW] [FILTER...]                       (default window: yesterday)
//! /kpi explain NAME
//! /kpi help
//! FILTER = platform:P | brand:B | product:X, a value with spaces in double quotes:
//!          product:"Smart Kettle"   ("\"" and "\\" escape inside quotes)
//! ```
//!
//! A brand or product must name one with stored data or in the configuration (in any case);
//! `resolve_filters` turns a typo into a usage message listing the known names.

pub mod answers;

use chrono::NaiveDate;

use crate::kpi::window::WindowSpec;
use crate::model::Platform;

pub use answers::{
    answer_backlog, answer_chart, answer_explain, answer_help, answer_stories, BacklogItem,
};

/// Filters a report can be cut by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    pub brand: Option<String>,
    pub platform: Option<Platform>,
    pub product: Option<String>,
}

/// What `/kpi chart` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Mentions per day, in total and per platform (lines).
    Volume,
    /// Positive and negative shares of mentions per day (lines).
    Sentiment,
    /// Mentions by platform over the days (pie).
    Platforms,
    /// Complaints and praise per day (lines).
    ComplaintsVsPraise,
}

impl ChartKind {
    pub const ALL: [ChartKind; 4] = [
        ChartKind::Volume,
        ChartKind::Sentiment,
        ChartKind::Platforms,
        ChartKind::ComplaintsVsPraise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChartKind::Volume => "volume",
            ChartKind::Sentiment => "sentiment",
            ChartKind::Platforms => "platforms",
            ChartKind::ComplaintsVsPraise => "complaints-vs-praise",
        }
    }

    pub fn parse(word: &str) -> Option<ChartKind> {
        let w = word.trim().to_ascii_lowercase().replace('_', "-");
        ChartKind::ALL.into_iter().find(|k| k.as_str() == w)
    }
}

/// Days a chart covers when none are given, and the most it may cover.
pub const DEFAULT_CHART_DAYS: u32 = 14;
pub const MAX_CHART_DAYS: u32 = 90;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/kpi today|yesterday|week|month|range FROM TO [filters]`
    Kpi {
        window: WindowSpec,
        filters: Filters,
    },
    /// `/kpi stories [window] [filters]`: success stories and turnarounds.
    Stories {
        window: WindowSpec,
        filters: Filters,
    },
    /// `/kpi backlog [filters]`: actionable conversations waiting for a reply, oldest first.
    Backlog { filters: Filters },
    /// `/kpi chart KIND [DAYS] [filters]`: a PNG of the last DAYS full days.
    Chart {
        kind: ChartKind,
        days: u32,
        filters: Filters,
    },
    /// `/kpi export [window] [filters]`: the per-conversation CSV.
    Export {
        window: WindowSpec,
        filters: Filters,
    },
    /// `/kpi explain NAME`
    Explain(String),
    /// `/kpi help`
    Help,
}

impl Command {
    /// The filters of a command that reads data (all but explain and help).
    pub fn filters_mut(&mut self) -> Option<&mut Filters> {
        match self {
            Command::Kpi { filters, .. }
            | Command::Stories { filters, .. }
            | Command::Backlog { filters }
            | Command::Chart { filters, .. }
            | Command::Export { filters, .. } => Some(filters),
            Command::Explain(_) | Command::Help => None,
        }
    }
}

/// One line of help per command form.
pub const USAGE: &str = "/kpi today|yesterday|week|month|range FROM TO [platform:x] [brand:B] [product:P] · /kpi stories [window] · /kpi backlog · /kpi chart volume|sentiment|platforms|complaints-vs-praise [days] · /kpi export [window] · /kpi explain NAME · /kpi help";

const FILTER_HINT: &str =
    "write platform:x, brand:Acme or product:router (quote values with spaces: product:\"Smart Kettle\")";

/// Splits a line into words at whitespace; double-quoted parts (straight or curly quotes) keep
/// their spaces and may sit inside a word (`product:"Smart Kettle"`); `\"` and `\\` escape
/// inside quotes.
pub fn tokenize(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' | '”' | '“' => quoted = false,
                '\\' => match chars.next() {
                    Some(e) => word.push(e),
                    None => word.push('\\'),
                },
                _ => word.push(c),
            }
        } else if c.is_whitespace() {
            if in_word {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
        } else if c == '"' || c == '“' || c == '”' {
            quoted = true;
            in_word = true;
        } else {
            word.push(c);
            in_word = true;
        }
    }
    if quoted {
        return Err(format!(
            "a quote is not closed in '{}': write values with spaces as product:\"Smart Kettle\"",
            line.trim()
        ));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Parses a typed command line. The error is a short message saying what was expected.
pub fn parse(line: &str) -> Result<Command, String> {
    let words = tokenize(line)?;
    let mut words = words.iter().map(String::as_str);
    match words.next() {
        Some(w) if w.eq_ignore_ascii_case("/kpi") || w.eq_ignore_ascii_case("kpi") => {}
        Some(other) => return Err(format!("unknown command '{other}'. Try: {USAGE}")),
        None => return Err(format!("empty command. Try: {USAGE}")),
    }
    let sub = words.next().unwrap_or("today").to_ascii_lowercase();
    let rest: Vec<&str> = words.collect();
    match sub.as_str() {
        "help" => no_more(&rest, "/kpi help").map(|_| Command::Help),
        "explain" => match rest.as_slice() {
            [name] => Ok(Command::Explain(name.to_string())),
            [] => Err("/kpi explain needs a metric name, e.g. /kpi explain frt_median_s".into()),
            _ => Err(format!(
                "/kpi explain takes one metric name, e.g. /kpi explain frt_median_s (got '{}'); quote names with spaces",
                rest.join(" ")
            )),
        },
        "stories" => {
            let (window, rest) = optional_window(&rest, "stories")?;
            Ok(Command::Stories {
                window: window.unwrap_or(WindowSpec::Week),
                filters: parse_filters(rest)?,
            })
        }
        "backlog" => Ok(Command::Backlog {
            filters: parse_filters(&rest)?,
        }),
        "export" => {
            let (window, rest) = optional_window(&rest, "export")?;
            Ok(Command::Export {
                window: window.unwrap_or(WindowSpec::Yesterday),
                filters: parse_filters(rest)?,
            })
        }
        "chart" => parse_chart(&rest),
        "range" => {
            let (window, rest) = range(&rest, "/kpi range")?;
            Ok(Command::Kpi {
                window,
                filters: parse_filters(rest)?,
            })
        }
        w => match WindowSpec::parse(w) {
            Some(window) => Ok(Command::Kpi {
                window,
                filters: parse_filters(&rest)?,
            }),
            None => Err(format!("unknown /kpi option '{w}'. Try: {USAGE}")),
        },
    }
}

fn no_more(rest: &[&str], what: &str) -> Result<(), String> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what} takes no arguments (got '{}')",
            rest.join(" ")
        ))
    }
}

/// `range FROM TO` after the word `range`; returns the window and the words after it.
fn range<'a, 'b>(rest: &'b [&'a str], what: &str) -> Result<(WindowSpec, &'b [&'a str]), String> {
    let date = |i: usize| -> Result<NaiveDate, String> {
        let w = rest
            .get(i)
            .ok_or_else(|| format!("{what} needs two dates: {what} 2026-11-01 2026-11-07"))?;
        NaiveDate::parse_from_str(w, "%Y-%m-%d")
            .map_err(|_| format!("'{w}' is not a date like 2026-11-01"))
    };
    let (a, b) = (date(0)?, date(1)?);
    if b < a {
        return Err(format!("the range ends ({b}) before it starts ({a})"));
    }
    Ok((WindowSpec::Dates(a, b), &rest[2..]))
}

/// An optional `today|yesterday|week|month|range FROM TO` at the start of `rest`.
fn optional_window<'a, 'b>(
    rest: &'b [&'a str],
    sub: &str,
) -> Result<(Option<WindowSpec>, &'b [&'a str]), String> {
    match rest.first() {
        Some(w) if w.eq_ignore_ascii_case("range") => {
            let (window, rest) = range(&rest[1..], &format!("/kpi {sub} range"))?;
            Ok((Some(window), rest))
        }
        Some(w) if w.contains(':') => Ok((None, rest)),
        Some(w) => match WindowSpec::parse(w) {
            Some(window) => Ok((Some(window), &rest[1..])),
            None => Err(format!(
                "unknown window '{w}' for /kpi {sub}: expected today, yesterday, week, month or range FROM TO"
            )),
        },
        None => Ok((None, rest)),
    }
}

fn parse_chart(rest: &[&str]) -> Result<Command, String> {
    let kinds = "volume, sentiment, platforms or complaints-vs-praise";
    let Some(first) = rest.first() else {
        return Err(format!(
            "/kpi chart needs what to chart: {kinds}, e.g. /kpi chart volume 14"
        ));
    };
    let kind = ChartKind::parse(first)
        .ok_or_else(|| format!("unknown chart '{first}': expected {kinds}"))?;
    let mut rest = &rest[1..];
    let mut days = DEFAULT_CHART_DAYS;
    if let Some(w) = rest.first().filter(|w| !w.contains(':')) {
        days = w
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_CHART_DAYS).contains(d))
            .ok_or_else(|| {
                format!("'{w}' is not a number of days: expected 1 to {MAX_CHART_DAYS}, e.g. /kpi chart volume 14")
            })?;
        rest = &rest[1..];
    }
    Ok(Command::Chart {
        kind,
        days,
        filters: parse_filters(rest)?,
    })
}

fn parse_filters(words: &[&str]) -> Result<Filters, String> {
    let mut f = Filters::default();
    for w in words {
        let (k, v) = w
            .split_once(':')
            .ok_or_else(|| format!("'{w}' is not a filter; {FILTER_HINT}"))?;
        let v = v.trim();
        if v.is_empty() {
            return Err(format!("'{w}' has no value after ':'; {FILTER_HINT}"));
        }
        let slot = match k.to_ascii_lowercase().as_str() {
            "platform" => {
                f.platform = Some(v.parse::<Platform>().map_err(|e| e.to_string())?);
                continue;
            }
            "brand" => &mut f.brand,
            "product" => &mut f.product,
            other => {
                return Err(format!(
                    "unknown filter '{other}'; use platform, brand or product"
                ))
            }
        };
        *slot = Some(v.to_string());
    }
    Ok(f)
}

/// Most names an "unknown brand/product" message lists.
const NAMES_LISTED: usize = 12;

/// A brand or product filter that names nothing known, with the names that are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// "brand" or "product".
    pub what: &'static str,
    pub given: String,
    /// The known names, sorted, without repeats.
    pub known: Vec<String>,
}

impl UnknownName {
    /// In chat syntax: `unknown brand 'Nope': try brand:Acme, brand:Northwind`.
    pub fn chat_message(&self) -> String {
        self.message(&format!("{}:", self.what))
    }

    /// In command-line syntax: `unknown brand 'Nope': try --brand Acme, --brand Northwind`.
    pub fn cli_message(&self) -> String {
        self.message(&format!("--{} ", self.what))
    }

    /// The message with each known name written after `prefix`, in double quotes when it
    /// holds a space.
    fn message(&self, prefix: &str) -> String {
        let listed: Vec<String> = self
            .known
            .iter()
            .take(NAMES_LISTED)
            .map(|n| {
                if n.contains(' ') {
                    format!("{prefix}\"{n}\"")
                } else {
                    format!("{prefix}{n}")
                }
            })
            .collect();
        let more = self.known.len().saturating_sub(NAMES_LISTED);
        format!(
            "unknown {} '{}': try {}{}",
            self.what,
            self.given,
            listed.join(", "),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        )
    }
}

/// Checks the brand and product of `filters` against the names that exist (`brands` and
/// `products`: those with stored data and those in the configuration). A name that differs only
/// in case becomes the known one (`brand:northwind` reads Northwind); an unknown name is an
/// error that lists the known ones, so a typo never reads as an all-zero report. With no known
/// names at all (nothing stored or configured yet) any name passes.
pub fn resolve_filters(
    filters: Filters,
    brands: &[String],
    products: &[String],
) -> Result<Filters, UnknownName> {
    fn resolve(
        what: &'static str,
        given: Option<String>,
        known: &[String],
    ) -> Result<Option<String>, UnknownName> {
        let Some(name) = given else {
            return Ok(None);
        };
        if known.is_empty() || known.contains(&name) {
            return Ok(Some(name));
        }
        let folded = name.to_lowercase();
        if let Some(k) = known.iter().find(|k| k.to_lowercase() == folded) {
            return Ok(Some(k.clone()));
        }
        let mut known = known.to_vec();
        known.sort_unstable();
        known.dedup();
        Err(UnknownName {
            what,
            given: name,
            known,
        })
    }
    Ok(Filters {
        brand: resolve("brand", filters.brand, brands)?,
        product: resolve("product", filters.product, products)?,
        platform: filters.platform,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn filters_resolve_to_known_names_and_unknown_ones_list_the_known() {
        let brands = names(&["Northwind", "Acme"]);
        let products = names(&["Smart Kettle", "router"]);
        let given = |brand: Option<&str>, product: Option<&str>| Filters {
            brand: brand.map(String::from),
            platform: Some(Platform::X),
            product: product.map(String::from),
        };
        // Exact and case-folded names pass, as the known spelling.
        let f = resolve_filters(
            given(Some("northwind"), Some("SMART KETTLE")),
            &brands,
            &products,
        )
        .expect("known names");
        assert_eq!(f, given(Some("Northwind"), Some("Smart Kettle")));
        assert_eq!(
            resolve_filters(given(None, None), &brands, &products),
            Ok(given(None, None))
        );
        // A typo is an error naming it and the names to use, in filter syntax.
        let e = resolve_filters(given(Some("Nope"), None), &brands, &products).expect_err("typo");
        assert_eq!(
            e.chat_message(),
            "unknown brand 'Nope': try brand:Acme, brand:Northwind"
        );
        assert_eq!(
            e.cli_message(),
            "unknown brand 'Nope': try --brand Acme, --brand Northwind"
        );
        let e = resolve_filters(given(None, Some("kettle")), &brands, &products)
            .expect_err("partial name");
        assert_eq!(
            e.chat_message(),
            "unknown product 'kettle': try product:\"Smart Kettle\", product:router"
        );
        assert_eq!(
            e.cli_message(),
            "unknown product 'kettle': try --product \"Smart Kettle\", --product router"
        );
        // Long lists are cut, saying how many more there are; repeats are listed once.
        let mut many: Vec<String> = (0..20).map(|i| format!("b{i:02}")).collect();
        many.push("b00".into());
        let e = resolve_filters(given(Some("zz"), None), &many, &[]).expect_err("unknown");
        assert_eq!(e.known.len(), 20);
        assert!(
            e.chat_message().ends_with("brand:b11 (and 8 more)"),
            "{e:?}"
        );
        // Nothing known yet: any name passes.
        assert!(resolve_filters(given(Some("Anyone"), Some("x")), &[], &[]).is_ok());
    }

    #[test]
    fn tokenizer_keeps_quoted_spaces_and_escapes() {
        assert_eq!(
            tokenize(r#"/kpi today product:"Smart Kettle"  brand:Acme"#).unwrap(),
            ["/kpi", "today", "product:Smart Kettle", "brand:Acme"]
        );
        assert_eq!(
            tokenize(r#"a "b \"c\" \\ d" e"#).unwrap(),
            ["a", "b \"c\" \\ d", "e"]
        );
        assert_eq!(tokenize("x:“Smart Kettle”").unwrap(), ["x:Smart Kettle"]);
        assert_eq!(tokenize(r#"brand:"""#).unwrap(), ["brand:"]);
        assert!(tokenize(r#"product:"Smart"#)
            .unwrap_err()
            .contains("not closed"));
    }
}
