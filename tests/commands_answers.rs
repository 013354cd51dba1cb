//! `App::answer` over a temporary store with a scenario worked out by hand: stories (praise
//! and a turnaround, with links), the backlog (oldest first, with links, filtered by a quoted
//! product), charts (PNG attachments over per-day counts), the export (a CSV row per
//! conversation), explain, usage errors and autocomplete from the data.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use carepulse::app::App;
use carepulse::config::Config;
use carepulse::model::{Category, Classification, Direction, NewMessage, Platform, Sentiment};
use carepulse::store::ClassifiedMessage;

const H: i64 = 3600;
/// 2026-11-22 00:00 UTC (London is on UTC in November): "yesterday" at `now`.
const DAY: i64 = 1_795_305_600;

fn at(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().expect("instant")
}

fn now() -> DateTime<Utc> {
    at(DAY + 32 * H) // 2026-11-23 08:00
}

struct M<'a> {
    id: &'a str,
    platform: Platform,
    author: &'a str,
    dir: Direction,
    t: i64,
    reply_to: Option<&'a str>,
    cat: Category,
    compound: f64,
    products: &'a [&'a str],
    text: &'a str,
}

fn msg(m: M<'_>) -> ClassifiedMessage {
    ClassifiedMessage {
        message: NewMessage {
            platform: m.platform,
            external_id: m.id.into(),
            brand: "Acme".into(),
            author: m.author.into(),
            direction: m.dir,
            created_at: at(m.t),
            text: m.text.into(),
            reply_to: m.reply_to.map(str::to_string),
            conversation_ref: None,
            url: Some(format!("https://example.test/{}", m.id)),
            engagement: Some(4),
            customer: None,
        },
        classification: Classification {
            sentiment: Sentiment {
                compound: m.compound,
                ..Sentiment::default()
            },
            category: m.cat,
            confidence: 0.9,
            complaint_score: 0.0,
            products: m.products.iter().map(|s| s.to_string()).collect(),
            topics: vec![],
        },
        redirect: false,
        classifier_version: "test".into(),
    }
}

pub async fn app(dir: &std::path::Path) -> App {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"))
        .expect("shipped config");
    let path = dir.join("config.toml");
    let mut config = Config::parse(&text, &path, &|_| None).expect("shipped config parses");
    config.database = dir.join("answers.db");
    App::open(config).await.expect("app opens")
}

async fn scenario(dir: &std::path::Path) -> App {
    use Category::*;
    use Direction::*;
    use Platform::*;
    let app = app(dir).await;
    let d = DAY;
    let m = |id, platform, author, dir, t, reply_to, cat, compound, products, text| {
        msg(M {
            id,
            platform,
            author,
            dir,
            t,
            reply_to,
            cat,
            compound,
            products,
            text,
        })
    };
    let batch = vec![
        // Alice: a complaint answered, then thanks: a turnaround and a praise message.
        m(
            "a1",
            X,
            "alice",
            Inbound,
            d + 9 * H,
            None,
            Complaint,
            -0.6,
            &["Smart Kettle"][..],
            "My Smart Kettle is broken",
        ),
        m(
            "r1",
            X,
            "AcmeHelp",
            Outbound,
            d + 9 * H + 1800,
            Some("a1"),
            Other,
            0.2,
            &[][..],
            "Sorry! DM us",
        ),
        m(
            "a2",
            X,
            "alice",
            Inbound,
            d + 10 * H,
            Some("r1"),
            Praise,
            0.8,
            &[][..],
            "Thank you, fixed and brilliant",
        ),
        // Bob: an inquiry about the kettle on Facebook, never answered.
        m(
            "b1",
            Facebook,
            "bob",
            Inbound,
            d + 11 * H,
            None,
            Inquiry,
            0.0,
            &["Smart Kettle"][..],
            "Does the Smart Kettle do 80 degrees?",
        ),
        // Dave: praise on Mastodon.
        m(
            "d1",
            Mastodon,
            "dave",
            Inbound,
            d + 12 * H,
            None,
            Praise,
            0.9,
            &[][..],
            "Acme support is the best",
        ),
        // Carol: a late complaint, not answered yet.
        m(
            "c1",
            X,
            "carol",
            Inbound,
            d + 20 * H,
            None,
            Complaint,
            -0.7,
            &["router"][..],
            "Router down again",
        ),
        // Erin: a complaint three days earlier, still waiting.
        m(
            "e1",
            X,
            "erin",
            Inbound,
            d - 3 * 24 * H + 15 * H,
            None,
            Complaint,
            -0.5,
            &[][..],
            "Where is my refund",
        ),
    ];
    app.store
        .ingest(batch, None, &app.ingestor.rules, now().timestamp())
        .await
        .expect("ingest");
    app
}

