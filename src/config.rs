//! `config.toml` + environment overrides → a validated `Config`.
//!
//! Parsing is strict: every unknown key is reported (with its path), then the whole file is
//! validated at once so a user sees every problem in one run, each with its key path, what is
//! wrong and an example of a right value. Secrets (tokens) never live in the file: they come
//! from environment variables and are held as `SecretString`, which never prints.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use secrecy::SecretString;
use serde::Deserialize;

use crate::model::{Category, Platform};

/// Environment variable that overrides `database`.
pub const ENV_DATABASE: &str = "CAREPULSE_DATABASE";
/// Environment variable holding the Discord bot token.
pub const ENV_DISCORD_TOKEN: &str = "CAREPULSE_DISCORD_TOKEN";
/// Environment variable holding the token that protects the push endpoint.
pub const ENV_PUSH_TOKEN: &str = "CAREPULSE_PUSH_TOKEN";

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where: `care.sla_target`, `brands[1].name`, ...
    pub key: String,
    /// What is wrong.
    pub problem: String,
    /// A value that would be right.
    pub example: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)?;
        if !self.example.is_empty() {
            write!(f, " (for example: {})", self.example)?;
        }
        Ok(())
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}. Pass --config PATH, or run carepulse from the folder that holds config.toml")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<ConfigProblem>,
    },
}

// ---------------------------------------------------------------------------------------------
// Raw file shape (what serde reads). Strings for durations, zones and times are checked in
// `validate`, so every problem is reported together.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, Default)]
struct RawConfig {
    database: Option<String>,
    timezone: Option<String>,
    #[serde(default)]
    care: RawCare,
    business_hours: Option<RawBusinessHours>,
    #[serde(default)]
    brands: Vec<RawBrand>,
    #[serde(default)]
    products: Vec<RawKeywordRule>,
    #[serde(default)]
    topics: Vec<RawKeywordRule>,
    #[serde(default)]
    sources: Vec<toml::Value>,
    chat: Option<RawChat>,
    #[serde(default)]
    digests: Vec<RawDigest>,
    /// Checked by `crate::alerts::AlertsConfig` (its own strict shape).
    alerts: Option<toml::Value>,
}

