//! The `/kpi` application command as Discord sees it: its schema (subcommands with typed
//! options, registered globally or per guild) and the conversion of an incoming interaction's
//! options back into the text line that the transport-neutral `commands::parse` reads, e.g.
//! `/kpi today platform:x brand:Acme`, `/kpi chart volume 14`, `/kpi explain frt_median_s`.
//!
//! Line grammar produced here: `/kpi <subcommand>` then the positional options of that
//! subcommand in schema order (`range FROM TO`, `chart KIND [DAYS]`, `stories [WINDOW]`, `export [WINDOW]`,
//! `explain NAME`), then filters as `key:value` (`platform`, `brand`, `product`). Values with
//! spaces, quotes or nothing in them are written in double quotes with `\"` and `\\` escapes.

use serenity::all::{CommandDataOption, CommandDataOptionValue, CommandOptionType};
use serenity::builder::{CreateCommand, CreateCommandOption};

/// Name of the one application command.
pub const COMMAND: &str = "kpi";

/// The kind and constraints of one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// Free text, optionally with autocomplete.
    Text { autocomplete: bool },
    /// A `YYYY-MM-DD` date, sent as a string.
    Date,
    /// One of fixed string values.
    Choice(&'static [&'static str]),
    /// An integer within bounds.
    Int { min: u64, max: u64 },
}

/// One option of a subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: OptionKind,
    pub required: bool,
    /// Written bare in the line (`chart volume 14`) rather than as `name:value`.
    pub positional: bool,
}

/// One `/kpi` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubcommandSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub options: Vec<OptionSpec>,
}

/// Values of `/kpi chart kind:`.
pub const CHART_KINDS: &[&str] = &["volume", "sentiment", "platforms", "complaints-vs-praise"];
/// Values of `/kpi export window:`.
pub const EXPORT_WINDOWS: &[&str] = &["today", "yesterday", "week", "month"];

fn filters() -> Vec<OptionSpec> {
    let text = |name, description| OptionSpec {
        name,
        description,
        kind: OptionKind::Text { autocomplete: true },
        required: false,
        positional: false,
    };
    vec![
        text(
            "platform",
            "Only this platform (x, facebook, mastodon, bluesky)",
        ),
        text("brand", "Only mentions of this brand"),
        text("product", "Only mentions of this product"),
    ]
}

fn positional(
    name: &'static str,
    description: &'static str,
    kind: OptionKind,
    required: bool,
) -> OptionSpec {
    OptionSpec {
        name,
        description,
        kind,
        required,
        positional: true,
    }
}

/// The whole `/kpi` schema, in the order Discord shows it.
pub fn kpi_schema() -> Vec<SubcommandSpec> {
    let window = |name, description| SubcommandSpec {
        name,
        description,
        options: filters(),
    };
    let bare = |name, description| SubcommandSpec {
        name,
        description,
        options: Vec::new(),
    };
    let with_filters = |mut options: Vec<OptionSpec>| {
        options.extend(filters());
        options
    };
    let mut range = vec![
        positional("from", "First day, YYYY-MM-DD", OptionKind::Date, true),
        positional("to", "Last day, YYYY-MM-DD", OptionKind::Date, true),
    ];
    range.extend(filters());
    vec![
        window("today", "Care KPIs for today so far"),
        window("yesterday", "Care KPIs for yesterday"),
        window("week", "Care KPIs for the last 7 days"),
        window("month", "Care KPIs for the last 30 days"),
        SubcommandSpec {
            name: "range",
            description: "Care KPIs between two dates",
            options: range,
        },
        SubcommandSpec {
            name: "stories",
            description: "Success stories and turnarounds (default: last 7 days)",
            options: with_filters(vec![positional(
                "window",
                "Which period",
                OptionKind::Choice(EXPORT_WINDOWS),
                false,
            )]),
        },
        SubcommandSpec {
            name: "backlog",
            description: "Conversations waiting for a reply, oldest first, with links",
            options: filters(),
        },
        SubcommandSpec {
            name: "chart",
            description: "A chart of the last days",
            options: with_filters(vec![
                positional(
                    "kind",
                    "What to chart",
                    OptionKind::Choice(CHART_KINDS),
                    true,
                ),
                positional(
                    "days",
                    "How many days back (1-90)",
                    OptionKind::Int { min: 1, max: 90 },
                    false,
                ),
            ]),
        },
        SubcommandSpec {
            name: "export",
            description: "One CSV row per conversation (default: yesterday)",
            options: with_filters(vec![positional(
                "window",
                "Which period",
                OptionKind::Choice(EXPORT_WINDOWS),
                false,
            )]),
        },
        SubcommandSpec {
            name: "explain",
            description: "What a KPI means and how it is computed",
            options: vec![positional(
                "name",
                "KPI name, e.g. frt_median_s",
                OptionKind::Text { autocomplete: true },
                true,
            )],
        },
        bare("help", "How to use /kpi"),
    ]
}

fn option_builder(spec: &OptionSpec) -> CreateCommandOption {
    let kind = match spec.kind {
        OptionKind::Int { .. } => CommandOptionType::Integer,
        _ => CommandOptionType::String,
    };
    let mut o = CreateCommandOption::new(kind, spec.name, spec.description).required(spec.required);
    match spec.kind {
        OptionKind::Text { autocomplete } => o = o.set_autocomplete(autocomplete),
        OptionKind::Date => o = o.min_length(10).max_length(10),
        OptionKind::Choice(values) => {
            for v in values {
                o = o.add_string_choice(*v, *v);
            }
        }
        OptionKind::Int { min, max } => o = o.min_int_value(min).max_int_value(max),
    }
    o
}

