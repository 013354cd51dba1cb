//! Threading: which conversation each message belongs to, and the facts of a conversation.
//!
//! Rules (KPI.md, Conversation): a reply joins its parent's conversation; the platform's
//! conversation id joins messages that share it; a message with neither link is grouped per
//! (platform, brand, customer) and joins that customer's conversation when it falls within
//! `gap` of the conversation's span (silence on both sides), bridging and merging two such
//! conversations when it falls within `gap` of both. Every decision is a union of
//! conversations, and spans are re-checked after every union, so the final conversations do
//! not depend on the order in which messages arrive: a reply stored before its parent ends in
//! the same conversation as one stored after it.
//!
//! The planner is pure: the store looks up what it needs (`PlanContext`), the planner decides
//! (`Plan`), the store writes. `compute_facts` turns a conversation's messages into the
//! `ConversationFacts` every KPI reads.

use std::collections::{BTreeSet, HashMap};

use crate::model::{Category, ConversationFacts, Direction, Platform, UnixSeconds};

/// Care rules that threading and facts depend on.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadingRules {
    /// Silence that separates two unlinked conversations of one customer, seconds.
    pub gap: i64,
    /// Categories that need an answer.
    pub actionable: Vec<Category>,
}

impl Default for ThreadingRules {
    fn default() -> Self {
        ThreadingRules {
            gap: 24 * 3600,
            actionable: vec![Category::Complaint, Category::Inquiry],
        }
    }
}

/// The key that groups unlinked messages: platform, brand and customer.
pub fn gap_key(platform: Platform, brand: &str, customer: &str) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        platform.as_str(),
        brand,
        customer.to_lowercase()
    )
}

/// A new message as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanMessage {
    pub external_id: String,
    pub created_at: UnixSeconds,
    pub reply_to: Option<String>,
    pub conversation_ref: Option<String>,
    /// Set for messages with no link: the (platform, brand, customer) group.
    pub gap_key: Option<String>,
}

/// A stored conversation's identity and span.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSpan {
    pub id: i64,
    pub gap_key: Option<String>,
    pub started_at: UnixSeconds,
    pub last_message_at: UnixSeconds,
}

/// What the store found for a batch (all on the batch's platform).
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    /// Stored messages that new messages reply to: external id → conversation id.
    pub parents: HashMap<String, i64>,
    /// Stored conversations by platform conversation id.
    pub refs: HashMap<String, i64>,
    /// Stored messages that reply to a new message: (new message's external id, their conversation).
    pub children: Vec<(String, i64)>,
    /// Stored conversations that may take part: those linked above and every conversation of
    /// the batch's gap keys near the batch in time.
    pub spans: Vec<ConversationSpan>,
}

/// Where a message or a conversation ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A stored conversation, by id.
    Existing(i64),
    /// The n-th conversation this plan creates.
    New(usize),
}

/// The planner's decision for a batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// For each new message (same order as given): its conversation.
    pub assignments: Vec<Target>,
    /// Stored conversations folded into another: (from, into).
    pub merges: Vec<(i64, Target)>,
    /// How many conversations the plan creates, with their gap keys.
    pub new_conversations: Vec<Option<String>>,
}

struct Node {
    parent: usize,
    target: Target,
    gap_key: Option<String>,
    start: UnixSeconds,
    end: UnixSeconds,
}

struct Forest {
    nodes: Vec<Node>,
}

impl Forest {
    fn find(&mut self, mut i: usize) -> usize {
        while self.nodes[i].parent != i {
            let p = self.nodes[i].parent;
            self.nodes[i].parent = self.nodes[p].parent;
            i = p;
        }
        i
    }

    /// Joins two groups; the root is the stored conversation with the lowest id, else the
    /// first new one. Returns the root.
    fn union(&mut self, a: usize, b: usize) -> usize {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return ra;
        }
        let (root, child) = if self.nodes[ra].target <= self.nodes[rb].target {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.nodes[child].parent = root;
        let (cs, ce, ck) = (
            self.nodes[child].start,
            self.nodes[child].end,
            self.nodes[child].gap_key.clone(),
        );
        let r = &mut self.nodes[root];
        r.start = r.start.min(cs);
        r.end = r.end.max(ce);
        if r.gap_key.is_none() {
            r.gap_key = ck;
        }
        root
    }