#[derive(Debug, Deserialize, Default)]
struct RawCare {
    sla_target: Option<String>,
    conversation_gap: Option<String>,
    auto_resolve_after: Option<String>,
    actionable: Option<Vec<String>>,
    redirect_patterns: Option<Vec<String>>,
    #[serde(default)]
    cost_per_contact: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
struct RawBusinessHours {
    timezone: Option<String>,
    days: Option<Vec<String>>,
    open: Option<String>,
    close: Option<String>,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawBrand {
    name: Option<String>,
    #[serde(default)]
    accounts: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct RawKeywordRule {
    name: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawChat {
    kind: Option<String>,
    charts_dir: Option<String>,
    alert_channel: Option<String>,
    discord: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
struct RawDigest {
    name: Option<String>,
    cron: Option<String>,
    window: Option<String>,
    channel: Option<String>,
    catch_up: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawDemoSource {
    name: Option<String>,
    brand: Option<String>,
    seed: Option<u64>,
    per_hour: Option<f64>,
    history_days: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Validated configuration.
// ---------------------------------------------------------------------------------------------

/// The validated configuration the whole app runs on.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the file was read from (for messages).
    pub path: PathBuf,
    pub database: PathBuf,
    pub timezone: Tz,
    pub care: CareRules,
    pub business_hours: Option<BusinessHours>,
    pub brands: Vec<Brand>,
    pub products: Vec<KeywordRule>,
    pub topics: Vec<KeywordRule>,
    pub sources: Vec<SourceSpec>,
    pub chat: ChatConfig,
    pub digests: Vec<DigestSchedule>,
    pub alerts: crate::alerts::AlertsConfig,
}

/// Rules of care that shape the KPIs.
#[derive(Debug, Clone, PartialEq)]
pub struct CareRules {
    pub sla_target: Duration,
    pub conversation_gap: Duration,
    pub auto_resolve_after: Duration,
    pub actionable: Vec<Category>,
    pub redirect_patterns: Vec<String>,
    pub cost_per_contact: BTreeMap<String, f64>,
}

impl Default for CareRules {
    fn default() -> Self {
        CareRules {
            sla_target: Duration::from_secs(3600),
            conversation_gap: Duration::from_secs(24 * 3600),
            auto_resolve_after: Duration::from_secs(24 * 3600),
            actionable: vec![Category::Complaint, Category::Inquiry],
            redirect_patterns: default_redirect_patterns(),
            cost_per_contact: BTreeMap::new(),
        }
    }
}

/// Phrases in a brand reply that send the customer to a costlier channel.
pub fn default_redirect_patterns() -> Vec<String> {
    [
        r"\bcall (us|our)\b",
        r"\bphone (us|our|number)\b",
        r"\bgive us a (call|ring)\b",
        r"\bemail us\b",
        r"\be-mail us\b",
        r"\bcontact us at\b",
        r"\b1[- ]?8\d\d[- ]?\d{3}[- ]?\d{4}\b",
        r"\b[\w.+-]+@[\w-]+\.[\w.]+\b",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Opening hours for business-time KPIs.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    pub timezone: Tz,
    pub days: Vec<Weekday>,
    pub open: NaiveTime,
    pub close: NaiveTime,
    pub holidays: Vec<NaiveDate>,
}

/// A brand and its own accounts per platform (their messages are outbound).
#[derive(Debug, Clone, PartialEq)]
pub struct Brand {
    pub name: String,
    pub accounts: BTreeMap<Platform, Vec<String>>,
}

/// A product or topic and the words that name it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordRule {
    pub name: String,
    pub keywords: Vec<String>,
}

/// A configured source of messages.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    Demo(DemoSourceConfig),
    /// A platform source (x, mastodon, bluesky, facebook), kept as written; `sources::config`
    /// parses and checks it when the sources are built.
    Platform {
        name: String,
        table: toml::Value,
    },
}

impl SourceSpec {
    pub fn name(&self) -> &str {
        match self {
            SourceSpec::Demo(d) => &d.name,
            SourceSpec::Platform { name, .. } => name,
        }
    }
}

/// The simulator that keeps producing messages while the bot runs.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSourceConfig {
    pub name: String,
    pub brand: String,
    pub seed: u64,
    /// Average inbound messages per hour at the daily peak.
    pub per_hour: f64,
    /// Days of history to simulate when the database is empty.
    pub history_days: u32,
}

/// Which chat the bot speaks in.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub kind: ChatKind,
    /// Folder where the console chat writes charts.
    pub charts_dir: PathBuf,
    /// Channel for alerts.
    pub alert_channel: String,
    /// Discord settings, when `kind = "discord"` (raw: parsed by the Discord transport).
    pub discord: Option<toml::Value>,
    pub discord_token: Option<SecretString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    Console,
    Discord,
}

/// A scheduled digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestSchedule {
    pub name: String,
    /// Cron expression normalised to the six-field form (seconds first).
    pub cron: String,
    /// Whether the file gave a classic five-field expression (seconds were added as 0).
    pub cron_was_five_fields: bool,
    pub window: DigestWindow,
    pub channel: String,
    /// How late a missed digest may still be posted.
    pub catch_up: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestWindow {
    Today,
    Yesterday,
    Week,
    Month,
}

impl DigestWindow {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestWindow::Today => "today",
            DigestWindow::Yesterday => "yesterday",
            DigestWindow::Week => "week",
            DigestWindow::Month => "month",
        }
    }
}

/// Environment lookup, injectable for tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    /// Reads and validates a file, applying environment overrides.
    pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path, env)
    }

    /// Parses and validates configuration text (`path` is only used in messages).
    pub fn parse(text: &str, path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let mut unknown = Vec::new();
        let de = toml::Deserializer::new(text);
        let raw: RawConfig = serde_ignored::deserialize(de, |p| unknown.push(p.to_string()))
            .map_err(|e| ConfigError::Syntax {
                path: path.to_path_buf(),
                message: e.to_string().trim().to_string(),
            })?;
        let mut problems: Vec<ConfigProblem> = unknown
            .into_iter()
            .map(|key| ConfigProblem {
                problem: "unknown key (misspelt, or not a carepulse setting)".into(),
                example: "see the documented config.toml shipped with carepulse".into(),
                key,
            })
            .collect();
        let config = validate(raw, path, env, &mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// The brand whose accounts include `handle` on `platform`.
    pub fn brand_of_account(&self, platform: Platform, handle: &str) -> Option<&Brand> {
        let h = normalise_handle(handle);
        self.brands.iter().find(|b| {
            b.accounts
                .get(&platform)
                .is_some_and(|accts| accts.iter().any(|a| normalise_handle(a) == h))
        })
    }
}

/// Handles compare without a leading `@` and case-insensitively.
pub fn normalise_handle(h: &str) -> String {
    h.trim().trim_start_matches('@').to_lowercase()
}

fn problem(
    problems: &mut Vec<ConfigProblem>,
    key: impl Into<String>,
    what: impl Into<String>,
    example: &str,
) {
    problems.push(ConfigProblem {
        key: key.into(),
        problem: what.into(),
        example: example.into(),
    });
}

fn parse_duration(
    problems: &mut Vec<ConfigProblem>,
    key: &str,
    value: Option<&str>,
    default: Duration,
    example: &str,
) -> Duration {
    match value {
        None => default,
        Some(s) => match humantime::parse_duration(s.trim()) {
            Ok(d) if d.as_secs() > 0 => d,
            Ok(_) => {
                problem(problems, key, "must be longer than zero", example);
                default
            }
            Err(e) => {
                problem(
                    problems,
                    key,
                    format!("'{s}' is not a duration ({e})"),
                    example,
                );
                default
            }
        },
    }
}

fn parse_tz(problems: &mut Vec<ConfigProblem>, key: &str, value: &str) -> Tz {
    match value.parse::<Tz>() {
        Ok(tz) => tz,
        Err(_) => {
            problem(
                problems,
                key,
                format!("'{value}' is not an IANA time zone"),
                "\"Europe/London\" or \"America/New_York\" or \"UTC\"",
            );
            Tz::UTC
        }
    }
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    match s.trim().to_ascii_lowercase().get(..3)? {
        "mon" => Some(Weekday::Mon),
        "tue" => Some(Weekday::Tue),
        "wed" => Some(Weekday::Wed),
        "thu" => Some(Weekday::Thu),
        "fri" => Some(Weekday::Fri),
        "sat" => Some(Weekday::Sat),
        "sun" => Some(Weekday::Sun),
        _ => None,
    }
}

/// Accepts classic five-field cron (minute first) and the six/seven-field form with seconds;
/// returns the six-or-seven-field form and whether five fields were given.
pub fn normalise_cron(expr: &str) -> Result<(String, bool), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let (six, five) = match fields.len() {
        5 => (format!("0 {}", fields.join(" ")), true),
        6 | 7 => (fields.join(" "), false),
        n => return Err(format!("'{expr}' has {n} fields; cron takes 5 (minute hour day month weekday) or 6 (with seconds first)")),
    };
    six.parse::<cron::Schedule>()
        .map_err(|e| format!("'{expr}' is not a valid cron expression ({e})"))?;
    Ok((six, five))
}

