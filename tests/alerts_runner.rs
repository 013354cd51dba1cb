//! The alert runner on a temp store with a recording chat: a planted spike posts one alert with
//! its context to the alert channel; a restart does not post it again; snooze suppresses;
//! quiet hours hold alerts and post one roll-up when they end; waiting customers are batched
//! into one nudge; a failing chat is retried.

use std::sync::Mutex;

use carepulse::app::alerts::{check, handle_action};
use carepulse::app::App;
use carepulse::chat::{BoxFuture, Chat, ChatError, PostedRef};
use carepulse::config::Config;
use carepulse::digest::post::Post;
use carepulse::model::{Direction, NewMessage, Platform};
use chrono::{DateTime, TimeZone, Utc};

/// Records every post; fails the first `fail_first` attempts with a transient error.
#[derive(Default)]
struct Recorder {
    posts: Mutex<Vec<(String, Post)>>,
    fail_first: Mutex<u32>,
}

impl Recorder {
    fn posts(&self) -> Vec<(String, Post)> {
        self.posts.lock().expect("lock").clone()
    }
}

impl Chat for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn post<'a>(
        &'a self,
        channel: &'a str,
        post: &'a Post,
    ) -> BoxFuture<'a, Result<PostedRef, ChatError>> {
        Box::pin(async move {
            {
                let mut f = self.fail_first.lock().expect("lock");
                if *f > 0 {
                    *f -= 1;
                    return Err(ChatError::Transient("503 from the fake chat".into()));
                }
            }
            let mut posts = self.posts.lock().expect("lock");
            posts.push((channel.to_string(), post.clone()));
            Ok(PostedRef(posts.len().to_string()))
        })
    }
}

/// Tuesday 2026-11-10 12:00:00 UTC.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0)
        .single()
        .expect("date")
}

fn config(db: &std::path::Path, extra: &str) -> Config {
    let text = format!(
        "database = \"{}\"\ntimezone = \"UTC\"\n[[brands]]\nname = \"Acme\"\naccounts = {{ x = [\"AcmeHelp\"] }}\n\
         [[products]]\nname = \"router\"\nkeywords = [\"router\"]\n\
         [[topics]]\nname = \"outage\"\nkeywords = [\"outage\", \"down\"]\n\
         [chat]\nalert_channel = \"care-alerts\"\n[alerts]\n{extra}",
        db.display()
    );
    Config::parse(&text, std::path::Path::new("test.toml"), &|_| None).expect("test config")
}

const NO_NUDGES: &str = "[alerts.waiting]\nenabled = false\n[alerts.badge]\nenabled = false\n";

fn complaint(n: u64, at: i64, text: &str) -> NewMessage {
    NewMessage {
        platform: Platform::X,
        external_id: n.to_string(),
        brand: "Acme".into(),
        author: format!("cust{}", n % 997),
        direction: Direction::Inbound,
        created_at: DateTime::from_timestamp(at, 0).expect("time"),
        text: text.into(),
        reply_to: None,
        conversation_ref: None,
        url: Some(format!("https://x.com/cust{}/status/{n}", n % 997)),
        engagement: Some((n % 5) as i64),
        customer: None,
    }
}

const NORMAL: &str = "@AcmeHelp you charged me twice for my router this month. want a refund asap";
const OUTAGE: &str =
    "@AcmeHelp total outage, my router is down since 2pm and nobody is helping. ridiculous 😡";

/// Eight days of about one complaint every 20 minutes up to `until`, then `spike` complaints in
/// each of the buckets starting at the instants of `spike_at`.
async fn fill(app: &App, until: i64, spike_at: &[i64], spike: u64) {
    let mut msgs = Vec::new();
    let mut n = 1;
    let mut t = until - 8 * 86_400;
    while t < until {
        msgs.push(complaint(n, t, NORMAL));
        n += 1;
        t += 1200;
    }
    for &b in spike_at {
        for i in 0..spike {
            msgs.push(complaint(n, b + (i as i64 * 7) % 290, OUTAGE));
            n += 1;
        }
    }
    let now = until + 3600;
    app.ingest(msgs, None, now).await.expect("ingest");
}

async fn open(dir: &tempfile::TempDir, extra: &str) -> App {
    App::open(config(&dir.path().join("a.db"), extra))
        .await
        .expect("open app")
}