    fn extend(&mut self, i: usize, t: UnixSeconds) {
        let r = self.find(i);
        let n = &mut self.nodes[r];
        n.start = n.start.min(t);
        n.end = n.end.max(t);
    }
}

/// Decides the conversation of every new message of one platform.
pub fn plan(messages: &[PlanMessage], ctx: &PlanContext, gap: i64) -> Plan {
    let mut forest = Forest { nodes: Vec::new() };
    let mut existing: HashMap<i64, usize> = HashMap::new();
    let mut node_of_existing =
        |forest: &mut Forest, id: i64, span: Option<&ConversationSpan>| -> usize {
            *existing.entry(id).or_insert_with(|| {
                let (gap_key, start, end) = span
                    .map(|s| (s.gap_key.clone(), s.started_at, s.last_message_at))
                    .unwrap_or((None, i64::MAX, i64::MIN));
                forest.nodes.push(Node {
                    parent: forest.nodes.len(),
                    target: Target::Existing(id),
                    gap_key,
                    start,
                    end,
                });
                forest.nodes.len() - 1
            })
        };
    let spans: HashMap<i64, &ConversationSpan> = ctx.spans.iter().map(|s| (s.id, s)).collect();
    for s in &ctx.spans {
        node_of_existing(&mut forest, s.id, Some(s));
    }

    // Process in time order so that, within a batch, parents usually come first.
    let mut order: Vec<usize> = (0..messages.len()).collect();
    order.sort_by_key(|&i| (messages[i].created_at, i));

    let mut new_count = 0usize;
    let mut msg_node: Vec<usize> = vec![usize::MAX; messages.len()];
    let mut by_external: HashMap<&str, usize> = HashMap::new();
    let mut by_ref: HashMap<&str, usize> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        by_external.entry(m.external_id.as_str()).or_insert(i);
    }

    // Every message gets its own node first; links and gaps then union them.
    for &i in &order {
        let m = &messages[i];
        forest.nodes.push(Node {
            parent: forest.nodes.len(),
            target: Target::New(new_count),
            gap_key: m.gap_key.clone(),
            start: m.created_at,
            end: m.created_at,
        });
        new_count += 1;
        msg_node[i] = forest.nodes.len() - 1;
    }

    for &i in &order {
        let m = &messages[i];
        let node = msg_node[i];
        if let Some(parent) = &m.reply_to {
            if let Some(&j) = by_external.get(parent.as_str()) {
                forest.union(node, msg_node[j]);
            } else if let Some(&conv) = ctx.parents.get(parent) {
                let e = node_of_existing(&mut forest, conv, spans.get(&conv).copied());
                forest.union(node, e);
            }
        }
        if let Some(r) = &m.conversation_ref {
            if let Some(&j) = by_ref.get(r.as_str()) {
                forest.union(node, msg_node[j]);
            } else {
                by_ref.insert(r.as_str(), i);
            }
            if let Some(&conv) = ctx.refs.get(r) {
                let e = node_of_existing(&mut forest, conv, spans.get(&conv).copied());
                forest.union(node, e);
            }
        }
    }
    for (parent_external, conv) in &ctx.children {
        if let Some(&j) = by_external.get(parent_external.as_str()) {
            let e = node_of_existing(&mut forest, *conv, spans.get(conv).copied());
            forest.union(msg_node[j], e);
        }
    }
    for &i in &order {
        forest.extend(msg_node[i], messages[i].created_at);
    }

    // Gap grouping, repeated until no two groups of one key are within `gap` of each other.
    loop {
        let mut roots: Vec<usize> = (0..forest.nodes.len())
            .filter(|&i| {
                forest.find(i) == i
                    && forest.nodes[i].gap_key.is_some()
                    && forest.nodes[i].start <= forest.nodes[i].end
            })
            .collect();
        roots.sort_by(|&a, &b| {
            let (na, nb) = (&forest.nodes[a], &forest.nodes[b]);
            na.gap_key
                .cmp(&nb.gap_key)
                .then(na.start.cmp(&nb.start))
                .then(na.target.cmp(&nb.target))
        });
        let mut merged = false;
        let mut w = 0;
        while w + 1 < roots.len() {
            let (a, b) = (roots[w], roots[w + 1]);
            let ra = forest.find(a);
            let same_key = forest.nodes[ra].gap_key == forest.nodes[b].gap_key;
            if same_key && forest.nodes[b].start - forest.nodes[ra].end <= gap {
                let root = forest.union(ra, b);
                roots[w + 1] = root;
                merged = true;
            }
            w += 1;
        }
        if !merged {
            break;
        }
    }

    // Name the outcome: stored conversations keep their id; new groups are numbered.
    let mut new_targets: HashMap<usize, usize> = HashMap::new();
    let mut new_conversations = Vec::new();
    let mut target_of_root = |forest: &mut Forest, root: usize| -> Target {
        match forest.nodes[root].target {
            Target::Existing(id) => Target::Existing(id),
            Target::New(_) => {
                let n = *new_targets.entry(root).or_insert_with(|| {
                    new_conversations.push(forest.nodes[root].gap_key.clone());
                    new_conversations.len() - 1
                });
                Target::New(n)
            }
        }
    };
    let mut assignments = Vec::with_capacity(messages.len());
    for &node in &msg_node {
        let root = forest.find(node);
        assignments.push(target_of_root(&mut forest, root));
    }
    let mut merges = Vec::new();
    let mut ids: Vec<(i64, usize)> = existing.iter().map(|(&id, &n)| (id, n)).collect();
    ids.sort();
    for (id, node) in ids {
        let root = forest.find(node);
        let t = target_of_root(&mut forest, root);
        if t != Target::Existing(id) {
            merges.push((id, t));
        }
    }
    Plan {
        assignments,
        merges,
        new_conversations,
    }
}

