//! What the KPI engine reads: the rules (from config), and the rows the store gathers for a
//! window and its comparison windows. Plain data: the store fills it, pure functions read it.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::Serialize;

use crate::config::{BusinessHours, Config};
use crate::kpi::resolution::ResolvedStats;
use crate::kpi::response::StartedStats;
use crate::kpi::window::Window;
use crate::model::{ConversationFacts, MessageAggregate, Platform, UnixSeconds};

/// Care rules the metrics depend on.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiRules {
    pub timezone: Tz,
    /// Grade-of-service target, seconds.
    pub sla_target_s: i64,
    /// Silence after a brand reply that resolves a conversation, seconds.
    pub auto_resolve_after_s: i64,
    pub business_hours: Option<BusinessHours>,
    /// Cost of one contact per channel ("phone", "email", or a platform name).
    pub cost_per_contact: BTreeMap<String, f64>,
}

impl Default for KpiRules {
    fn default() -> Self {
        KpiRules {
            timezone: Tz::UTC,
            sla_target_s: 3600,
            auto_resolve_after_s: 24 * 3600,
            business_hours: None,
            cost_per_contact: BTreeMap::new(),
        }
    }
}

impl KpiRules {
    pub fn from_config(config: &Config) -> KpiRules {
        KpiRules {
            timezone: config.timezone,
            sla_target_s: config.care.sla_target.as_secs() as i64,
            auto_resolve_after_s: config.care.auto_resolve_after.as_secs() as i64,
            business_hours: config.business_hours.clone(),
            cost_per_contact: config.care.cost_per_contact.clone(),
        }
    }
}

/// Inbound messages with one combination of products and topics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TagCount {
    pub products: Vec<String>,
    pub topics: Vec<String>,
    pub count: i64,
}

/// Everything one window's `Report` needs.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowInputs {
    pub window: Window,
    pub messages: Vec<MessageAggregate>,
    /// Inbound message counts by (products, topics).
    pub tags: Vec<TagCount>,
    /// Conversations whose first inbound message is in the window.
    pub started: Vec<ConversationFacts>,
    /// Candidates for resolution in the window (a superset is fine: the engine re-checks).
    pub resolved: Vec<ConversationFacts>,
    /// Inbound counts per 15-minute bucket: (bucket start, count). Any bucket start inside a
    /// local day counts for that day, so the store may give one count per local day.
    pub inbound_buckets: Vec<(UnixSeconds, i64)>,
    /// When set, responsiveness reads these (computed by the store in SQL) instead of
    /// `started`, which is then empty.
    pub started_stats: Option<StartedStats>,
    /// When set, resolution reads these (computed by the store in SQL, resolved in the window
    /// at `now`) instead of `resolved`, which is then empty.
    pub resolved_stats: Option<ResolvedStats>,
}

impl WindowInputs {
    /// An empty window (no data).
    pub fn empty(window: Window) -> WindowInputs {
        WindowInputs {
            window,
            messages: Vec::new(),
            tags: Vec::new(),
            started: Vec::new(),
            resolved: Vec::new(),
            inbound_buckets: Vec::new(),
            started_stats: None,
            resolved_stats: None,
        }
    }
}

/// Width of the inbound buckets: every time zone offset in use is a multiple of 15 min, so
/// each bucket falls in exactly one local day.
pub const BUCKET_S: i64 = 900;

/// An inbound praise message, a success-story candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PraiseMessage {
    pub id: i64,
    pub author: String,
    pub platform: Platform,
    pub text: String,
    pub url: Option<String>,
    pub compound: f64,
    pub engagement: Option<i64>,
    pub created_at: UnixSeconds,
}

/// One author's praise and helpful replies in the trailing 30 days.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuthorActivity {
    pub author: String,
    pub platform: Option<Platform>,
    pub praise: i64,
    pub helpful: i64,
}

/// A conversation as the responsiveness badge reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BadgeConversation {
    pub platform: Platform,
    pub first_inbound_at: UnixSeconds,
    pub first_response_at: Option<UnixSeconds>,
}

/// Actionable conversations whose customer waits at now.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BacklogRow {
    pub count: i64,
    pub oldest_waiting_since: Option<UnixSeconds>,
}

/// Everything `full_report` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiInputs {
    pub brand: Option<String>,
    pub platform: Option<Platform>,
    pub product: Option<String>,
    /// What the window is called ("yesterday", "2026-11-01 to 2026-11-07").
    pub label: String,
    pub current: WindowInputs,
    pub previous: Option<WindowInputs>,
    /// Same weekday a week earlier (daily windows only).
    pub week_earlier: Option<WindowInputs>,
    pub backlog: BacklogRow,
    pub praise: Vec<PraiseMessage>,
    /// Conversations whose last inbound message is in the window and may be turnarounds.
    pub turnarounds: Vec<ConversationFacts>,
    /// When set, the number of turnarounds in the window, and `turnarounds` holds only the
    /// quickest ones (the store counts in SQL and lists the first few).
    pub turnarounds_total: Option<i64>,
    pub loyalty: Vec<AuthorActivity>,
    /// Actionable conversations started in the 7 days ending at the window's end.
    pub badge: Vec<BadgeConversation>,
}