fn validate(
    raw: RawConfig,
    path: &Path,
    env: EnvLookup<'_>,
    problems: &mut Vec<ConfigProblem>,
) -> Config {
    let database = env(ENV_DATABASE)
        .or(raw.database)
        .unwrap_or_else(|| "carepulse.db".to_string());
    if database.trim().is_empty() {
        problem(
            problems,
            "database",
            "must not be empty",
            "\"carepulse.db\"",
        );
    }
    let timezone = parse_tz(
        problems,
        "timezone",
        raw.timezone.as_deref().unwrap_or("UTC"),
    );

    // care
    let defaults = CareRules::default();
    let c = raw.care;
    let sla_target = parse_duration(
        problems,
        "care.sla_target",
        c.sla_target.as_deref(),
        defaults.sla_target,
        "\"60m\"",
    );
    let conversation_gap = parse_duration(
        problems,
        "care.conversation_gap",
        c.conversation_gap.as_deref(),
        defaults.conversation_gap,
        "\"24h\"",
    );
    let auto_resolve_after = parse_duration(
        problems,
        "care.auto_resolve_after",
        c.auto_resolve_after.as_deref(),
        defaults.auto_resolve_after,
        "\"24h\"",
    );
    let mut actionable = Vec::new();
    for (i, a) in c
        .actionable
        .clone()
        .unwrap_or_else(|| vec!["complaint".into(), "inquiry".into()])
        .iter()
        .enumerate()
    {
        match a.parse::<Category>() {
            Ok(cat) => actionable.push(cat),
            Err(e) => problem(
                problems,
                format!("care.actionable[{i}]"),
                e.to_string(),
                "[\"complaint\", \"inquiry\"]",
            ),
        }
    }
    let redirect_patterns = c.redirect_patterns.unwrap_or(defaults.redirect_patterns);
    for (i, p) in redirect_patterns.iter().enumerate() {
        // Parsed, not compiled: compiling means building automata (milliseconds for a
        // Unicode `\w`), which every command would pay at start-up; ingest compiles them.
        if let Err(e) = regex_syntax::Parser::new().parse(&format!("(?i){p}")) {
            problem(
                problems,
                format!("care.redirect_patterns[{i}]"),
                format!("not a valid regular expression: {e}"),
                "\"\\\\bcall us\\\\b\"",
            );
        }
    }
    for (k, v) in &c.cost_per_contact {
        if !(v.is_finite() && *v >= 0.0) {
            problem(
                problems,
                format!("care.cost_per_contact.{k}"),
                "must be a cost of zero or more",
                "6.5",
            );
        }
    }
    let care = CareRules {
        sla_target,
        conversation_gap,
        auto_resolve_after,
        actionable,
        redirect_patterns,
        cost_per_contact: c.cost_per_contact,
    };

    // business hours
    let business_hours = raw.business_hours.map(|b| {
        let tz = b
            .timezone
            .as_deref()
            .map(|t| parse_tz(problems, "business_hours.timezone", t))
            .unwrap_or(timezone);
        let mut days = Vec::new();
        for (i, d) in b
            .days
            .unwrap_or_else(|| {
                ["mon", "tue", "wed", "thu", "fri"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            })
            .iter()
            .enumerate()
        {
            match parse_weekday(d) {
                Some(w) => days.push(w),
                None => problem(
                    problems,
                    format!("business_hours.days[{i}]"),
                    format!("'{d}' is not a weekday"),
                    "[\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]",
                ),
            }
        }
        let time = |problems: &mut Vec<ConfigProblem>,
                    key: &str,
                    v: Option<String>,
                    dflt: &str|
         -> NaiveTime {
            let s = v.unwrap_or_else(|| dflt.to_string());
            NaiveTime::parse_from_str(s.trim(), "%H:%M").unwrap_or_else(|_| {
                problem(
                    problems,
                    key,
                    format!("'{s}' is not a time of day HH:MM"),
                    "\"09:00\"",
                );
                NaiveTime::MIN
            })
        };
        let open = time(problems, "business_hours.open", b.open, "09:00");
        let close = time(problems, "business_hours.close", b.close, "17:00");
        if close <= open {
            problem(
                problems,
                "business_hours.close",
                "must be later than open",
                "open = \"09:00\", close = \"17:00\"",
            );
        }
        let mut holidays = Vec::new();
        for (i, h) in b.holidays.iter().enumerate() {
            match NaiveDate::parse_from_str(h.trim(), "%Y-%m-%d") {
                Ok(d) => holidays.push(d),
                Err(_) => problem(
                    problems,
                    format!("business_hours.holidays[{i}]"),
                    format!("'{h}' is not a date"),
                    "\"2026-12-25\"",
                ),
            }
        }
        BusinessHours {
            timezone: tz,
            days,
            open,
            close,
            holidays,
        }
    });

    // brands
    let mut brands = Vec::new();
    for (i, b) in raw.brands.into_iter().enumerate() {
        let name = b.name.unwrap_or_default();
        if name.trim().is_empty() {
            problem(
                problems,
                format!("brands[{i}].name"),
                "every brand needs a name",
                "name = \"Northwind\"",
            );
        }
        let mut accounts = BTreeMap::new();
        for (p, handles) in b.accounts {
            match p.parse::<Platform>() {
                Ok(platform) => {
                    accounts.insert(platform, handles);
                }
                Err(e) => problem(
                    problems,
                    format!("brands[{i}].accounts.{p}"),
                    e.to_string(),
                    "x = [\"NorthwindHelp\"]",
                ),
            }
        }
        brands.push(Brand { name, accounts });
    }
    if brands.is_empty() {
        problem(
            problems,
            "brands",
            "name at least one brand",
            "[[brands]] name = \"Northwind\"",
        );
    }

    let rules = |problems: &mut Vec<ConfigProblem>,
                 section: &str,
                 list: Vec<RawKeywordRule>|
     -> Vec<KeywordRule> {
        list.into_iter()
            .enumerate()
            .map(|(i, r)| {
                let name = r.name.unwrap_or_default();
                if name.trim().is_empty() {
                    problem(
                        problems,
                        format!("{section}[{i}].name"),
                        "needs a name",
                        "name = \"delivery\"",
                    );
                }
                if r.keywords.is_empty() || r.keywords.iter().any(|k| k.trim().is_empty()) {
                    problem(
                        problems,
                        format!("{section}[{i}].keywords"),
                        "needs one or more non-empty keywords",
                        "keywords = [\"delivery\", \"courier\"]",
                    );
                }
                KeywordRule {
                    name,
                    keywords: r.keywords,
                }
            })
            .collect()
    };
    let products = rules(problems, "products", raw.products);
    let topics = rules(problems, "topics", raw.topics);

    // sources
    let mut sources = Vec::new();
    for (i, value) in raw.sources.into_iter().enumerate() {
        let key = format!("sources[{i}]");
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .map(str::to_string);
        match kind.as_deref() {
            Some("demo") => {
                let mut table = value.clone();
                if let Some(t) = table.as_table_mut() {
                    t.remove("kind");
                }
                let mut unknown = Vec::new();
                match serde_ignored::deserialize(table, |p| unknown.push(p.to_string())) {
                    Ok(RawDemoSource {
                        name,
                        brand,
                        seed,
                        per_hour,
                        history_days,
                    }) => {
                        for u in unknown {
                            problem(
                                problems,
                                format!("{key}.{u}"),
                                "unknown key for a demo source",
                                "name, brand, seed, per_hour, history_days",
                            );
                        }
                        let brand = brand
                            .or_else(|| brands.first().map(|b| b.name.clone()))
                            .unwrap_or_default();
                        if !brands.iter().any(|b| b.name == brand) {
                            problem(
                                problems,
                                format!("{key}.brand"),
                                format!("'{brand}' is not one of [[brands]]"),
                                "brand = \"Northwind\"",
                            );
                        }
                        let per_hour = per_hour.unwrap_or(40.0);
                        if !(per_hour > 0.0 && per_hour <= 100_000.0) {
                            problem(
                                problems,
                                format!("{key}.per_hour"),
                                "must be between 0 and 100000 messages per hour",
                                "per_hour = 40.0",
                            );
                        }
                        sources.push(SourceSpec::Demo(DemoSourceConfig {
                            name: name.unwrap_or_else(|| "demo".into()),
                            brand,
                            seed: seed.unwrap_or(7),
                            per_hour,
                            history_days: history_days.unwrap_or(21),
                        }));
                    }
                    Err(e) => problem(
                        problems,
                        key,
                        format!("not a valid demo source: {e}"),
                        "kind = \"demo\", brand = \"Northwind\"",
                    ),
                }
            }
            Some("x" | "mastodon" | "bluesky" | "facebook") => {
                let name = value
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("source-{i}"));
                sources.push(SourceSpec::Platform { name, table: value });
            }
            Some(other) => problem(
                problems,
                format!("{key}.kind"),
                format!("'{other}' is not a source kind this build knows"),
                "kind = \"demo\", \"x\", \"mastodon\", \"bluesky\" or \"facebook\"",
            ),
            None => problem(
                problems,
                format!("{key}.kind"),
                "every source needs a kind",
                "kind = \"demo\"",
            ),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in sources.iter().enumerate() {
        if !seen.insert(s.name().to_string()) {
            problem(
                problems,
                format!("sources[{i}].name"),
                format!(
                    "'{}' is used by two sources; names must be unique",
                    s.name()
                ),
                "name = \"x-northwind\"",
            );
        }
    }

    // chat
    let raw_chat = raw.chat.unwrap_or(RawChat {
        kind: None,
        charts_dir: None,
        alert_channel: None,
        discord: None,
    });
    let kind = match raw_chat.kind.as_deref().unwrap_or("console") {
        "console" => ChatKind::Console,
        "discord" => ChatKind::Discord,
        other => {
            problem(
                problems,
                "chat.kind",
                format!("'{other}' is not a chat this build speaks"),
                "\"console\" or \"discord\"",
            );
            ChatKind::Console
        }
    };
    let discord_token = env(ENV_DISCORD_TOKEN).map(SecretString::from);
    if kind == ChatKind::Discord && discord_token.is_none() {
        problem(
            problems,
            "chat.kind",
            format!("is \"discord\" but the environment variable {ENV_DISCORD_TOKEN} is not set"),
            "export CAREPULSE_DISCORD_TOKEN=... (the bot token from the Discord developer portal)",
        );
    }
    let chat = ChatConfig {
        kind,
        charts_dir: PathBuf::from(raw_chat.charts_dir.unwrap_or_else(|| "charts".into())),
        alert_channel: raw_chat
            .alert_channel
            .unwrap_or_else(|| "care-alerts".into()),
        discord: raw_chat.discord,
        discord_token,
    };

    // digests
    let mut digests = Vec::new();
    for (i, d) in raw.digests.into_iter().enumerate() {
        let key = format!("digests[{i}]");
        let name = d.name.unwrap_or_else(|| format!("digest-{i}"));
        let (cron, five) = match d.cron.as_deref() {
            Some(expr) => normalise_cron(expr).unwrap_or_else(|e| {
                problem(
                    problems,
                    format!("{key}.cron"),
                    e,
                    "\"0 9 * * *\" (09:00 every day) or \"0 0 9 * * Mon\"",
                );
                (String::new(), false)
            }),
            None => {
                problem(
                    problems,
                    format!("{key}.cron"),
                    "every digest needs a schedule",
                    "cron = \"0 9 * * *\"",
                );
                (String::new(), false)
            }
        };
        let window = match d.window.as_deref().unwrap_or("yesterday") {
            "today" => DigestWindow::Today,
            "yesterday" => DigestWindow::Yesterday,
            "week" => DigestWindow::Week,
            "month" => DigestWindow::Month,
            other => {
                problem(
                    problems,
                    format!("{key}.window"),
                    format!("'{other}' is not a window"),
                    "\"yesterday\", \"today\", \"week\" or \"month\"",
                );
                DigestWindow::Yesterday
            }
        };
        let catch_up = parse_duration(
            problems,
            &format!("{key}.catch_up"),
            d.catch_up.as_deref(),
            Duration::from_secs(6 * 3600),
            "\"6h\"",
        );
        digests.push(DigestSchedule {
            name,
            cron,
            cron_was_five_fields: five,
            window,
            channel: d.channel.unwrap_or_else(|| "care-team".into()),
            catch_up,
        });
    }

    // alerts: the section's own shape; its channel defaults to chat.alert_channel and its time
    // zone to the top-level one.
    let alerts = match raw.alerts {
        None => crate::alerts::AlertsConfig {
            channel: chat.alert_channel.clone(),
            timezone: timezone.name().to_string(),
            ..Default::default()
        },
        Some(value) => {
            let has = |k: &str| value.get(k).is_some();
            let (has_channel, has_tz) = (has("channel"), has("timezone"));
            match value.try_into::<crate::alerts::AlertsConfig>() {
                Ok(mut a) => {
                    if !has_channel {
                        a.channel = chat.alert_channel.clone();
                    }
                    if !has_tz {
                        a.timezone = timezone.name().to_string();
                    }
                    if let Err(e) = a.validate() {
                        problem(
                            problems,
                            "alerts",
                            e.to_string(),
                            "see the [alerts] section of the shipped config.toml",
                        );
                    }
                    a
                }
                Err(e) => {
                    problem(
                        problems,
                        "alerts",
                        e.to_string().trim().to_string(),
                        "preset = \"balanced\", bucket = \"5m\", cooldown = \"60m\"",
                    );
                    crate::alerts::AlertsConfig::default()
                }
            }
        }
    };

    Config {
        path: path.to_path_buf(),
        database: PathBuf::from(database),
        timezone,
        care,
        business_hours,
        brands,
        products,
        topics,
        sources,
        chat,
        digests,
        alerts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"), &no_env)
    }

    const MINIMAL: &str = "[[brands]]\nname = \"Acme\"\naccounts = { x = [\"AcmeHelp\"] }\n";

    #[test]
    fn shipped_config_is_valid() {
        let text = include_str!("../config.toml");
        let cfg = parse(text).expect("shipped config.toml must validate");
        assert_eq!(cfg.chat.kind, ChatKind::Console);
        assert!(matches!(cfg.sources.first(), Some(SourceSpec::Demo(_))));
        assert!(!cfg.products.is_empty() && !cfg.topics.is_empty());
        assert!(!cfg.digests.is_empty());
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = parse(MINIMAL).expect("valid");
        assert_eq!(cfg.care.sla_target, Duration::from_secs(3600));
        assert_eq!(cfg.database, PathBuf::from("carepulse.db"));
        assert_eq!(cfg.timezone, Tz::UTC);
        assert!(cfg.brand_of_account(Platform::X, "@acmehelp").is_some());
        assert!(cfg
            .brand_of_account(Platform::Facebook, "AcmeHelp")
            .is_none());
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let text = format!(
            "timezone = \"Mars/Olympus\"\nsurprise = 1\n{MINIMAL}[care]\nsla_target = \"soon\"\nactionable = [\"rant\"]\n[[digests]]\ncron = \"every day\"\nwindow = \"fortnight\"\n"
        );
        let err = parse(&text).expect_err("must fail");
        let ConfigError::Invalid { problems, .. } = err else {
            panic!("expected validation problems, got {err}");
        };
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        for k in [
            "surprise",
            "timezone",
            "care.sla_target",
            "care.actionable[0]",
            "digests[0].cron",
            "digests[0].window",
        ] {
            assert!(keys.contains(&k), "missing {k} in {keys:?}");
        }
        assert!(problems.iter().all(|p| !p.example.is_empty()));
    }

    #[test]
    fn unknown_nested_key_has_its_path() {
        let err = parse(&format!("{MINIMAL}[care]\nsla_targte = \"1h\"\n")).expect_err("must fail");
        assert!(err.to_string().contains("care.sla_targte"), "{err}");
    }

    #[test]
    fn a_broken_redirect_pattern_is_named_and_a_good_one_passes() {
        let err = parse(&format!(
            "{MINIMAL}[care]\nredirect_patterns = ['\\bcall us\\b', 'dm (us']\n"
        ))
        .expect_err("must fail");
        let ConfigError::Invalid { problems, .. } = err else {
            panic!("expected validation problems, got {err}");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].key, "care.redirect_patterns[1]");
        assert!(
            problems[0]
                .problem
                .contains("not a valid regular expression"),
            "{problems:?}"
        );
    }

    #[test]
    fn syntax_error_names_the_file() {
        let err = parse("database = ").expect_err("must fail");
        assert!(matches!(err, ConfigError::Syntax { .. }));
        assert!(err.to_string().contains("test.toml"));
    }

    #[test]
    fn environment_overrides_database_and_supplies_token_secretly() {
        let env = |k: &str| match k {
            ENV_DATABASE => Some("/tmp/other.db".to_string()),
            ENV_DISCORD_TOKEN => Some("very-secret-token".to_string()),
            _ => None,
        };
        let cfg = Config::parse(
            &format!("{MINIMAL}[chat]\nkind = \"discord\"\n"),
            Path::new("t.toml"),
            &env,
        )
        .expect("valid");
        assert_eq!(cfg.database, PathBuf::from("/tmp/other.db"));
        let printed = format!("{cfg:?}");
        assert!(
            !printed.contains("very-secret-token"),
            "token leaked into Debug output"
        );
    }

    #[test]
    fn alerts_section_is_strict_and_inherits_channel_and_zone() {
        let c = parse(&format!(
            "timezone = \"Europe/Paris\"\n{MINIMAL}[chat]\nalert_channel = \"oncall\"\n"
        ))
        .expect("valid");
        assert_eq!(c.alerts.channel, "oncall");
        assert_eq!(c.alerts.timezone, "Europe/Paris");
        let c = parse(&format!(
            "{MINIMAL}[alerts]\npreset = \"strict\"\nchannel = \"pager\"\n"
        ))
        .expect("valid");
        assert_eq!(c.alerts.channel, "pager");
        let err = parse(&format!(
            "{MINIMAL}[alerts]\npreset = \"wild\"\ncooldwn = \"5m\"\n"
        ))
        .expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("alerts"), "{text}");
        let err =
            parse(&format!("{MINIMAL}[alerts]\ncooldown = \"soon\"\n")).expect_err("must fail");
        assert!(err.to_string().contains("alerts.cooldown"), "{err}");
    }

    #[test]
    fn discord_without_token_is_a_clear_problem() {
        let err = parse(&format!("{MINIMAL}[chat]\nkind = \"discord\"\n")).expect_err("must fail");
        assert!(err.to_string().contains(ENV_DISCORD_TOKEN));
    }

    #[test]
    fn five_field_cron_is_accepted_and_flagged() {
        assert_eq!(
            normalise_cron("0 9 * * *"),
            Ok(("0 0 9 * * *".to_string(), true))
        );
        assert_eq!(
            normalise_cron("0 0 9 * * Mon"),
            Ok(("0 0 9 * * Mon".to_string(), false))
        );
        assert!(normalise_cron("9am").is_err());
    }

    #[test]
    fn business_hours_validate() {
        let cfg = parse(&format!("{MINIMAL}[business_hours]\nopen = \"09:00\"\nclose = \"17:00\"\nholidays = [\"2026-12-25\"]\n")).expect("valid");
        let bh = cfg.business_hours.expect("present");
        assert_eq!(bh.days.len(), 5);
        assert_eq!(bh.holidays.len(), 1);
        let err = parse(&format!(
            "{MINIMAL}[business_hours]\nopen = \"18:00\"\nclose = \"9\"\n"
        ))
        .expect_err("must fail");
        assert!(err.to_string().contains("business_hours.close"));
    }

    #[test]
    fn demo_source_must_name_a_known_brand() {
        let err = parse(&format!(
            "{MINIMAL}[[sources]]\nkind = \"demo\"\nbrand = \"Nobody\"\n"
        ))
        .expect_err("must fail");
        assert!(err.to_string().contains("sources[0].brand"), "{err}");
        let err = parse(&format!(
            "{MINIMAL}[[sources]]\nkind = \"carrier-pigeon\"\n"
        ))
        .expect_err("must fail");
        assert!(err.to_string().contains("sources[0].kind"), "{err}");
    }
}