/// A stored message as facts need it (no text).
#[derive(Debug, Clone, PartialEq)]
pub struct FactMessage {
    pub id: i64,
    pub platform: Platform,
    pub brand: String,
    pub author: String,
    pub customer: Option<String>,
    pub direction: Direction,
    pub created_at: UnixSeconds,
    pub url: Option<String>,
    pub category: Option<Category>,
    pub compound: Option<f64>,
    pub products: Vec<String>,
    pub topics: Vec<String>,
    /// An outbound message that sends the customer to a costlier channel.
    pub redirect: bool,
    /// A reply to another message (it has a `reply_to`).
    pub reply: bool,
}

/// Compound score at or above which a reply counts as helpful (KPI.md, loyalists).
pub const HELPFUL_COMPOUND: f64 = 0.05;

/// The helpful replies of one conversation: (author, instant) of every inbound reply with
/// compound >= 0.05 whose author is not the conversation's `customer`.
pub fn helpful_replies<'a>(
    customer: &'a str,
    messages: &'a [FactMessage],
) -> impl Iterator<Item = (&'a str, UnixSeconds)> + 'a {
    messages.iter().filter_map(move |m| {
        (m.direction == Direction::Inbound
            && m.reply
            && m.compound.is_some_and(|c| c >= HELPFUL_COMPOUND)
            && m.author != customer)
            .then_some((m.author.as_str(), m.created_at))
    })
}

/// Compound score at or above which a customer's message after a brand reply resolves the
/// conversation as thanks (KPI.md, rule c).
pub const THANKS_COMPOUND: f64 = 0.5;

/// Computes a conversation's facts from its messages (any order) and an explicit resolution
/// mark, if someone marked it resolved from chat. `auto_resolve_after` (seconds) decides which
/// inbound messages reopen an auto-resolved conversation.
pub fn compute_facts(
    id: i64,
    messages: &mut [FactMessage],
    marked_resolved_at: Option<UnixSeconds>,
    rules: &ThreadingRules,
    auto_resolve_after: i64,
) -> ConversationFacts {
    messages.sort_by_key(|m| (m.created_at, m.id));
    let mut f = ConversationFacts {
        id,
        ..ConversationFacts::default()
    };
    let Some(first) = messages.first() else {
        return f;
    };
    f.platform = Some(first.platform);
    f.brand = first.brand.clone();
    f.started_at = first.created_at;
    f.customer = messages
        .iter()
        .find(|m| m.direction == Direction::Inbound)
        .map(|m| m.author.clone())
        .or_else(|| messages.iter().find_map(|m| m.customer.clone()))
        .unwrap_or_default();

    let mut products = BTreeSet::new();
    let mut topics = BTreeSet::new();
    let mut any_complaint = false;
    let mut first_category = None;
    let mut resolved: Option<UnixSeconds> = None;
    let mut resolved_kind_thanks = false;
    let mut marked = marked_resolved_at;
    let mut last_direction: Option<Direction> = None;

    for m in messages.iter() {
        let t = m.created_at;
        match m.direction {
            Direction::Inbound => {
                // A later inbound message reopens a resolved conversation.
                let auto_resolved = last_direction == Some(Direction::Outbound)
                    && f.last_outbound_at
                        .is_some_and(|o| t - o >= auto_resolve_after);
                let marked_before = marked.is_some_and(|mk| mk <= t);
                if resolved.is_some() || auto_resolved || marked_before {
                    f.reopen_count += 1;
                    resolved = None;
                    resolved_kind_thanks = false;
                    if marked_before {
                        marked = None;
                    }
                }
                if f.first_inbound_at.is_none() {
                    f.first_inbound_at = Some(t);
                    f.first_inbound_url = m.url.clone();
                    f.opening_compound = m.compound;
                    first_category = m.category;
                }
                f.inbound_count += 1;
                f.last_inbound_at = Some(t);
                f.closing_compound = m.compound;
                f.closing_after_reply = f.last_outbound_at.is_some();
                if f.waiting_since.is_none() {
                    f.waiting_since = Some(t);
                }
                if let Some(c) = m.category {
                    if rules.actionable.contains(&c) {
                        f.actionable = true;
                    }
                    any_complaint |= c == Category::Complaint;
                }
                let thanks = m.category == Some(Category::Praise)
                    || m.compound.is_some_and(|c| c >= THANKS_COMPOUND);
                if f.last_outbound_at.is_some() && thanks && m.category != Some(Category::Complaint)
                {
                    resolved = Some(t);
                    resolved_kind_thanks = true;
                    f.waiting_since = None;
                }
                products.extend(m.products.iter().cloned());
                topics.extend(m.topics.iter().cloned());
            }
            Direction::Outbound => {
                f.outbound_count += 1;
                if f.first_inbound_at.is_some() {
                    f.replies += 1;
                    if f.first_response_at.is_none() {
                        f.first_response_at = Some(t);
                    }
                }
                if let Some(w) = f.waiting_since.take() {
                    f.reply_waits.push(t - w);
                }
                f.last_outbound_at = Some(t);
                f.redirected |= m.redirect;
            }
        }
        f.last_message_at = t;
        last_direction = Some(m.direction);
    }
    f.category = if any_complaint {
        Some(Category::Complaint)
    } else {
        first_category
    };
    f.thanks_resolved_at = if resolved_kind_thanks { resolved } else { None };
    f.marked_resolved_at = marked;
    f.products = products.into_iter().collect();
    f.topics = topics.into_iter().collect();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600;

    fn pm(id: &str, t: i64, reply_to: Option<&str>, key: Option<&str>) -> PlanMessage {
        PlanMessage {
            external_id: id.into(),
            created_at: t,
            reply_to: reply_to.map(str::to_string),
            conversation_ref: None,
            gap_key: key.map(str::to_string),
        }
    }

    /// Feeds messages one batch at a time through `plan`, with an in-memory stand-in for the
    /// store, and returns the final grouping as sets of external ids.
    fn thread_in_order(batches: &[Vec<PlanMessage>], gap: i64) -> BTreeSet<BTreeSet<String>> {
        let mut conv_of: HashMap<String, i64> = HashMap::new();
        let mut msgs_of: HashMap<i64, Vec<PlanMessage>> = HashMap::new();
        let mut next_id = 1;
        for batch in batches {
            let mut ctx = PlanContext::default();
            for m in batch {
                if let Some(p) = &m.reply_to {
                    if let Some(&c) = conv_of.get(p) {
                        ctx.parents.insert(p.clone(), c);
                    }
                }
                for (cid, ms) in &msgs_of {
                    for s in ms {
                        if s.reply_to.as_deref() == Some(m.external_id.as_str()) {
                            ctx.children.push((m.external_id.clone(), *cid));
                        }
                    }
                }
            }
            for (cid, ms) in &msgs_of {
                let key = ms.iter().find_map(|m| m.gap_key.clone());
                let start = ms.iter().map(|m| m.created_at).min().unwrap_or(0);
                let end = ms.iter().map(|m| m.created_at).max().unwrap_or(0);
                ctx.spans.push(ConversationSpan {
                    id: *cid,
                    gap_key: key,
                    started_at: start,
                    last_message_at: end,
                });
            }
            let p = plan(batch, &ctx, gap);
            let mut new_ids = Vec::new();
            for _ in &p.new_conversations {
                new_ids.push(next_id);
                next_id += 1;
            }
            let resolve = |t: Target| match t {
                Target::Existing(id) => id,
                Target::New(n) => new_ids[n],
            };
            for (from, into) in &p.merges {
                let into = resolve(*into);
                let moved = msgs_of.remove(from).unwrap_or_default();
                for m in &moved {
                    conv_of.insert(m.external_id.clone(), into);
                }
                msgs_of.entry(into).or_default().extend(moved);
            }
            for (m, t) in batch.iter().zip(&p.assignments) {
                let c = resolve(*t);
                conv_of.insert(m.external_id.clone(), c);
                msgs_of.entry(c).or_default().push(m.clone());
            }
        }
        msgs_of
            .values()
            .map(|ms| ms.iter().map(|m| m.external_id.clone()).collect())
            .collect()
    }

    fn scenario() -> Vec<PlanMessage> {
        vec![
            pm("a1", 0, None, Some("x|b|alice")),
            pm("r1", H, Some("a1"), None),
            pm("a2", 2 * H, Some("r1"), None),
            pm("r2", 3 * H, Some("a2"), None),
            // Alice again 20 h after the brand's last reply: same conversation (gap 24 h).
            pm("a3", 23 * H, None, Some("x|b|alice")),
            // Alice three days later: a new conversation.
            pm("a4", 100 * H, None, Some("x|b|alice")),
            pm("r4", 101 * H, Some("a4"), None),
            // Bob, unrelated.
            pm("b1", 5 * H, None, Some("x|b|bob")),
            // A reply to a tweet we never stored: its own conversation.
            pm("o1", 6 * H, Some("missing"), None),
        ]
    }

    fn expected() -> BTreeSet<BTreeSet<String>> {
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        [
            set(&["a1", "r1", "a2", "r2", "a3"]),
            set(&["a4", "r4"]),
            set(&["b1"]),
            set(&["o1"]),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn in_order_arrival_one_by_one() {
        let batches: Vec<Vec<PlanMessage>> = scenario().into_iter().map(|m| vec![m]).collect();
        assert_eq!(thread_in_order(&batches, 24 * H), expected());
    }

    #[test]
    fn reverse_order_arrival_one_by_one_gives_the_same_conversations() {
        let batches: Vec<Vec<PlanMessage>> =
            scenario().into_iter().rev().map(|m| vec![m]).collect();
        assert_eq!(thread_in_order(&batches, 24 * H), expected());
    }

    #[test]
    fn every_rotation_and_a_single_batch_give_the_same_conversations() {
        let s = scenario();
        for k in 0..s.len() {
            let mut rotated = s.clone();
            rotated.rotate_left(k);
            let batches: Vec<Vec<PlanMessage>> = rotated.chunks(2).map(|c| c.to_vec()).collect();
            assert_eq!(
                thread_in_order(&batches, 24 * H),
                expected(),
                "rotation {k}"
            );
        }
        assert_eq!(thread_in_order(&[s], 24 * H), expected());
    }

    #[test]
    fn linked_reply_that_extends_a_span_bridges_the_gap_in_any_order() {
        // a1 at 0, brand reply r1 at 10 h, Alice unlinked again at 30 h: 20 h after r1, so one
        // conversation, even when r1 arrives last.
        let msgs = [
            pm("a1", 0, None, Some("k")),
            pm("r1", 10 * H, Some("a1"), None),
            pm("a2", 30 * H, None, Some("k")),
        ];
        let one: BTreeSet<BTreeSet<String>> =
            [msgs.iter().map(|m| m.external_id.clone()).collect()]
                .into_iter()
                .collect();
        for order in [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]] {
            let batches: Vec<Vec<PlanMessage>> =
                order.iter().map(|&i| vec![msgs[i].clone()]).collect();
            assert_eq!(thread_in_order(&batches, 24 * H), one, "order {order:?}");
        }
    }

    #[test]
    fn conversation_ref_joins_messages() {
        let mut a = pm("p1", 0, None, None);
        a.conversation_ref = Some("c9".into());
        let mut b = pm("p2", 50 * H, None, None);
        b.conversation_ref = Some("c9".into());
        let p = plan(&[a, b], &PlanContext::default(), 24 * H);
        assert_eq!(p.assignments[0], p.assignments[1]);
        assert_eq!(p.new_conversations.len(), 1);
    }

    fn fm(id: i64, dir: Direction, t: i64, cat: Option<Category>, compound: f64) -> FactMessage {
        FactMessage {
            id,
            platform: Platform::X,
            brand: "Acme".into(),
            author: if dir == Direction::Inbound {
                "alice".into()
            } else {
                "AcmeHelp".into()
            },
            customer: None,
            direction: dir,
            created_at: t,
            url: Some(format!("https://x.com/i/{id}")),
            category: cat,
            compound: Some(compound),
            products: vec![],
            topics: vec![],
            redirect: false,
            reply: false,
        }
    }

    #[test]
    fn facts_of_an_answered_complaint_that_ends_in_thanks() {
        use Direction::*;
        let mut ms = vec![
            fm(3, Inbound, 1000 + 2 * H, Some(Category::Praise), 0.8),
            fm(1, Inbound, 1000, Some(Category::Complaint), -0.6),
            fm(2, Outbound, 1000 + 1800, None, 0.2),
        ];
        let f = compute_facts(9, &mut ms, None, &ThreadingRules::default(), 24 * H);
        assert_eq!(f.customer, "alice");
        assert_eq!(f.first_inbound_at, Some(1000));
        assert_eq!(f.first_response_at, Some(2800));
        assert_eq!(f.reply_waits, vec![1800]);
        assert_eq!(f.thanks_resolved_at, Some(1000 + 2 * H));
        assert_eq!(f.waiting_since, None);
        assert!(f.actionable);
        assert_eq!(f.category, Some(Category::Complaint));
        assert_eq!(f.reopen_count, 0);
        assert!(f.closing_after_reply);
        assert_eq!((f.inbound_count, f.outbound_count, f.replies), (2, 1, 1));
    }

    #[test]
    fn inbound_after_auto_resolution_reopens() {
        use Direction::*;
        let mut ms = vec![
            fm(1, Inbound, 0, Some(Category::Inquiry), 0.0),
            fm(2, Outbound, H, None, 0.0),
            fm(3, Inbound, 30 * H, Some(Category::Complaint), -0.4),
        ];
        let f = compute_facts(1, &mut ms, None, &ThreadingRules::default(), 24 * H);
        assert_eq!(f.reopen_count, 1);
        assert_eq!(f.waiting_since, Some(30 * H));
        // Within 24 h it is a follow-up, not a reopen.
        ms[2].created_at = 20 * H;
        let f = compute_facts(1, &mut ms, None, &ThreadingRules::default(), 24 * H);
        assert_eq!(f.reopen_count, 0);
    }

    #[test]
    fn marked_resolution_is_kept_until_the_customer_writes_again() {
        use Direction::*;
        let mut ms = vec![
            fm(1, Inbound, 0, Some(Category::Inquiry), 0.0),
            fm(2, Outbound, H, None, 0.0),
        ];
        let f = compute_facts(1, &mut ms, Some(2 * H), &ThreadingRules::default(), 24 * H);
        assert_eq!(f.marked_resolved_at, Some(2 * H));
        ms.push(fm(3, Inbound, 3 * H, Some(Category::Inquiry), 0.0));
        let f = compute_facts(1, &mut ms, Some(2 * H), &ThreadingRules::default(), 24 * H);
        assert_eq!(f.marked_resolved_at, None);
        assert_eq!(f.reopen_count, 1);
    }

    #[test]
    fn unanswered_praise_is_not_actionable() {
        let mut ms = vec![fm(1, Direction::Inbound, 0, Some(Category::Praise), 0.9)];
        let f = compute_facts(1, &mut ms, None, &ThreadingRules::default(), 24 * H);
        assert!(!f.actionable);
        assert_eq!(f.first_response_at, None);
        assert_eq!(
            f.thanks_resolved_at, None,
            "praise without a brand reply resolves nothing"
        );
    }
}
