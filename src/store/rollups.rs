//! The rollup tables (`rollup_volume`, `rollup_tags`, `author_activity`): message counts and
//! sentiment sums per 15-minute bucket and per UTC day, brand, platform, direction and category, the
//! product/topic mix of inbound messages, and who writes praise or helpful replies (the
//! loyalty candidates), added to in the ingest transaction and rebuilt from `messages` after a
//! reclassification. Reports read them instead of the messages when the window is whole
//! buckets and no product filter applies.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::{join_names, Store, StoreError};
use crate::kpi::inputs::{TagCount, BUCKET_S};
use crate::model::{Category, Direction, MessageAggregate, Platform, ReportQuery};

use super::ingest::ClassifiedMessage;

/// Width of the day rollups: one UTC day.
const DAY_S: i64 = 86_400;
/// Every message counts once at each width.
const WIDTHS: [i64; 2] = [BUCKET_S, DAY_S];

/// (width, bucket start) of a rollup row.
type Bucket = (i64, i64);

/// The sums of one rollup row.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: i64,
    compound: f64,
    positive: i64,
    neutral: i64,
    negative: i64,
}

/// One author's praise and helpful-looking replies in a batch (`author_activity`).
#[derive(Debug, Clone, Copy)]
struct Activity {
    n: i64,
    last_at: i64,
    /// Latest instants first.
    praise: [Option<i64>; 3],
    helpful: [Option<i64>; 2],
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            n: 0,
            last_at: i64::MIN,
            praise: [None; 3],
            helpful: [None; 2],
        }
    }
}

/// Inserts `at` into `latest` (descending, `None` last) if it is among the largest.
fn keep_latest(latest: &mut [Option<i64>], at: i64) {
    let mut carry = Some(at);
    for slot in latest.iter_mut() {
        if carry > *slot {
            std::mem::swap(slot, &mut carry);
        }
    }
}

