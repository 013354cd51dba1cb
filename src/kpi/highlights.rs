//! Highlights (KPI.md): success stories, turnarounds and loyalists.

use serde::Serialize;

use crate::kpi::inputs::{AuthorActivity, PraiseMessage};
use crate::model::{Category, ConversationFacts, UnixSeconds};

/// How many success stories and loyalists a report shows.
pub const STORIES: usize = 3;
pub const TOP_LOYALISTS: usize = 5;
/// Turnarounds listed (all are counted).
pub const TURNAROUNDS_LISTED: usize = 10;

/// A praise message worth sharing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuccessStory {
    pub author: String,
    pub platform: String,
    pub text: String,
    pub link: Option<String>,
    pub compound: f64,
    pub engagement: i64,
    pub score: f64,
}

/// Score of a praise message: compound x ln(2 + engagement) (unknown engagement is 0).
pub fn story_score(m: &PraiseMessage) -> f64 {
    score_of(m.compound, m.engagement.unwrap_or(0))
}

/// `story_score` from a message's compound and engagement.
pub fn score_of(compound: f64, engagement: i64) -> f64 {
    compound * (2.0 + engagement.max(0) as f64).ln()
}

/// The top praise messages, highest score first; ties go to the earlier message.
pub fn success_stories(praise: &[PraiseMessage]) -> Vec<SuccessStory> {
    let mut ranked: Vec<(f64, &PraiseMessage)> =
        praise.iter().map(|m| (story_score(m), m)).collect();
    ranked.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.created_at.cmp(&b.1.created_at))
            .then(a.1.id.cmp(&b.1.id))
    });
    ranked
        .into_iter()
        .take(STORIES)
        .map(|(score, m)| SuccessStory {
            author: m.author.clone(),
            platform: m.platform.as_str().into(),
            text: m.text.clone(),
            link: m.url.clone(),
            compound: m.compound,
            engagement: m.engagement.unwrap_or(0),
            score,
        })
        .collect()
}

/// A conversation that went from unhappy to happy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turnaround {
    pub conversation_id: i64,
    pub platform: String,
    pub customer: String,
    pub link: Option<String>,
    pub opening_compound: Option<f64>,
    pub closing_compound: Option<f64>,
    /// Last inbound message minus first inbound message.
    pub took_s: i64,
}

/// Whether a conversation is a turnaround closed in `[start, end)`: it opened with a complaint
/// (or compound <= -0.05) and its last inbound message, after a brand reply, has compound
/// >= 0.5.
pub fn is_turnaround(c: &ConversationFacts, start: UnixSeconds, end: UnixSeconds) -> bool {
    let opened_badly =
        c.category == Some(Category::Complaint) || c.opening_compound.is_some_and(|x| x <= -0.05);
    let closed_well = c.closing_after_reply && c.closing_compound.is_some_and(|x| x >= 0.5);
    let in_window = c.last_inbound_at.is_some_and(|t| t >= start && t < end);
    opened_badly && closed_well && in_window && c.first_inbound_at.is_some()
}

/// Turnarounds closed in the window, quickest first; returns (count, listed).
pub fn turnarounds(
    candidates: &[ConversationFacts],
    start: UnixSeconds,
    end: UnixSeconds,
) -> (i64, Vec<Turnaround>) {
    let mut all: Vec<Turnaround> = candidates
        .iter()
        .filter(|c| is_turnaround(c, start, end))
        .map(|c| Turnaround {
            conversation_id: c.id,
            platform: c.platform.map(|p| p.as_str()).unwrap_or("").into(),
            customer: c.customer.clone(),
            link: c.first_inbound_url.clone(),
            opening_compound: c.opening_compound,
            closing_compound: c.closing_compound,
            took_s: c.last_inbound_at.unwrap_or(0) - c.first_inbound_at.unwrap_or(0),
        })
        .collect();
    all.sort_by_key(|t| (t.took_s, t.conversation_id));
    let n = all.len() as i64;
    all.truncate(TURNAROUNDS_LISTED);
    (n, all)
}

/// A loyal customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loyalist {
    pub author: String,
    pub platform: Option<String>,
    pub praise: i64,
    pub helpful: i64,
}

/// Loyalists: count and the top 5.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Loyalists {
    pub count: i64,
    pub top: Vec<Loyalist>,
}

