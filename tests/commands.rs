//! The `/kpi` grammar: every command form, filters with quoted values, the defaults, every
//! wrong or missing argument answered with what was expected, and every line the Discord
//! transport builds from slash-command options parses to the command it stands for.

use carepulse::chat::discord::commands::line_from_options;
use carepulse::commands::{parse, ChartKind, Command, Filters, DEFAULT_CHART_DAYS};
use carepulse::kpi::window::WindowSpec;
use carepulse::model::Platform;
use chrono::NaiveDate;
use serde_json::json;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn filters(platform: Option<Platform>, brand: Option<&str>, product: Option<&str>) -> Filters {
    Filters {
        platform,
        brand: brand.map(str::to_string),
        product: product.map(str::to_string),
    }
}

#[test]
fn every_window_parses_with_and_without_filters() {
    for (word, window) in [
        ("today", WindowSpec::Today),
        ("yesterday", WindowSpec::Yesterday),
        ("week", WindowSpec::Week),
        ("MONTH", WindowSpec::Month),
    ] {
        assert_eq!(
            parse(&format!("/kpi {word}")),
            Ok(Command::Kpi {
                window,
                filters: Filters::default()
            }),
            "{word}"
        );
    }
    assert_eq!(
        parse("/kpi"),
        Ok(Command::Kpi {
            window: WindowSpec::Today,
            filters: Filters::default()
        })
    );
    assert_eq!(
        parse("/kpi range 2026-11-01 2026-11-07 platform:bsky brand:Acme"),
        Ok(Command::Kpi {
            window: WindowSpec::Dates(date("2026-11-01"), date("2026-11-07")),
            filters: filters(Some(Platform::Bluesky), Some("Acme"), None)
        })
    );
}