#[tokio::test]
async fn stories_list_praise_and_turnarounds_with_links() {
    let dir = tempfile::tempdir().unwrap();
    let app = scenario(dir.path()).await;
    let post = app.answer("/kpi stories yesterday", now()).await;
    assert!(!post.ephemeral, "{post:?}");
    let text = post.to_plain_text();
    assert!(text.contains("@dave on mastodon"), "{text}");
    assert!(text.contains("@alice on x"), "{text}");
    assert!(text.contains("https://example.test/d1"), "{text}");
    assert!(text.contains("1 turnaround"), "{text}");
    assert!(text.contains("https://example.test/a1"), "{text}");
    // Cut to another platform, the stories change.
    let fb = app
        .answer("/kpi stories yesterday platform:facebook", now())
        .await;
    assert!(
        fb.to_plain_text().contains("No praise or turnarounds"),
        "{fb:?}"
    );
}

#[tokio::test]
async fn backlog_lists_waiting_conversations_oldest_first_with_links() {
    let dir = tempfile::tempdir().unwrap();
    let app = scenario(dir.path()).await;
    let post = app.answer("/kpi backlog", now()).await;
    let text = post.to_plain_text();
    assert!(text.contains("3 conversations waiting"), "{text}");
    let pos = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} in {text}"))
    };
    assert!(
        pos("@erin") < pos("@bob") && pos("@bob") < pos("@carol"),
        "{text}"
    );
    assert!(text.contains("<https://example.test/b1>"), "{text}");
    assert!(
        !text.contains("@alice"),
        "answered conversations are not waiting: {text}"
    );
    let kettle = app
        .answer(r#"/kpi backlog product:"Smart Kettle""#, now())
        .await;
    let k = kettle.to_plain_text();
    assert!(
        k.contains("1 conversation waiting") && k.contains("@bob"),
        "{k}"
    );
    assert!(!k.contains("@carol") && !k.contains("@erin"), "{k}");
}

#[tokio::test]
async fn charts_are_pngs_over_per_day_counts() {
    let dir = tempfile::tempdir().unwrap();
    let app = scenario(dir.path()).await;
    for line in [
        "/kpi chart volume 7",
        "/kpi chart sentiment 7",
        "/kpi chart platforms 7",
        "/kpi chart complaints-vs-praise",
    ] {
        let post = app.answer(line, now()).await;
        assert_eq!(post.attachments.len(), 1, "{line}: {post:?}");
        let png = &post.attachments[0];
        assert_eq!(png.content_type, "image/png");
        assert_eq!(&png.bytes[..8], b"\x89PNG\r\n\x1a\n", "{line}");
    }
    let days = app
        .daily_volume(7, &Default::default(), now())
        .await
        .unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[6].date, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
    assert_eq!(days[6].inbound, 5);
    assert_eq!(days[6].by_platform.get(&Platform::X), Some(&3));
    assert_eq!(days[6].category(Category::Praise), 2);
    assert_eq!(days[6].category(Category::Complaint), 2);
    assert_eq!(days[6].positive, 2);
    assert_eq!(days[6].negative, 2);
    assert_eq!(days[3].inbound, 1, "erin, three days earlier");
    assert_eq!(days.iter().map(|d| d.inbound).sum::<i64>(), 6);
}