/// Adds freshly inserted messages of one platform to the rollups.
pub(crate) fn add_messages(
    db: &rusqlite::Connection,
    platform: Platform,
    fresh: &[ClassifiedMessage],
) -> rusqlite::Result<()> {
    let mut volume: HashMap<(Bucket, &str, Direction, Category), Sums> = HashMap::new();
    let mut tags: HashMap<(Bucket, &str, String, String), i64> = HashMap::new();
    for m in fresh {
        let n = &m.message;
        let c = &m.classification;
        let compound = c.sentiment.compound;
        let tagged =
            n.direction == Direction::Inbound && (!c.products.is_empty() || !c.topics.is_empty());
        let names = tagged.then(|| (join_names(&c.products), join_names(&c.topics)));
        for width in WIDTHS {
            // As the migration's SQL computes it: `created_at / width * width`.
            let bucket = (width, n.created_at.timestamp() / width * width);
            let s = volume
                .entry((bucket, n.brand.as_str(), n.direction, c.category))
                .or_default();
            s.n += 1;
            s.compound += compound;
            if compound >= 0.05 {
                s.positive += 1;
            } else if compound <= -0.05 {
                s.negative += 1;
            } else {
                s.neutral += 1;
            }
            if let Some((products, topics)) = &names {
                *tags
                    .entry((bucket, n.brand.as_str(), products.clone(), topics.clone()))
                    .or_insert(0) += 1;
            }
        }
    }
    let mut authors: HashMap<&str, Activity> = HashMap::new();
    for m in fresh {
        let n = &m.message;
        if n.direction == Direction::Inbound && m.classification.category == Category::Praise {
            let at = n.created_at.timestamp();
            let e = authors.entry(n.author.as_str()).or_default();
            e.n += 1;
            e.last_at = e.last_at.max(at);
            keep_latest(&mut e.praise, at);
        }
    }
    upsert_activity(db, authors)?;
    let mut volume: Vec<_> = volume.into_iter().collect();
    volume.sort_by(|a, b| {
        (a.0 .0, a.0 .1, a.0 .2.as_str(), a.0 .3.as_str()).cmp(&(
            b.0 .0,
            b.0 .1,
            b.0 .2.as_str(),
            b.0 .3.as_str(),
        ))
    });
    // `OR FAIL`: no statement journal (store::ingest explains).
    let mut upsert = db.prepare_cached(
        "INSERT OR FAIL INTO rollup_volume (width, bucket, brand, platform, direction, category, n, compound_sum, positive, neutral, negative) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO UPDATE SET n = n + excluded.n, compound_sum = compound_sum + excluded.compound_sum, positive = positive + excluded.positive, neutral = neutral + excluded.neutral, negative = negative + excluded.negative",
    )?;
    for ((bucket, brand, direction, category), s) in &volume {
        upsert.execute(rusqlite::params![
            bucket.0,
            bucket.1,
            brand,
            platform.as_str(),
            direction.as_str(),
            category.as_str(),
            s.n,
            s.compound,
            s.positive,
            s.neutral,
            s.negative,
        ])?;
    }
    let mut tags: Vec<_> = tags.into_iter().collect();
    tags.sort();
    let mut upsert = db.prepare_cached(
        "INSERT OR FAIL INTO rollup_tags (width, bucket, brand, platform, products, topics, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?;
    for ((bucket, brand, products, topics), n) in &tags {
        upsert.execute(rusqlite::params![
            bucket.0,
            bucket.1,
            brand,
            platform.as_str(),
            products,
            topics,
            n,
        ])?;
    }
    Ok(())
}

/// Records helpful replies (author, instant), as `kpi::threading::helpful_replies` finds them
/// when a conversation's facts are written. A conversation written again records its replies
/// again: the kept instants may then repeat, which only makes an author a candidate sooner
/// (the report counts candidates exactly).
pub(crate) fn add_helpful(
    db: &rusqlite::Connection,
    replies: &[(String, i64)],
) -> rusqlite::Result<()> {
    if replies.is_empty() {
        return Ok(());
    }
    let mut authors: HashMap<&str, Activity> = HashMap::new();
    for (author, at) in replies {
        let e = authors.entry(author.as_str()).or_default();
        e.n += 1;
        e.last_at = e.last_at.max(*at);
        keep_latest(&mut e.helpful, *at);
    }
    upsert_activity(db, authors)
}

/// Merges per-author activity into `author_activity`: counts add up, and each kept instant
/// column becomes the k-th largest of the stored and the new instants.
fn upsert_activity(
    db: &rusqlite::Connection,
    authors: HashMap<&str, Activity>,
) -> rusqlite::Result<()> {
    if authors.is_empty() {
        return Ok(());
    }
    let mut authors: Vec<_> = authors.into_iter().collect();
    authors.sort_by(|a, b| a.0.cmp(b.0));
    let mut upsert = db.prepare_cached(&ACTIVITY_UPSERT)?;
    for (author, a) in &authors {
        upsert.execute(rusqlite::params![
            author,
            a.n,
            a.last_at,
            a.praise[0],
            a.praise[1],
            a.praise[2],
            a.helpful[0],
            a.helpful[1],
        ])?;
    }
    Ok(())
}

/// The upsert of one author's activity: the stored and the new latest instants merged, each
/// kept column the k-th largest of both.
static ACTIVITY_UPSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let latest = |k: usize, column: &str, of: &[&str]| {
        let union: Vec<String> = of
            .iter()
            .flat_map(|c| [format!("SELECT {c} AS v"), format!("SELECT excluded.{c}")])
            .collect();
        format!(
            "{column} = (SELECT v FROM ({}) WHERE v IS NOT NULL ORDER BY v DESC LIMIT 1 OFFSET {k})",
            union.join(" UNION ALL ")
        )
    };
    let praise = ["praise_1", "praise_2", "praise_3"];
    let helpful = ["helpful_1", "helpful_2"];
    let merge = [
        latest(0, "praise_1", &praise),
        latest(1, "praise_2", &praise),
        latest(2, "praise_3", &praise),
        latest(0, "helpful_1", &helpful),
        latest(1, "helpful_2", &helpful),
    ]
    .join(", ");
    format!(
        "INSERT OR FAIL INTO author_activity (author, n, last_at, praise_1, praise_2, praise_3, helpful_1, helpful_2) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO UPDATE SET n = n + excluded.n, last_at = max(last_at, excluded.last_at), {merge}"
    )
});