#[test]
fn quoted_values_keep_their_spaces() {
    assert_eq!(
        parse(r#"/kpi week product:"Smart Kettle" brand:"Acme Home" platform:x"#),
        Ok(Command::Kpi {
            window: WindowSpec::Week,
            filters: filters(Some(Platform::X), Some("Acme Home"), Some("Smart Kettle"))
        })
    );
    // Curly quotes from phone keyboards, escapes inside quotes, quotes around the whole pair.
    assert_eq!(
        parse("/kpi today product:“Smart Kettle”"),
        Ok(Command::Kpi {
            window: WindowSpec::Today,
            filters: filters(None, None, Some("Smart Kettle"))
        })
    );
    assert_eq!(
        parse(r#"/kpi today "brand:Say \"Hi\"""#),
        Ok(Command::Kpi {
            window: WindowSpec::Today,
            filters: filters(None, Some("Say \"Hi\""), None)
        })
    );
    assert_eq!(
        parse(r#"/kpi explain "grade of service""#),
        Ok(Command::Explain("grade of service".into()))
    );
}

#[test]
fn stories_backlog_chart_export_explain_help() {
    assert_eq!(
        parse("/kpi stories"),
        Ok(Command::Stories {
            window: WindowSpec::Week,
            filters: Filters::default()
        })
    );
    assert_eq!(
        parse("/kpi stories yesterday platform:facebook"),
        Ok(Command::Stories {
            window: WindowSpec::Yesterday,
            filters: filters(Some(Platform::Facebook), None, None)
        })
    );
    assert_eq!(
        parse("/kpi stories brand:Acme"),
        Ok(Command::Stories {
            window: WindowSpec::Week,
            filters: filters(None, Some("Acme"), None)
        })
    );
    assert_eq!(
        parse(r#"/kpi backlog product:"Smart Kettle""#),
        Ok(Command::Backlog {
            filters: filters(None, None, Some("Smart Kettle"))
        })
    );
    assert_eq!(
        parse("/kpi chart volume"),
        Ok(Command::Chart {
            kind: ChartKind::Volume,
            days: DEFAULT_CHART_DAYS,
            filters: Filters::default()
        })
    );
    for kind in ChartKind::ALL {
        assert_eq!(
            parse(&format!("/kpi chart {} 30 platform:x", kind.as_str())),
            Ok(Command::Chart {
                kind,
                days: 30,
                filters: filters(Some(Platform::X), None, None)
            })
        );
    }
    assert_eq!(
        parse("/kpi export"),
        Ok(Command::Export {
            window: WindowSpec::Yesterday,
            filters: Filters::default()
        })
    );
    assert_eq!(
        parse("/kpi export month brand:Acme"),
        Ok(Command::Export {
            window: WindowSpec::Month,
            filters: filters(None, Some("Acme"), None)
        })
    );
    assert_eq!(
        parse("/kpi export range 2026-11-01 2026-11-02"),
        Ok(Command::Export {
            window: WindowSpec::Dates(date("2026-11-01"), date("2026-11-02")),
            filters: Filters::default()
        })
    );
    assert_eq!(
        parse("/kpi explain frt_median_s"),
        Ok(Command::Explain("frt_median_s".into()))
    );
    assert_eq!(parse("/kpi help"), Ok(Command::Help));
    assert_eq!(parse("kpi HELP"), Ok(Command::Help));
}

#[test]
fn wrong_or_missing_arguments_say_what_was_expected() {
    for (line, needle) in [
        ("", "empty command"),
        ("/stats", "unknown command '/stats'"),
        ("/kpi tomorrow", "unknown /kpi option 'tomorrow'"),
        ("/kpi today platform:myspace", "unknown platform 'myspace'"),
        ("/kpi today colour:red", "unknown filter 'colour'"),
        ("/kpi today x", "not a filter"),
        ("/kpi today brand:", "no value after ':'"),
        (r#"/kpi today product:"Smart Kettle"#, "quote is not closed"),
        ("/kpi range 2026-11-07", "two dates"),
        ("/kpi range", "two dates"),
        (
            "/kpi range 2026-11-07 2026-11-01",
            "ends (2026-11-01) before it starts",
        ),
        ("/kpi range 1st 2nd", "'1st' is not a date like 2026-11-01"),
        ("/kpi explain", "needs a metric name"),
        ("/kpi explain grade of service", "takes one metric name"),
        ("/kpi help me", "takes no arguments"),
        ("/kpi chart", "needs what to chart"),
        ("/kpi chart pie", "unknown chart 'pie'"),
        ("/kpi chart volume 0", "expected 1 to 90"),
        ("/kpi chart volume 91", "expected 1 to 90"),
        ("/kpi chart volume lots", "'lots' is not a number of days"),
        (
            "/kpi stories fortnight",
            "unknown window 'fortnight' for /kpi stories",
        ),
        (
            "/kpi export decade",
            "unknown window 'decade' for /kpi export",
        ),
        (
            "/kpi export range 2026-11-01",
            "/kpi export range needs two dates",
        ),
        ("/kpi backlog soon", "not a filter"),
    ] {
        let err = parse(line).expect_err(line);
        assert!(err.contains(needle), "{line:?}: {err}");
    }
}

#[test]
fn lines_built_from_discord_options_parse_to_their_command() {
    let cases = [
        (
            json!([{ "name": "today", "type": 1, "options": [
                { "name": "product", "type": 3, "value": "Smart Kettle" },
                { "name": "platform", "type": 3, "value": "x" }
            ]}]),
            Command::Kpi {
                window: WindowSpec::Today,
                filters: filters(Some(Platform::X), None, Some("Smart Kettle")),
            },
        ),
        (
            json!([{ "name": "chart", "type": 1, "options": [
                { "name": "days", "type": 4, "value": 7 },
                { "name": "kind", "type": 3, "value": "complaints-vs-praise" },
                { "name": "brand", "type": 3, "value": "Say \"Hi\"" }
            ]}]),
            Command::Chart {
                kind: ChartKind::ComplaintsVsPraise,
                days: 7,
                filters: filters(None, Some("Say \"Hi\""), None),
            },
        ),
        (
            json!([{ "name": "export", "type": 1, "options": [
                { "name": "window", "type": 3, "value": "week" }
            ]}]),
            Command::Export {
                window: WindowSpec::Week,
                filters: Filters::default(),
            },
        ),
        (
            json!([{ "name": "stories", "type": 1, "options": [] }]),
            Command::Stories {
                window: WindowSpec::Week,
                filters: Filters::default(),
            },
        ),
        (
            json!([{ "name": "backlog", "type": 1, "options": [
                { "name": "brand", "type": 3, "value": "Acme Home" }
            ]}]),
            Command::Backlog {
                filters: filters(None, Some("Acme Home"), None),
            },
        ),
        (
            json!([{ "name": "explain", "type": 1, "options": [
                { "name": "name", "type": 3, "value": "grade of service" }
            ]}]),
            Command::Explain("grade of service".into()),
        ),
    ];
    for (options, expected) in cases {
        let options: Vec<serenity::all::CommandDataOption> =
            serde_json::from_value(options).unwrap();
        let line = line_from_options("kpi", &options);
        assert_eq!(parse(&line), Ok(expected), "{line}");
    }
}
