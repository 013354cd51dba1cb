//! The `/kpi` grammar and its answers, shared by every chat transport (console, Discord
//! gateway, Discord HTTP interactions, Slack). `parse` turns a typed line into a `Command` or a
//! usage message; the app fetches what the command needs and `answer_*` renders the `Post`.

use chrono::NaiveDate;

use crate::digest::post::{Post, Tone};
use crate::kpi::window::WindowSpec;
use crate::model::Platform;

/// Filters a report can be cut by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    pub brand: Option<String>,
    pub platform: Option<Platform>,
    pub product: Option<String>,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/kpi today|yesterday|week|month|range FROM TO [platform:P] [brand:B] [product:X]`
    Kpi {
        window: WindowSpec,
        filters: Filters,
    },
    /// `/kpi explain NAME`
    Explain(String),
    /// `/kpi help`
    Help,
}

/// One line of help per command form.
pub const USAGE: &str = "/kpi today|yesterday|week|month [platform:x] [brand:B] [product:P]  ·  /kpi range 2026-11-01 2026-11-07  ·  /kpi explain NAME  ·  /kpi help";

/// Parses a typed command line. The error is a short message saying what was expected.
pub fn parse(line: &str) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    match words.next() {
        Some("/kpi") | Some("kpi") => {}
        Some(other) => return Err(format!("unknown command '{other}'. Try: {USAGE}")),
        None => return Err(format!("empty command. Try: {USAGE}")),
    }
    let sub = words.next().unwrap_or("today").to_ascii_lowercase();
    let rest: Vec<&str> = words.collect();
    match sub.as_str() {
        "help" => Ok(Command::Help),
        "explain" => match rest.first() {
            Some(name) => Ok(Command::Explain(name.to_string())),
            None => Err("/kpi explain needs a metric name, e.g. /kpi explain frt_median_s".into()),
        },
        "range" => {
            let date = |i: usize| -> Result<NaiveDate, String> {
                let w = rest
                    .get(i)
                    .ok_or("/kpi range needs two dates: /kpi range 2026-11-01 2026-11-07")?;
                NaiveDate::parse_from_str(w, "%Y-%m-%d")
                    .map_err(|_| format!("'{w}' is not a date like 2026-11-01"))
            };
            let (a, b) = (date(0)?, date(1)?);
            if b < a {
                return Err(format!("the range ends ({b}) before it starts ({a})"));
            }
            Ok(Command::Kpi {
                window: WindowSpec::Dates(a, b),
                filters: parse_filters(&rest[2..])?,
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

fn parse_filters(words: &[&str]) -> Result<Filters, String> {
    let mut f = Filters::default();
    for w in words {
        let (k, v) = w.split_once(':').ok_or_else(|| {
            format!("'{w}' is not a filter; write platform:x, brand:Acme or product:router")
        })?;
        if v.is_empty() {
            return Err(format!("'{w}' has no value after ':'"));
        }
        match k.to_ascii_lowercase().as_str() {
            "platform" => f.platform = Some(v.parse::<Platform>().map_err(|e| e.to_string())?),
            "brand" => f.brand = Some(v.to_string()),
            "product" => f.product = Some(v.to_string()),
            other => {
                return Err(format!(
                    "unknown filter '{other}'; use platform, brand or product"
                ))
            }
        }
    }
    Ok(f)
}

/// The help answer.
pub fn answer_help() -> Post {
    Post {
        title: "carepulse commands".into(),
        summary: "carepulse commands".into(),
        lines: vec![
            "/kpi today|yesterday|week|month — the care KPIs for a window, with deltas".into(),
            "/kpi range 2026-11-01 2026-11-07 — explicit dates (both included)".into(),
            "   filters: platform:x|facebook|mastodon|bluesky  brand:NAME  product:NAME".into(),
            "/kpi explain NAME — what a metric means and how it is computed".into(),
            "/kpi help — this list".into(),
        ],
        tone: Tone::Info,
        ephemeral: true,
        ..Post::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_windows_and_filters() {
        assert_eq!(
            parse("/kpi today platform:x brand:Acme"),
            Ok(Command::Kpi {
                window: WindowSpec::Today,
                filters: Filters {
                    brand: Some("Acme".into()),
                    platform: Some(Platform::X),
                    product: None
                }
            })
        );
        assert!(matches!(
            parse("/kpi"),
            Ok(Command::Kpi {
                window: WindowSpec::Today,
                ..
            })
        ));
        assert!(matches!(
            parse("/kpi range 2026-11-01 2026-11-07"),
            Ok(Command::Kpi {
                window: WindowSpec::Dates(..),
                ..
            })
        ));
        assert_eq!(parse("/kpi help"), Ok(Command::Help));
        assert_eq!(
            parse("/kpi explain gos"),
            Ok(Command::Explain("gos".into()))
        );
    }

    #[test]
    fn wrong_input_says_what_was_expected() {
        for (line, needle) in [
            ("/kpi tomorrow", "unknown /kpi option 'tomorrow'"),
            ("/kpi today platform:myspace", "unknown platform 'myspace'"),
            ("/kpi today colour:red", "unknown filter 'colour'"),
            ("/kpi today x", "not a filter"),
            ("/kpi range 2026-11-07", "two dates"),
            ("/kpi range 2026-11-07 2026-11-01", "ends"),
            ("/kpi range 1st 2nd", "not a date"),
            ("/stats", "unknown command"),
            ("", "empty command"),
            ("/kpi explain", "metric name"),
        ] {
            let err = parse(line).expect_err(line);
            assert!(err.contains(needle), "{line}: {err}");
        }
    }
}