/// `author_activity` from all messages: each author's 3 latest inbound praise instants and 2
/// latest helpful-reply instants (the migration that made helpful replies exact runs the same).
const ACTIVITY_REBUILD: &str = "INSERT INTO author_activity (author, n, last_at, praise_1, praise_2, praise_3, helpful_1, helpful_2) SELECT author, count(*), max(created_at), max(CASE WHEN pr = 1 THEN created_at END), max(CASE WHEN pr = 2 THEN created_at END), max(CASE WHEN pr = 3 THEN created_at END), max(CASE WHEN hr = 1 THEN created_at END), max(CASE WHEN hr = 2 THEN created_at END) FROM (SELECT author, created_at, CASE WHEN praise THEN row_number() OVER (PARTITION BY author, praise ORDER BY created_at DESC) END AS pr, CASE WHEN helpful THEN row_number() OVER (PARTITION BY author, helpful ORDER BY created_at DESC) END AS hr FROM (SELECT m.author AS author, m.created_at AS created_at, m.category = 'praise' AS praise, coalesce(m.reply_to IS NOT NULL AND m.compound >= 0.05 AND m.author <> c.customer, 0) AS helpful FROM messages m LEFT JOIN conversations c ON c.id = m.conversation_id WHERE m.direction = 'inbound' AND (m.category = 'praise' OR (m.reply_to IS NOT NULL AND m.compound >= 0.05)))) WHERE pr IS NOT NULL OR hr IS NOT NULL GROUP BY author";