/// Authors with >= 3 praise messages or >= 2 helpful replies, ranked by praise + helpful,
/// then by name.
pub fn loyalists(activity: &[AuthorActivity]) -> Loyalists {
    let mut l: Vec<&AuthorActivity> = activity
        .iter()
        .filter(|a| a.praise >= 3 || a.helpful >= 2)
        .collect();
    l.sort_by(|a, b| {
        (b.praise + b.helpful)
            .cmp(&(a.praise + a.helpful))
            .then(a.author.cmp(&b.author))
    });
    Loyalists {
        count: l.len() as i64,
        top: l
            .into_iter()
            .take(TOP_LOYALISTS)
            .map(|a| Loyalist {
                author: a.author.clone(),
                platform: a.platform.map(|p| p.as_str().to_string()),
                praise: a.praise,
                helpful: a.helpful,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Platform;

    fn praise(id: i64, compound: f64, engagement: Option<i64>, t: i64) -> PraiseMessage {
        PraiseMessage {
            id,
            author: format!("a{id}"),
            platform: Platform::X,
            text: format!("love it {id}"),
            url: Some(format!("https://x.com/i/{id}")),
            compound,
            engagement,
            created_at: t,
        }
    }

    #[test]
    fn stories_rank_by_compound_times_log_engagement() {
        // scores: 1: 0.9 ln 2 = 0.624; 2: 0.6 ln 12 = 1.491; 3: 0.95 ln 2 = 0.658;
        // 4: 0.6 ln 12 (tie with 2, later); 5: 0.5 ln 3 = 0.549
        let msgs = vec![
            praise(1, 0.9, None, 10),
            praise(2, 0.6, Some(10), 20),
            praise(3, 0.95, Some(0), 30),
            praise(4, 0.6, Some(10), 40),
            praise(5, 0.5, Some(1), 5),
        ];
        let s = success_stories(&msgs);
        let authors: Vec<&str> = s.iter().map(|x| x.author.as_str()).collect();
        assert_eq!(authors, ["a2", "a4", "a3"]);
        assert!((s[0].score - 0.6 * 12f64.ln()).abs() < 1e-12);
        assert_eq!(s[0].link.as_deref(), Some("https://x.com/i/2"));
        assert!(success_stories(&[]).is_empty());
    }

    #[test]
    fn turnaround_rules() {
        let good = ConversationFacts {
            id: 1,
            category: Some(Category::Complaint),
            first_inbound_at: Some(100),
            last_inbound_at: Some(700),
            opening_compound: Some(-0.6),
            closing_compound: Some(0.8),
            closing_after_reply: true,
            ..ConversationFacts::default()
        };
        let mut neutral_open = good.clone();
        neutral_open.category = Some(Category::Inquiry);
        neutral_open.opening_compound = Some(0.0);
        let mut negative_open = neutral_open.clone();
        negative_open.opening_compound = Some(-0.05);
        negative_open.id = 2;
        negative_open.last_inbound_at = Some(400);
        let mut lukewarm = good.clone();
        lukewarm.closing_compound = Some(0.49);
        let mut no_reply = good.clone();
        no_reply.closing_after_reply = false;
        let all = vec![good, neutral_open, negative_open, lukewarm, no_reply];
        let (n, list) = turnarounds(&all, 0, 1000);
        assert_eq!(n, 2);
        assert_eq!(list[0].conversation_id, 2);
        assert_eq!(list[0].took_s, 300);
        assert_eq!(list[1].took_s, 600);
        assert_eq!(
            turnarounds(&all, 0, 700).0,
            1,
            "closing at 700 is outside [0, 700)"
        );
    }

    #[test]
    fn loyalist_thresholds_and_ranking() {
        let a = |n: &str, p: i64, h: i64| AuthorActivity {
            author: n.into(),
            platform: Some(Platform::X),
            praise: p,
            helpful: h,
        };
        let l = loyalists(&[
            a("zed", 3, 0),
            a("amy", 2, 1),
            a("bob", 0, 2),
            a("cat", 5, 2),
            a("dan", 3, 0),
        ]);
        assert_eq!(l.count, 4);
        let names: Vec<&str> = l.top.iter().map(|x| x.author.as_str()).collect();
        assert_eq!(names, ["cat", "dan", "zed", "bob"]);
    }
}
