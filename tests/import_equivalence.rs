//! Bulk import (`Store::begin_import`, facts of continued conversations deferred to the
//! finishing pass) stores exactly the conversations and facts that the live per-batch path
//! (facts computed in every batch's transaction) stores for the same arrival batches, and the
//! same grouping of messages as one-shot ingest: on the real twcs sample and on a demo file, in several batch
//! and commit sizes, after an import killed between its commits and its finishing pass, and
//! after a re-import.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use carepulse::app::classify_rules;
use carepulse::classify::Classifier;
use carepulse::config::Config;
use carepulse::ingest::Ingestor;
use carepulse::sources::files;
use carepulse::store::{ClassifiedMessage, Store};

const BIN: &str = env!("CARGO_BIN_EXE_carepulse");
const NOW: i64 = 1_795_000_000;
const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/twcs/twcs_head121.csv"
);

fn ingestor() -> Ingestor {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"));
    let config = Config::load(path, &|_| None).expect("shipped config loads");
    let classifier = Classifier::new(&classify_rules(&config)).expect("classifier");
    Ingestor::from_config(&config, Arc::new(classifier)).expect("ingestor")
}

fn classified(path: &Path, ingestor: &Ingestor) -> Vec<ClassifiedMessage> {
    let open = || std::io::BufReader::new(std::fs::File::open(path).expect("open file"));
    let brands = files::twcs_brands(open()).expect("brands");
    let raw: Vec<_> = files::read_twcs(open(), brands)
        .filter_map(Result::ok)
        .collect();
    ingestor.prepare_all(raw)
}

/// Every conversation as text: its messages' external ids, then every column but its id
/// (ids depend on arrival order; the grouping and the facts must not).
async fn snapshot(store_path: &Path) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", store_path.display()))
        .await
        .expect("connect");
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT (SELECT group_concat(external_id, ' ') FROM (SELECT external_id FROM messages m WHERE m.conversation_id = c.id ORDER BY external_id)) || ' | ' || \
         concat_ws('|', quote(platform), quote(brand), quote(customer), quote(gap_key), quote(started_at), quote(first_inbound_at), quote(first_inbound_url), quote(first_response_at), quote(last_message_at), quote(last_inbound_at), quote(last_outbound_at), quote(waiting_since), quote(inbound_count), quote(outbound_count), quote(replies), quote(reopen_count), quote(thanks_resolved_at), quote(marked_resolved_at), quote(actionable), quote(category), quote(opening_compound), quote(closing_compound), quote(closing_after_reply), quote(redirected), quote(products), quote(topics), quote(reply_waits)) \
         FROM conversations c ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("snapshot");
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE conversation_id NOT IN (SELECT id FROM conversations)",
    )
    .fetch_one(&pool)
    .await
    .expect("orphans");
    assert_eq!(orphans, 0, "messages whose conversation has no row");
    let dirty: i64 = sqlx::query_scalar("SELECT count(*) FROM conversations_dirty")
        .fetch_one(&pool)
        .await
        .expect("dirty");
    assert_eq!(dirty, 0, "facts left unfinished");
    pool.close().await;
    rows
}

async fn one_shot(dir: &Path, batch: &[ClassifiedMessage], ingestor: &Ingestor) -> Vec<String> {
    let db = dir.join("one_shot.db");
    let store = Store::open(&db).await.expect("open");
    store
        .ingest(batch.to_vec(), None, &ingestor.rules, NOW)
        .await
        .expect("ingest");
    store.close().await;
    snapshot(&db).await
}

async fn live(dir: &Path, msgs: &[ClassifiedMessage], ingestor: &Ingestor, size: usize) -> PathBuf {
    let db = dir.join(format!("live_{size}.db"));
    let store = Store::open(&db).await.expect("open");
    for chunk in msgs.chunks(size) {
        store
            .ingest(chunk.to_vec(), None, &ingestor.rules, NOW)
            .await
            .expect("ingest");
    }
    store.close().await;
    db
}

/// Imports in batches of `size`, committing every `commit` rows; with `finish` false the
/// import is dropped after its last batch, as if killed before its finishing pass.
async fn bulk(
    db: &Path,
    msgs: &[ClassifiedMessage],
    ingestor: &Ingestor,
    size: usize,
    commit: usize,
    finish: bool,
) -> (usize, usize) {
    let store = Store::open(db).await.expect("open");
    let mut import = store
        .begin_import(&ingestor.rules, commit, NOW)
        .await
        .expect("begin");
    let (mut inserted, mut duplicates) = (0, 0);
    for chunk in msgs.chunks(size) {
        let o = import.ingest(chunk.to_vec()).await.expect("ingest");
        inserted += o.inserted;
        duplicates += o.duplicates;
    }
    if finish {
        import.finish().await.expect("finish");
    } else {
        drop(import);
    }
    store.close().await;
    (inserted, duplicates)
}

/// The grouping of messages into conversations, without the facts.
fn groups(snapshot: &[String]) -> Vec<&str> {
    snapshot
        .iter()
        .map(|r| r.split(" | ").next().unwrap_or(""))
        .collect()
}