/// Recomputes the rollups from the stored messages (after their labels changed).
pub(crate) async fn rebuild(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM rollup_volume",
        "DELETE FROM rollup_tags",
        "INSERT INTO rollup_volume SELECT width, created_at / width * width, brand, platform, direction, coalesce(category, ''), count(*), total(compound), coalesce(sum(compound >= 0.05), 0), coalesce(sum(compound > -0.05 AND compound < 0.05), 0), coalesce(sum(compound <= -0.05), 0) FROM messages, (SELECT 900 AS width UNION ALL SELECT 86400) GROUP BY 1, 2, 3, 4, 5, 6",
        "INSERT INTO rollup_tags SELECT width, created_at / width * width, brand, platform, products, topics, count(*) FROM messages, (SELECT 900 AS width UNION ALL SELECT 86400) WHERE direction = 'inbound' AND (products <> ',' OR topics <> ',') GROUP BY 1, 2, 3, 4, 5, 6",
        "DELETE FROM author_activity",
        ACTIVITY_REBUILD,
    ] {
        sqlx::query(sql).execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM kv_state WHERE key = ?")
        .bind(super::relabel::ROLLUPS_STALE)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the rollups can answer `query`: its window is whole buckets and it has no product
/// filter (products are not a rollup dimension of the volumes).
pub(crate) fn serves(query: &ReportQuery) -> bool {
    query.product.is_none() && query.start % BUCKET_S == 0 && query.end % BUCKET_S == 0
}

/// The rows of `query`'s window: day rows for the whole UTC days inside it and 15-minute rows
/// for the rest, or 15-minute rows only (`days: false`), with the brand and platform filters.
pub(super) fn push_window(q: &mut QueryBuilder<'_, Sqlite>, query: &ReportQuery, days: bool) {
    let (s, e) = (query.start, query.end);
    let (d0, d1) = (s.div_euclid(DAY_S) * DAY_S, e.div_euclid(DAY_S) * DAY_S);
    let d0 = if d0 < s { d0 + DAY_S } else { d0 };
    q.push(" WHERE (");
    if days && d0 < d1 {
        q.push("(width = ")
            .push_bind(DAY_S)
            .push(" AND bucket >= ")
            .push_bind(d0)
            .push(" AND bucket < ")
            .push_bind(d1)
            .push(") OR (width = ")
            .push_bind(BUCKET_S)
            .push(" AND bucket >= ")
            .push_bind(s)
            .push(" AND bucket < ")
            .push_bind(d0)
            .push(") OR (width = ")
            .push_bind(BUCKET_S)
            .push(" AND bucket >= ")
            .push_bind(d1)
            .push(" AND bucket < ")
            .push_bind(e)
            .push(")");
    } else {
        q.push("width = ")
            .push_bind(BUCKET_S)
            .push(" AND bucket >= ")
            .push_bind(s)
            .push(" AND bucket < ")
            .push_bind(e);
    }
    q.push(")");
    if let Some(b) = &query.brand {
        q.push(" AND brand = ").push_bind(b.clone());
    }
    if let Some(p) = query.platform {
        q.push(" AND platform = ").push_bind(p.as_str());
    }
}

impl Store {
    /// `message_aggregates` from `rollup_volume` (the caller checked `serves`).
    pub(crate) async fn rollup_aggregates(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<MessageAggregate>, StoreError> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT platform, direction, category, sum(n), total(compound_sum), sum(positive), sum(neutral), sum(negative) FROM rollup_volume",
        );
        push_window(&mut q, query, true);
        q.push(" GROUP BY platform, direction, category");
        let mut out = Vec::new();
        for row in q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
        {
            let platform: String = row.get(0);
            let direction: String = row.get(1);
            let category: String = row.get(2);
            out.push(MessageAggregate {
                platform: platform
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                direction: direction
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                category: category.parse().ok(),
                count: row.get(3),
                compound_sum: row.get(4),
                positive: row.get(5),
                neutral: row.get(6),
                negative: row.get(7),
            });
        }
        Ok(out)
    }

    /// Inbound counts per 15-minute bucket from `rollup_volume` (the caller checked `serves`).
    /// With `days`, the window's whole UTC days come as one row each (bucket = the day's
    /// start): for callers that only need sums per day aligned on UTC midnights.
    pub(crate) async fn rollup_inbound_buckets(
        &self,
        query: &ReportQuery,
        days: bool,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT bucket, sum(n) FROM rollup_volume");
        push_window(&mut q, query, days);
        q.push(" AND direction = 'inbound' GROUP BY bucket");
        Ok(q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
            .collect())
    }

    /// Inbound counts per (products, topics) from `rollup_tags` (the caller checked `serves`).
    pub(crate) async fn rollup_tag_counts(
        &self,
        query: &ReportQuery,
    ) -> Result<Vec<TagCount>, StoreError> {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT products, topics, sum(n) FROM rollup_tags");
        push_window(&mut q, query, true);
        q.push(" GROUP BY products, topics ORDER BY products, topics");
        Ok(q.build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.map_err(e))?
            .iter()
            .map(|r| TagCount {
                products: super::split_names(r.get::<&str, _>(0)),
                topics: super::split_names(r.get::<&str, _>(1)),
                count: r.get(2),
            })
            .collect())
    }

    /// Recomputes the rollups from the stored messages.
    pub async fn rebuild_rollups(&self) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.map_err(e))?;
        rebuild(&mut tx).await.map_err(|e| self.map_err(e))?;
        tx.commit().await.map_err(|e| self.map_err(e))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{Classification, NewMessage, Sentiment};
    use crate::store::IngestRules;

    pub(crate) const T0: i64 = 1_795_392_000; // 2026-11-23 00:00 UTC

    /// Messages spread over two days, three brands, two platforms, both directions, every
    /// category, with products and topics, in batches that add to the same buckets.
    pub(crate) fn messages(n: usize) -> Vec<ClassifiedMessage> {
        let cats = [
            Category::Complaint,
            Category::Inquiry,
            Category::Praise,
            Category::Other,
        ];
        (0..n)
            .map(|i| {
                let platform = if i % 3 == 0 {
                    Platform::Facebook
                } else {
                    Platform::X
                };
                let direction = if i % 4 == 3 {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                };
                let compound = ((i * 37) % 200) as f64 / 100.0 - 1.0;
                let message = NewMessage {
                    platform,
                    external_id: format!("m{i}"),
                    brand: ["Acme", "Globex", "Initech"][i % 3].to_string(),
                    author: if i % 6 == 5 {
                        format!("fan{}", i % 5)
                    } else {
                        format!("user{}", i % 17)
                    },
                    direction,
                    created_at: Utc
                        .timestamp_opt(T0 + (i as i64 * 613) % (2 * 86400), 0)
                        .single()
                        .unwrap_or_default(),
                    text: format!("text {i}"),
                    reply_to: (i % 6 == 5).then(|| format!("m{}", i - 3)),
                    conversation_ref: (i % 6 != 5).then(|| format!("c{}", i / 3)),
                    url: None,
                    engagement: None,
                    customer: Some(format!("user{}", i % 17)),
                };
                ClassifiedMessage {
                    message,
                    classification: Classification {
                        sentiment: Sentiment {
                            compound,
                            pos: 0.0,
                            neu: 1.0,
                            neg: 0.0,
                        },
                        category: cats[i % 4],
                        confidence: 0.9,
                        complaint_score: 0.5,
                        products: match i % 5 {
                            0 => vec!["kettle".into()],
                            1 => vec!["kettle".into(), "toaster".into()],
                            _ => vec![],
                        },
                        topics: if i % 7 == 0 {
                            vec!["delivery".into()]
                        } else {
                            vec![]
                        },
                    },
                    redirect: false,
                    classifier_version: "test".into(),
                }
            })
            .collect()
    }

    pub(crate) async fn filled() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("r.db")).await.expect("open");
        let all = messages(900);
        // Three batches, so later ones add to buckets the earlier ones created.
        for part in all.chunks(300) {
            store
                .ingest(part.to_vec(), None, &IngestRules::default(), T0)
                .await
                .expect("ingest");
        }
        (dir, store)
    }

    pub(crate) fn queries() -> Vec<ReportQuery> {
        let q =
            |start: i64, end: i64, brand: Option<&str>, platform: Option<Platform>| ReportQuery {
                start,
                end,
                brand: brand.map(str::to_string),
                platform,
                product: None,
            };
        vec![
            q(T0, T0 + 86400, None, None),
            q(T0 + 86400, T0 + 2 * 86400, None, None),
            q(T0 - 86400, T0 + 3 * 86400, None, None),
            q(T0 + 3600, T0 + 5400, Some("Globex"), None),
            q(T0, T0 + 2 * 86400, None, Some(Platform::Facebook)),
            q(T0, T0 + 2 * 86400, Some("Acme"), Some(Platform::X)),
            q(T0 + 5 * 86400, T0 + 6 * 86400, None, None),
            // Whole UTC days inside, 15-minute buckets at both ends.
            q(T0 - 3 * 3600, T0 + 86400 + 2 * 3600, None, None),
            // Local days of a +05:30 zone: one whole UTC day inside.
            q(T0 - 19_800, T0 + 2 * 86400 - 19_800, Some("Acme"), None),
            // No whole UTC day inside.
            q(
                T0 + 5 * 3600,
                T0 + 86400 + 7 * 3600,
                None,
                Some(Platform::X),
            ),
        ]
    }

    fn assert_same(a: &[MessageAggregate], b: &[MessageAggregate]) {
        assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (x.platform, x.direction, x.category, x.count),
                (y.platform, y.direction, y.category, y.count)
            );
            assert_eq!(
                (x.positive, x.neutral, x.negative),
                (y.positive, y.neutral, y.negative)
            );
            assert!(
                (x.compound_sum - y.compound_sum).abs() < 1e-9,
                "{x:?} {y:?}"
            );
        }
    }

    /// Aggregates in (platform, direction, category) order, for comparing two reads.
    fn sort_aggregates(v: &mut [MessageAggregate]) {
        v.sort_by(|a, b| {
            let key = |m: &MessageAggregate| {
                (
                    m.platform.as_str(),
                    m.direction.as_str(),
                    m.category.map(|c| c.as_str()),
                )
            };
            key(a).cmp(&key(b))
        });
    }

    async fn check_against_scan(store: &Store) {
        let mut nonempty = 0;
        for q in queries() {
            assert!(serves(&q));
            let mut rolled = store.rollup_aggregates(&q).await.expect("rollup");
            let mut scanned = store.scan_message_aggregates(&q).await.expect("scan");
            sort_aggregates(&mut rolled);
            sort_aggregates(&mut scanned);
            assert_same(&rolled, &scanned);
            nonempty += usize::from(!rolled.is_empty());
            assert_eq!(
                store.rollup_tag_counts(&q).await.expect("tags"),
                store.scan_tag_counts(&q).await.expect("tags")
            );
            assert_eq!(
                store
                    .rollup_inbound_buckets(&q, false)
                    .await
                    .expect("buckets"),
                store.scan_inbound_buckets(&q).await.expect("buckets")
            );
        }
        assert!(nonempty >= 5, "the windows hold data");
    }

    /// Windows that end (or start) inside a 15-minute bucket, as `today` does at `now`: the
    /// whole buckets come from the rollups, the edges from the messages, and together they
    /// equal a scan of the whole window.
    #[tokio::test]
    async fn partial_bucket_windows_equal_a_scan() {
        let (_dir, store) = filled().await;
        let mut nonempty = 0;
        for (start, end, brand) in [
            (T0, T0 + 86400 + 4 * 3600 + 417, None),
            (T0 + 61, T0 + 2 * 86400 - 7, Some("Acme")),
            (T0 + 3600 + 5, T0 + 3600 + 899, None),
            (T0 + 899, T0 + 86400 + 901, None),
        ] {
            let q = ReportQuery {
                start,
                end,
                brand: brand.map(str::to_string),
                ..ReportQuery::default()
            };
            assert!(!serves(&q));
            let mut scanned = store.scan_message_aggregates(&q).await.expect("scan");
            sort_aggregates(&mut scanned);
            let got = store.message_aggregates(&q).await.expect("aggregates");
            assert_same(&got, &scanned);
            assert_eq!(
                store.tag_counts(&q).await.expect("tags"),
                store.scan_tag_counts(&q).await.expect("tags"),
                "{q:?}"
            );
            nonempty += usize::from(!got.is_empty());
        }
        assert!(nonempty >= 3, "the windows hold data");
    }

    #[tokio::test]
    async fn rollups_kept_at_ingest_equal_a_scan_of_the_messages() {
        let (_dir, store) = filled().await;
        check_against_scan(&store).await;
        // Re-ingesting the same messages stores nothing and adds nothing.
        store
            .ingest(messages(900), None, &IngestRules::default(), T0)
            .await
            .expect("again");
        check_against_scan(&store).await;
    }

    #[tokio::test]
    async fn rebuilt_rollups_equal_the_incremental_ones() {
        let (_dir, store) = filled().await;
        let q = &queries()[2];
        let before = store.rollup_aggregates(q).await.expect("before");
        let tags = store.rollup_tag_counts(q).await.expect("tags");
        store.rebuild_rollups().await.expect("rebuild");
        let mut after = store.rollup_aggregates(q).await.expect("after");
        let mut before = before;
        sort_aggregates(&mut before);
        sort_aggregates(&mut after);
        assert_same(&before, &after);
        assert_eq!(tags, store.rollup_tag_counts(q).await.expect("tags"));
        assert_eq!(before.iter().map(|m| m.count).sum::<i64>(), 900);
    }

    #[test]
    fn keep_latest_keeps_the_largest_in_order() {
        let mut l = [None; 3];
        for t in [5, 1, 9, 7, 7, 2] {
            keep_latest(&mut l, t);
        }
        assert_eq!(l, [Some(9), Some(7), Some(7)]);
        let mut short = [None; 2];
        keep_latest(&mut short, 4);
        assert_eq!(short, [Some(4), None]);
    }

    /// The latest praise instants merged batch by batch at ingest equal those computed from
    /// all messages at once; the helpful instants kept at ingest are never earlier than the
    /// exact ones (a conversation written twice records its replies twice), so no loyalist is
    /// missed.
    #[tokio::test]
    async fn author_activity_at_ingest_equals_a_rebuild() {
        type Row = (
            String,
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let (_dir, store) = filled().await;
        // A customer thanking twice in their own conversation is not helping anyone.
        let mut own = messages(3);
        for (i, m) in own.iter_mut().enumerate() {
            m.message.external_id = format!("own{i}");
            m.message.author = "selfie".into();
            m.message.direction = Direction::Inbound;
            m.message.conversation_ref = None;
            m.message.reply_to = (i > 0).then(|| format!("own{}", i - 1));
            m.classification.sentiment.compound = 0.8;
        }
        store
            .ingest(own, None, &IngestRules::default(), T0)
            .await
            .expect("ingest");
        let read = || async {
            sqlx::query_as::<_, Row>(
                "SELECT author, n, last_at, praise_1, praise_2, praise_3, helpful_1, helpful_2 FROM author_activity ORDER BY author",
            )
            .fetch_all(&store.pool)
            .await
            .expect("activity")
        };
        let incremental = read().await;
        assert!(
            incremental.iter().any(|r| r.5.is_some()),
            "some author has 3 praise"
        );
        assert!(
            incremental.iter().any(|r| r.7.is_some()),
            "some author has 2 helpful"
        );
        store.rebuild_rollups().await.expect("rebuild");
        let rebuilt = read().await;
        let praise = |rows: &[Row]| -> Vec<_> {
            rows.iter()
                .filter(|r| r.3.is_some())
                .map(|r| (r.0.clone(), r.3, r.4, r.5))
                .collect()
        };
        assert_eq!(praise(&incremental), praise(&rebuilt));
        let kept: HashMap<&str, &Row> = incremental.iter().map(|r| (r.0.as_str(), r)).collect();
        for exact in rebuilt.iter().filter(|r| r.6.is_some()) {
            let Some(at_ingest) = kept.get(exact.0.as_str()) else {
                panic!("{} lost its helpful replies", exact.0);
            };
            assert!(
                at_ingest.6 >= exact.6 && at_ingest.7 >= exact.7,
                "{}: kept {:?}/{:?}, exact {:?}/{:?}",
                exact.0,
                at_ingest.6,
                at_ingest.7,
                exact.6,
                exact.7
            );
        }
        // Only replies in another customer's conversation count.
        for rows in [&incremental, &rebuilt] {
            assert!(rows.iter().any(|r| r.6.is_some()), "someone helps");
            assert!(
                rows.iter().all(|r| r.0 != "selfie" || r.6.is_none()),
                "own replies are not help: {rows:?}"
            );
        }
    }

    /// Loyalty counted over every praise and helpful reply of the window (no candidates).
    async fn loyalty_by_full_scan(store: &Store, q: &ReportQuery) -> Vec<(String, i64, i64)> {
        let mut rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT author, sum(p), sum(h) FROM (SELECT m.author AS author, 1 AS p, 0 AS h FROM messages m WHERE m.direction = 'inbound' AND m.category = 'praise' AND m.created_at >= ?1 AND m.created_at < ?2 UNION ALL SELECT m.author, 0, 1 FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.direction = 'inbound' AND m.reply_to IS NOT NULL AND m.compound >= 0.05 AND m.author <> c.customer AND m.created_at >= ?1 AND m.created_at < ?2) GROUP BY author HAVING sum(p) >= 3 OR sum(h) >= 2",
        )
        .bind(q.start)
        .bind(q.end)
        .fetch_all(&store.pool)
        .await
        .expect("scan");
        rows.sort();
        rows
    }

    #[tokio::test]
    async fn loyalty_from_candidates_equals_a_full_scan() {
        let (_dir, store) = filled().await;
        let (mut loyal, mut helpful) = (0, 0);
        for q in queries()
            .into_iter()
            .filter(|q| q.brand.is_none() && q.platform.is_none())
        {
            let mut got: Vec<(String, i64, i64)> = store
                .loyalty(&q)
                .await
                .expect("loyalty")
                .into_iter()
                .map(|a| (a.author, a.praise, a.helpful))
                .collect();
            got.sort();
            let want = loyalty_by_full_scan(&store, &q).await;
            assert_eq!(got, want, "window {q:?}");
            loyal += want.len();
            helpful += want.iter().filter(|w| w.2 > 0).count();
        }
        assert!(
            loyal > 0 && helpful > 0,
            "authors qualify by praise and by help"
        );
    }

    /// The inbound message aggregates of `[start, end)`, scanned from the messages.
    async fn scanned_inbound(
        store: &Store,
        filters: &ReportQuery,
        start: i64,
        end: i64,
    ) -> Vec<MessageAggregate> {
        store
            .scan_message_aggregates(&ReportQuery {
                start,
                end,
                ..filters.clone()
            })
            .await
            .expect("scan")
            .into_iter()
            .filter(|a| a.direction == Direction::Inbound)
            .collect()
    }

    /// `inbound_per_day` of `window` in `tz`, summed per local day, equals a scan of each local
    /// day of the window, and no count falls outside its days.
    async fn assert_inbound_per_day_equals_a_scan(
        store: &Store,
        tz: chrono_tz::Tz,
        window: &crate::kpi::window::Window,
        label: &str,
    ) {
        use crate::kpi::window::local_midnight;
        let filters = ReportQuery::default();
        let mut got: HashMap<chrono::NaiveDate, i64> = HashMap::new();
        for (bucket, n) in store
            .inbound_per_day(&filters, window, tz)
            .await
            .expect("per day")
        {
            let day = tz
                .timestamp_opt(bucket, 0)
                .single()
                .expect("instant")
                .date_naive();
            *got.entry(day).or_default() += n;
        }
        let mut total = 0;
        for day in window.local_days() {
            let start = local_midnight(tz, day).timestamp().max(window.start_s());
            let end = local_midnight(tz, day.succ_opt().expect("next"))
                .timestamp()
                .min(window.end_s());
            let want: i64 = scanned_inbound(store, &filters, start, end)
                .await
                .iter()
                .map(|a| a.count)
                .sum();
            assert_eq!(got.get(&day).copied().unwrap_or(0), want, "{label} {day}");
            total += want;
        }
        assert_eq!(got.values().sum::<i64>(), total, "{label}: no stray day");
    }

    /// Inbound counts per local day from the rollups (day rows where local days start at UTC
    /// midnight, 15-minute rows elsewhere) equal a scan of each local day, in zones on and off
    /// UTC and for a partial last day.
    #[tokio::test]
    async fn inbound_per_day_equals_a_scan_per_local_day() {
        use crate::kpi::window::{resolve, WindowSpec};
        let (_dir, store) = filled().await;
        let first = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).expect("date");
        let last = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
        for tz in [
            chrono_tz::UTC,
            chrono_tz::Europe::London,
            chrono_tz::Asia::Kolkata,
        ] {
            for now in [T0 + 2 * 86400, T0 + 86400 + 13 * 3600 + 900] {
                let now = Utc.timestamp_opt(now, 0).single().expect("now");
                for spec in [
                    WindowSpec::Dates(first, last),
                    WindowSpec::Today,
                    WindowSpec::Week,
                ] {
                    let window = resolve(spec, now, tz);
                    assert_inbound_per_day_equals_a_scan(
                        &store,
                        tz,
                        &window,
                        &format!("{tz} {spec:?}"),
                    )
                    .await;
                }
            }
        }
    }

    /// Across the end of British summer time (2026-10-25) a London window mixes local days off
    /// UTC midnight (15-minute rows) with days on it (day rows); each day still counts exactly
    /// its own messages.
    #[tokio::test]
    async fn inbound_per_day_across_a_change_of_clocks_equals_a_scan() {
        use crate::kpi::window::{resolve, WindowSpec};
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("dst.db")).await.expect("open");
        // The fixture's two days moved to 2026-10-24 .. 2026-10-26 (UTC).
        let shift = 30 * 86400;
        let moved: Vec<ClassifiedMessage> = messages(900)
            .into_iter()
            .map(|mut m| {
                m.message.created_at -= chrono::Duration::seconds(shift);
                m
            })
            .collect();
        store
            .ingest(moved, None, &IngestRules::default(), T0)
            .await
            .expect("ingest");
        let tz = chrono_tz::Europe::London;
        let date = |d| chrono::NaiveDate::from_ymd_opt(2026, 10, d).expect("date");
        for (spec, now) in [
            (WindowSpec::Dates(date(22), date(28)), T0),
            (WindowSpec::Week, T0 - shift + 3 * 86400),
            (WindowSpec::Week, T0 - shift + 2 * 86400 + 5 * 3600),
            (WindowSpec::Yesterday, T0 - shift + 86400 + 3600),
        ] {
            let now = Utc.timestamp_opt(now, 0).single().expect("now");
            let window = resolve(spec, now, tz);
            assert_inbound_per_day_equals_a_scan(
                &store,
                tz,
                &window,
                &format!("{spec:?} at {now}"),
            )
            .await;
        }
    }

    /// The chart's day series read from the rollups equals, day by day, the inbound
    /// aggregates scanned from the messages over the same local day.
    #[tokio::test]
    async fn daily_volume_from_rollups_equals_a_scan_per_local_day() {
        let (_dir, store) = filled().await;
        let tz = chrono_tz::Asia::Kolkata;
        let first = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).expect("date");
        let last = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
        for brand in [None, Some("Globex".to_string())] {
            let filters = ReportQuery {
                brand: brand.clone(),
                ..ReportQuery::default()
            };
            let days = store
                .daily_volume(&filters, first, last, tz)
                .await
                .expect("days");
            assert_eq!(days.len(), 4);
            let mut total = 0;
            for d in &days {
                let start = crate::kpi::window::local_midnight(tz, d.date).timestamp();
                let end = crate::kpi::window::local_midnight(tz, d.date.succ_opt().expect("next"))
                    .timestamp();
                let scanned = scanned_inbound(&store, &filters, start, end).await;
                assert_eq!(d.inbound, scanned.iter().map(|a| a.count).sum::<i64>());
                assert_eq!(d.positive, scanned.iter().map(|a| a.positive).sum::<i64>());
                assert_eq!(d.negative, scanned.iter().map(|a| a.negative).sum::<i64>());
                for c in Category::ALL {
                    let want: i64 = scanned
                        .iter()
                        .filter(|a| a.category == Some(c))
                        .map(|a| a.count)
                        .sum();
                    assert_eq!(d.by_category.get(&c).copied().unwrap_or(0), want);
                }
                total += d.inbound;
            }
            assert!(total > 0, "the days hold data ({brand:?})");
        }
    }

    #[test]
    fn only_whole_buckets_without_a_product_filter_are_served() {
        let q = ReportQuery {
            start: T0,
            end: T0 + 900,
            ..ReportQuery::default()
        };
        assert!(serves(&q));
        assert!(!serves(&ReportQuery {
            start: T0 + 1,
            ..q.clone()
        }));
        assert!(!serves(&ReportQuery {
            product: Some("kettle".into()),
            ..q
        }));
    }
}