#[tokio::test]
async fn planted_spike_posts_once_with_context_and_a_restart_does_not_repost() {
    let dir = tempfile::tempdir().expect("dir");
    let app = open(&dir, NO_NUDGES).await;
    let t = noon().timestamp();
    // Spike in the buckets 11:50 and 11:55; the check at 12:00:10 sees both closed.
    fill(&app, t, &[t - 600, t - 300], 25).await;
    let chat = Recorder::default();
    let now = noon() + chrono::Duration::seconds(10);
    let o = check(&app, &chat, now).await.expect("check");
    let posts = chat.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_eq!(o.posted, 1);
    let (channel, post) = &posts[0];
    assert_eq!(channel, "care-alerts");
    assert_eq!(post.title, "Spike in complaints for Acme");
    let field = |n: &str| {
        post.fields
            .iter()
            .find(|f| f.name == n)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    let count: f64 = field("Count").parse().expect("count");
    let normal: f64 = field("Normal").parse().expect("normal");
    assert!(count >= 25.0 && normal < 3.0, "{count} vs {normal}");
    assert!(field("Ratio").ends_with('x'));
    assert!(field("Platforms").contains('X'), "{}", field("Platforms"));
    assert!(
        field("Top topics").contains("outage"),
        "{}",
        field("Top topics")
    );
    assert!(field("Top products").contains("router"));
    let examples: Vec<&String> = post.lines.iter().filter(|l| l.starts_with("• ")).collect();
    assert_eq!(examples.len(), 3);
    assert!(examples.iter().all(|l| l.contains("<https://x.com/")));
    assert!(!post.summary.contains("http") && post.summary.contains("Acme"));
    assert_eq!(post.actions[0].id, "alert:ack:Acme");

    // Same instant again, then a "restart" (a fresh App on the same database), then the next
    // bucket while the spike is still on: nothing new.
    check(&app, &chat, now).await.expect("again");
    drop(app);
    let app = open(&dir, NO_NUDGES).await;
    check(&app, &chat, now).await.expect("after restart");
    fill(&app, t, &[t], 25).await;
    check(&app, &chat, now + chrono::Duration::minutes(5))
        .await
        .expect("next bucket");
    assert_eq!(chat.posts().len(), 1, "{:#?}", chat.posts());
}

#[tokio::test]
async fn snooze_suppresses_and_ack_confirms() {
    let dir = tempfile::tempdir().expect("dir");
    let app = open(&dir, NO_NUDGES).await;
    let t = noon().timestamp();
    fill(&app, t, &[], 0).await;
    let chat = Recorder::default();
    // Warm up on the quiet history.
    check(&app, &chat, noon()).await.expect("warm-up");
    assert!(chat.posts().is_empty());
    let confirm = handle_action(&app, "alert:snooze1h:Acme", noon())
        .await
        .expect("an alert button");
    assert!(confirm.summary.contains("Snoozed"), "{}", confirm.summary);
    assert!(confirm.summary.contains("13:00"), "{}", confirm.summary);
    assert!(handle_action(&app, "kpi:today", noon()).await.is_none());
    // The spike comes during the snooze.
    fill(&app, t, &[t, t + 300], 25).await;
    check(&app, &chat, noon() + chrono::Duration::minutes(10))
        .await
        .expect("check");
    assert!(chat.posts().is_empty(), "{:#?}", chat.posts());
    let ack = handle_action(&app, "alert:ack:Acme", noon())
        .await
        .expect("ack");
    assert!(ack.summary.contains("Acknowledged"));
}

#[tokio::test]
async fn quiet_hours_hold_then_roll_up_once() {
    let dir = tempfile::tempdir().expect("dir");
    let quiet = format!("{NO_NUDGES}[alerts.quiet_hours]\nstart = \"11:00\"\nend = \"12:30\"\n");
    let app = open(&dir, &quiet).await;
    let t = noon().timestamp();
    fill(&app, t, &[t - 600, t - 300], 25).await;
    let chat = Recorder::default();
    let o = check(&app, &chat, noon() + chrono::Duration::seconds(10))
        .await
        .expect("quiet check");
    assert_eq!(o.held, 1);
    assert!(chat.posts().is_empty());
    // Still quiet: nothing. Quiet hours over: one roll-up, once.
    check(&app, &chat, noon() + chrono::Duration::minutes(20))
        .await
        .expect("still quiet");
    assert!(chat.posts().is_empty());
    for _ in 0..2 {
        check(&app, &chat, noon() + chrono::Duration::minutes(31))
            .await
            .expect("after quiet");
    }
    let posts = chat.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_eq!(posts[0].1.title, "While you were away: 1 alert");
    assert!(
        posts[0].1.lines[0].contains("Acme complaints"),
        "{:?}",
        posts[0].1.lines
    );
}

#[tokio::test]
async fn waiting_customers_are_batched_in_one_nudge_and_failures_are_retried() {
    let dir = tempfile::tempdir().expect("dir");
    let app = open(&dir, "[alerts.badge]\nenabled = false\n").await;
    let t = noon().timestamp();
    let msgs = vec![
        complaint(1, t - 3 * 3600, NORMAL),
        complaint(2, t - 2 * 3600, NORMAL),
        complaint(3, t - 5400, NORMAL),
        complaint(4, t - 600, NORMAL),        // within the 1h SLA
        complaint(5, t - 3 * 86_400, NORMAL), // past waiting.max_age (24h): backlog only
    ];
    app.ingest(msgs, None, t).await.expect("ingest");
    let chat = Recorder::default();
    *chat.fail_first.lock().expect("lock") = 2;
    check(&app, &chat, noon()).await.expect("check");
    check(&app, &chat, noon() + chrono::Duration::minutes(5))
        .await
        .expect("same period");
    let posts = chat.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let p = &posts[0].1;
    assert_eq!(p.title, "3 customers are waiting past the 1h 00m SLA");
    assert!(
        p.lines[0].contains("cust1") && p.lines[0].contains("3h 00m"),
        "{:?}",
        p.lines
    );
    assert!(p.lines.iter().all(|l| !l.contains("cust4")));
    assert!(
        p.lines.iter().all(|l| !l.contains("cust5")),
        "{:?}",
        p.lines
    );
}