/// The `kpi` command builder, ready for registration.
pub fn kpi_command() -> CreateCommand {
    let mut c = CreateCommand::new(COMMAND).description("Customer care KPIs, charts and exports");
    for sub in kpi_schema() {
        let mut s =
            CreateCommandOption::new(CommandOptionType::SubCommand, sub.name, sub.description);
        for o in &sub.options {
            s = s.add_sub_option(option_builder(o));
        }
        c = c.add_option(s);
    }
    c
}

/// Quotes a value when the line parser would otherwise split or lose it.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\');
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        // Newlines cannot be typed into an option; keep the line a single line.
        out.push(if c == '\n' || c == '\r' { ' ' } else { c });
    }
    out.push('"');
    out
}

fn value_text(value: &CommandDataOptionValue) -> Option<String> {
    Some(match value {
        CommandDataOptionValue::String(s) => s.clone(),
        CommandDataOptionValue::Integer(i) => i.to_string(),
        CommandDataOptionValue::Number(n) => n.to_string(),
        CommandDataOptionValue::Boolean(b) => b.to_string(),
        CommandDataOptionValue::Autocomplete { value, .. } => value.clone(),
        _ => return None,
    })
}

/// The text line for an invoked `/kpi` command (its top-level options as Discord sent them).
pub fn line_from_options(command: &str, options: &[CommandDataOption]) -> String {
    let mut line = format!("/{command}");
    let Some(sub) = options.first() else {
        return line;
    };
    line.push(' ');
    line.push_str(&sub.name);
    let given: Vec<(&str, String)> = match &sub.value {
        CommandDataOptionValue::SubCommand(opts) => opts
            .iter()
            .filter_map(|o| value_text(&o.value).map(|v| (o.name.as_str(), v)))
            .collect(),
        other => value_text(other)
            .map(|v| vec![("value", v)])
            .unwrap_or_default(),
    };
    let schema = kpi_schema();
    let spec = schema.iter().find(|s| s.name == sub.name);
    let known: Vec<OptionSpec> = spec.map(|s| s.options.clone()).unwrap_or_default();
    // Positional options first, in schema order; then filters, in schema order; then anything
    // the schema does not know (a newer registration), as key:value.
    for o in known.iter().filter(|o| o.positional) {
        if let Some((_, v)) = given.iter().find(|(n, _)| *n == o.name) {
            line.push(' ');
            line.push_str(&quote(v));
        }
    }
    for o in known.iter().filter(|o| !o.positional) {
        if let Some((n, v)) = given.iter().find(|(n, _)| *n == o.name) {
            line.push_str(&format!(" {n}:{}", quote(v)));
        }
    }
    for (n, v) in &given {
        if !known.iter().any(|o| o.name == *n) {
            line.push_str(&format!(" {n}:{}", quote(v)));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(json: serde_json::Value) -> Vec<CommandDataOption> {
        serde_json::from_value(json).expect("valid option json")
    }

    #[test]
    fn filters_become_key_value_pairs_in_schema_order() {
        let o = opts(
            serde_json::json!([{ "name": "today", "type": 1, "options": [
                { "name": "brand", "type": 3, "value": "Acme" },
                { "name": "platform", "type": 3, "value": "x" }
            ]}]),
        );
        assert_eq!(
            line_from_options("kpi", &o),
            "/kpi today platform:x brand:Acme"
        );
    }

    #[test]
    fn positional_options_are_bare_and_ordered() {
        let o = opts(
            serde_json::json!([{ "name": "chart", "type": 1, "options": [
                { "name": "days", "type": 4, "value": 14 },
                { "name": "kind", "type": 3, "value": "volume" }
            ]}]),
        );
        assert_eq!(line_from_options("kpi", &o), "/kpi chart volume 14");
        let o = opts(
            serde_json::json!([{ "name": "range", "type": 1, "options": [
                { "name": "product", "type": 3, "value": "Smart Kettle" },
                { "name": "to", "type": 3, "value": "2026-11-07" },
                { "name": "from", "type": 3, "value": "2026-11-01" }
            ]}]),
        );
        assert_eq!(
            line_from_options("kpi", &o),
            "/kpi range 2026-11-01 2026-11-07 product:\"Smart Kettle\""
        );
        let o = opts(
            serde_json::json!([{ "name": "explain", "type": 1, "options": [
                { "name": "name", "type": 3, "value": "frt_median_s" }
            ]}]),
        );
        assert_eq!(line_from_options("kpi", &o), "/kpi explain frt_median_s");
        let o = opts(serde_json::json!([{ "name": "help", "type": 1, "options": [] }]));
        assert_eq!(line_from_options("kpi", &o), "/kpi help");
    }

    #[test]
    fn awkward_values_are_quoted() {
        assert_eq!(quote("x"), "x");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a \"b\""), "\"a \\\"b\\\"\"");
        assert_eq!(quote("c:\\d"), "\"c:\\\\d\"");
    }

    #[test]
    fn schema_serialises_with_typed_options() {
        let v = serde_json::to_value(kpi_command()).expect("serialises");
        assert_eq!(v["name"], "kpi");
        let subs = v["options"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = subs.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "today",
                "yesterday",
                "week",
                "month",
                "range",
                "stories",
                "backlog",
                "chart",
                "export",
                "explain",
                "help"
            ]
        );
        let chart = &subs[7];
        assert_eq!(chart["type"], 1);
        assert_eq!(
            chart["options"][0]["choices"].as_array().map(Vec::len),
            Some(4)
        );
        assert_eq!(chart["options"][1]["type"], 4);
        assert_eq!(chart["options"][1]["min_value"], 1);
        assert_eq!(chart["options"][1]["max_value"], 90);
        assert_eq!(subs[0]["options"][0]["autocomplete"], true);
    }
}