#[tokio::test]
async fn export_attaches_a_csv_row_per_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let app = scenario(dir.path()).await;
    let post = app.answer("/kpi export yesterday", now()).await;
    assert_eq!(post.attachments.len(), 1, "{post:?}");
    let csv = &post.attachments[0];
    assert_eq!(csv.content_type, "text/csv");
    let mut reader = csv::Reader::from_reader(csv.bytes.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "conversation_id");
    let customers: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[3].to_string())
        .collect();
    assert_eq!(customers, ["alice", "bob", "dave", "carol"]);
    assert!(post.summary.contains("4 conversations"), "{}", post.summary);
    let x = app.answer("/kpi export yesterday platform:x", now()).await;
    let rows = csv::Reader::from_reader(x.attachments[0].bytes.as_slice())
        .records()
        .count();
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn explain_usage_errors_and_kpis() {
    let dir = tempfile::tempdir().unwrap();
    let app = scenario(dir.path()).await;
    let gos = app.answer("/kpi explain gos", now()).await;
    assert!(gos.title.contains("Grade of service"), "{gos:?}");
    assert!(
        gos.lines.iter().any(|l| l.starts_with("Formula:")),
        "{gos:?}"
    );
    assert!(!gos.ephemeral);
    let unknown = app.answer("/kpi explain happiness", now()).await;
    assert!(unknown.ephemeral && unknown.lines[0].contains("frt_median_s"));
    let wrong = app.answer("/kpi chart pie", now()).await;
    assert!(wrong.ephemeral);
    assert!(wrong.lines[0].contains("volume, sentiment, platforms or complaints-vs-praise"));
    let kpis = app
        .answer(r#"/kpi yesterday product:"Smart Kettle""#, now())
        .await;
    assert!(
        kpis.title.contains("product Smart Kettle"),
        "{}",
        kpis.title
    );
    assert!(kpis.summary.contains("2 mentions"), "{}", kpis.summary);
    let help = app.answer("/kpi help", now()).await;
    assert!(help.ephemeral && help.lines.iter().any(|l| l.contains("/kpi backlog")));
}

#[tokio::test]
async fn autocomplete_suggests_values_from_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let app = scenario(dir.path()).await;
    assert_eq!(app.suggest("brand", "ac").await, ["Acme"]);
    assert_eq!(app.suggest("product", "kett").await, ["Smart Kettle"]);
    assert_eq!(app.suggest("product", "").await, ["Smart Kettle", "router"]);
    assert_eq!(
        app.suggest("platform", "").await,
        ["x", "facebook", "mastodon"]
    );
    assert!(app
        .suggest("name", "frt_med")
        .await
        .contains(&"frt_median_s".to_string()));
    assert!(app.suggest("colour", "").await.is_empty());
}

/// A brand or product that names nothing is a usage error listing the names there are (stored
/// and configured), never an all-zero report; a name in another case reads as the known one.
#[tokio::test]
async fn unknown_filter_names_are_usage_errors_that_list_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let app = scenario(dir.path()).await;
    let typo = app.answer("/kpi week brand:Acne", now()).await;
    assert!(typo.ephemeral, "{typo:?}");
    assert_eq!(
        typo.lines[0],
        "unknown brand 'Acne': try brand:Acme, brand:Northwind"
    );
    let product = app.answer("/kpi backlog product:kettle", now()).await;
    assert!(product.ephemeral, "{product:?}");
    assert!(
        product.lines[0].starts_with("unknown product 'kettle': try ")
            && product.lines[0].contains("product:\"Smart Kettle\"")
            && product.lines[0].contains("product:router"),
        "{product:?}"
    );
    let folded = app
        .answer(r#"/kpi yesterday brand:acme product:"smart kettle""#, now())
        .await;
    assert!(!folded.ephemeral, "{folded:?}");
    assert!(
        folded.title.contains("brand Acme") && folded.title.contains("product Smart Kettle"),
        "{}",
        folded.title
    );
    assert!(folded.summary.contains("2 mentions"), "{}", folded.summary);
}