async fn check_file(dir: &Path, msgs: Vec<ClassifiedMessage>, sizes: &[usize]) {
    let ingestor = ingestor();
    let one = one_shot(dir, &msgs, &ingestor).await;
    assert!(!one.is_empty());
    for &size in sizes {
        // The live path computes every touched conversation's facts in each batch's
        // transaction: the reference for the same arrival batches.
        let reference = snapshot(&live(dir, &msgs, &ingestor, size).await).await;
        assert_eq!(groups(&reference), groups(&one), "batches of {size}");
        for commit in [size, size * 3, usize::MAX] {
            let db = dir.join(format!("bulk_{size}_{}.db", commit.min(1 << 30)));
            let (inserted, duplicates) = bulk(&db, &msgs, &ingestor, size, commit, true).await;
            assert_eq!((inserted, duplicates), (msgs.len(), 0));
            assert_eq!(
                snapshot(&db).await,
                reference,
                "import, batches of {size}, commits of {commit}"
            );
        }
    }
    // Killed between its committed batches and its finishing pass: the next import (or
    // start) finishes the facts, and a second run stores nothing twice.
    let size = sizes[0];
    let reference = snapshot(&live(dir, &msgs, &ingestor, size).await).await;
    let db = dir.join("killed.db");
    let half = msgs.len() / 2 / size * size + size / 2;
    bulk(&db, &msgs[..half], &ingestor, size, size, false).await;
    let store = Store::open(&db).await.expect("open");
    let (partial, _) = store.counts().await.expect("counts");
    let partial = partial as usize;
    assert!(
        partial > 0 && partial < half,
        "{partial} of {half} committed"
    );
    let pending = store.finish_pending(&ingestor.rules).await.expect("finish");
    assert!(
        pending > 0,
        "the killed import left no continued conversation"
    );
    assert_eq!(
        store.finish_pending(&ingestor.rules).await.expect("again"),
        0
    );
    store.close().await;
    // Killed again (its leftovers finished by the next import), then run to the end.
    bulk(&db, &msgs[..half], &ingestor, size, size, false).await;
    let (inserted, duplicates) = bulk(&db, &msgs, &ingestor, size, size * 2, true).await;
    assert_eq!((inserted, duplicates), (msgs.len() - partial, partial));
    assert_eq!(snapshot(&db).await, reference, "killed, then re-imported");
    let (inserted, duplicates) = bulk(&db, &msgs, &ingestor, size * 5, usize::MAX, true).await;
    assert_eq!((inserted, duplicates), (0, msgs.len()));
    assert_eq!(snapshot(&db).await, reference, "imported twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_of_the_twcs_sample_matches_the_live_path() {
    if !Path::new(SAMPLE).exists() {
        eprintln!("skipped: {SAMPLE} is absent (clone shared/ next to the repo)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let msgs = classified(Path::new(SAMPLE), &ingestor());
    assert!(msgs.len() > 100, "{} messages", msgs.len());
    check_file(dir.path(), msgs, &[7, 30]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_of_a_demo_file_matches_the_live_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"),
        dir.path().join("config.toml"),
    )
    .expect("copy config");
    let data = dir.path().join("demo.csv");
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "demo",
            "--days",
            "3",
            "--rate",
            "60",
            "--now",
            "2026-11-20T00:00:00Z",
            "--out",
            data.to_str().expect("path"),
        ])
        .output()
        .expect("run demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs = classified(&data, &ingestor());
    assert!(msgs.len() > 1000, "{} messages", msgs.len());
    check_file(dir.path(), msgs, &[250, 1000]).await;
}

/// Customers who write again after more or less than the gap, brand replies that arrive
/// much later and bridge two of a customer's conversations, and quiet conversations found by
/// a later batch's lookup without being continued: in batches of 2 and 3, so that
/// conversations continue across batches and stored ones merge with new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_of_gaps_and_late_replies_matches_the_live_path() {
    use carepulse::model::{Direction, NewMessage, Platform};
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("t0");
    let h = |hours: i64| t0 + chrono::Duration::hours(hours);
    let msg =
        |id: &str, author: &str, at: chrono::DateTime<chrono::Utc>, reply_to: Option<&str>| {
            let outbound = author == "AcmeHelp";
            NewMessage {
                platform: Platform::X,
                external_id: id.to_string(),
                brand: "Acme".to_string(),
                author: author.to_string(),
                direction: if outbound {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                created_at: at,
                text: if outbound {
                    "Sorry about that, we are on it".to_string()
                } else {
                    "my order still has not arrived @AcmeHelp".to_string()
                },
                reply_to: reply_to.map(str::to_string),
                conversation_ref: None,
                url: None,
                engagement: None,
                customer: outbound.then(|| "ann".to_string()),
            }
        };
    let mut raw = Vec::new();
    for (k, customer) in ["ann", "bob", "cy", "dee"].iter().enumerate() {
        let k = k as i64;
        let id = |n: i64| format!("{customer}{n}");
        // 30 h apart: two conversations, then a brand reply to the first 36 h after it
        // stretches it over the second one (they merge); then 20 h later, the same one again.
        raw.push(msg(&id(1), customer, h(k), None));
        raw.push(msg(&id(2), customer, h(k + 30), None));
        let mut reply = msg(&id(3), "AcmeHelp", h(k + 36), Some(&id(1)));
        reply.customer = Some(customer.to_string());
        raw.push(reply);
        raw.push(msg(&id(4), customer, h(k + 56), None));
        // 50 h of silence: a new conversation, found by the next lookups but never continued.
        raw.push(msg(&id(5), customer, h(k + 106), None));
        raw.push(msg(&id(6), customer, h(k + 170), None));
    }
    // File order: by time, as exports are.
    raw.sort_by_key(|m| m.created_at);
    let msgs = ingestor().prepare_all(raw);
    check_file(dir.path(), msgs, &[2, 3]).await;
}
