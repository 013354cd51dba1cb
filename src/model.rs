//! Domain types shared by every module: platforms, directions, categories, messages as they
//! arrive, their classification, and the per-conversation facts the store keeps current at
//! ingest. Pure data: no I/O, no clock.
//!
//! Instants inside conversation facts are Unix seconds (`i64`, UTC): they are compared and
//! subtracted millions of times per report, and seconds are the unit of every KPI duration.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Unix time in seconds, UTC.
pub type UnixSeconds = i64;

/// A social platform carepulse reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    X,
    Facebook,
    Mastodon,
    Bluesky,
}

impl Platform {
    pub const ALL: [Platform; 4] = [
        Platform::X,
        Platform::Facebook,
        Platform::Mastodon,
        Platform::Bluesky,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::X => "x",
            Platform::Facebook => "facebook",
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
        }
    }

    /// Name for people: "X", "Facebook", ...
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::X => "X",
            Platform::Facebook => "Facebook",
            Platform::Mastodon => "Mastodon",
            Platform::Bluesky => "Bluesky",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a word that names no known value of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{given}': expected one of {expected}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub given: String,
    pub expected: &'static str,
}

impl FromStr for Platform {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x" | "twitter" => Ok(Platform::X),
            "facebook" | "fb" => Ok(Platform::Facebook),
            "mastodon" => Ok(Platform::Mastodon),
            "bluesky" | "bsky" => Ok(Platform::Bluesky),
            _ => Err(UnknownName {
                kind: "platform",
                given: s.to_string(),
                expected: "x, facebook, mastodon, bluesky",
            }),
        }
    }
}

/// Who wrote a message: a customer (inbound) or one of the brand's own accounts (outbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl FromStr for Direction {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "inbound" | "in" => Ok(Direction::Inbound),
            "outbound" | "out" => Ok(Direction::Outbound),
            _ => Err(UnknownName {
                kind: "direction",
                given: s.to_string(),
                expected: "inbound, outbound",
            }),
        }
    }
}

/// What a message is about, from the care team's point of view (KPI.md, Categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Complaint,
    Inquiry,
    Praise,
    Other,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Complaint,
        Category::Inquiry,
        Category::Praise,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Complaint => "complaint",
            Category::Inquiry => "inquiry",
            Category::Praise => "praise",
            Category::Other => "other",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "complaint" => Ok(Category::Complaint),
            "inquiry" => Ok(Category::Inquiry),
            "praise" => Ok(Category::Praise),
            "other" => Ok(Category::Other),
            _ => Err(UnknownName {
                kind: "category",
                given: s.to_string(),
                expected: "complaint, inquiry, praise, other",
            }),
        }
    }
}

/// VADER's four scores for one text.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sentiment {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
}

/// Everything `classify` says about one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub sentiment: Sentiment,
    pub category: Category,
    /// Confidence of `category`, in [0, 1].
    pub confidence: f64,
    /// Probability that the message is a complaint, in [0, 1].
    pub complaint_score: f64,
    pub products: Vec<String>,
    pub topics: Vec<String>,
}

/// A message as a source delivers it, before it is stored.
///
/// `external_id` is unique per platform; `reply_to` is the external id of the message it
/// answers; `conversation_ref` is the platform's own conversation id where it gives one
/// (X's `conversation_id`, a Messenger thread id). `customer` names the customer an outbound
/// message is addressed to when no reply link says so (direct messages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    pub platform: Platform,
    pub external_id: String,
    pub brand: String,
    pub author: String,
    pub direction: Direction,
    pub created_at: DateTime<Utc>,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

/// A stored message as the KPI engine and the threading rules read it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub id: i64,
    pub platform: Platform,
    pub external_id: String,
    pub brand: String,
    pub author: String,
    pub direction: Direction,
    pub created_at: UnixSeconds,
    pub text: String,
    pub reply_to: Option<String>,
    pub conversation_ref: Option<String>,
    pub url: Option<String>,
    pub engagement: Option<i64>,
    pub customer: Option<String>,
    pub classification: Option<Classification>,
}

/// How a conversation came to be resolved (KPI.md, Resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolutionKind {
    /// Someone marked it resolved from chat.
    Marked,
    /// The brand answered last and the customer stayed silent for `auto_resolve_after`.
    Auto,
    /// The customer's last message, after a brand reply, was thanks or praise.
    Thanks,
}

impl ResolutionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionKind::Marked => "marked",
            ResolutionKind::Auto => "auto",
            ResolutionKind::Thanks => "thanks",
        }
    }
}

/// The facts of one conversation that every KPI needs, kept current at ingest so reports
/// never re-read raw messages. All instants are Unix seconds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConversationFacts {
    pub id: i64,
    pub platform: Option<Platform>,
    pub brand: String,
    /// Author of the first inbound message (empty for brand-only threads).
    pub customer: String,
    /// First message of any direction.
    pub started_at: UnixSeconds,
    pub first_inbound_at: Option<UnixSeconds>,
    /// Link to the first inbound message, when the platform gives one.
    pub first_inbound_url: Option<String>,
    /// First outbound message after the first inbound message.
    pub first_response_at: Option<UnixSeconds>,
    pub last_message_at: UnixSeconds,
    pub last_inbound_at: Option<UnixSeconds>,
    pub last_outbound_at: Option<UnixSeconds>,
    /// Oldest inbound message not yet followed by a brand reply (the customer is waiting).
    pub waiting_since: Option<UnixSeconds>,
    pub inbound_count: i64,
    pub outbound_count: i64,
    /// Outbound messages after the first inbound message.
    pub replies: i64,
    pub reopen_count: i64,
    /// Resolution by thanks or praise after a brand reply (rule c), if the customer's last
    /// message is one.
    pub thanks_resolved_at: Option<UnixSeconds>,
    /// Resolution marked from chat.
    pub marked_resolved_at: Option<UnixSeconds>,
    /// Any inbound message is a complaint or an inquiry.
    pub actionable: bool,
    /// Category of the first inbound message.
    pub category: Option<Category>,
    /// Compound sentiment of the first and of the last inbound message.
    pub opening_compound: Option<f64>,
    pub closing_compound: Option<f64>,
    /// The last inbound message came after a brand reply (a turnaround candidate).
    pub closing_after_reply: bool,
    /// An outbound reply sent the customer to a costlier channel (redirect patterns).
    pub redirected: bool,
    /// Products and topics named by any inbound message.
    pub products: Vec<String>,
    pub topics: Vec<String>,
    /// For each outbound reply that answered a waiting customer: seconds since the oldest
    /// unanswered inbound message.
    pub reply_waits: Vec<i64>,
}

/// A report's window and filters. Instants are Unix seconds, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportQuery {
    pub start: i64,
    pub end: i64,
    pub brand: Option<String>,
    pub platform: Option<Platform>,
    pub product: Option<String>,
}

/// Messages of one (platform, direction, category) in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageAggregate {
    pub platform: Platform,
    pub direction: Direction,
    pub category: Option<Category>,
    pub count: i64,
    pub compound_sum: f64,
    pub positive: i64,
    pub neutral: i64,
    pub negative: i64,
}

/// Everything a report over one window needs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportData {
    pub messages: Vec<MessageAggregate>,
    /// Conversations whose first inbound message is in the window.
    pub conversations: Vec<ConversationFacts>,
}
