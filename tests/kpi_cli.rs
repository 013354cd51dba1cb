//! The `kpi` and `export` commands over a small store built through `Store::ingest`: every
//! store read (window aggregates, resolution candidates, backlog, praise, loyalty, badge) and
//! the filters, checked against a scenario worked out by hand.

use chrono::{DateTime, TimeZone, Utc};

use carepulse::cli::kpi::{
    run_export, run_kpi, ExportArgs, ExportFormat, KpiArgs, KpiFormat, ReportScope,
};
use carepulse::config::Config;
use carepulse::model::{Category, Classification, Direction, NewMessage, Platform, Sentiment};
use carepulse::store::{ClassifiedMessage, IngestRules, Store};

const H: i64 = 3600;

fn at(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().expect("instant")
}

/// 2026-11-22 00:00 UTC: "yesterday" when now is 2026-11-23 08:00.
const DAY: i64 = 1_795_305_600;

#[allow(clippy::too_many_arguments)]
fn msg(
    id: &str,
    platform: Platform,
    brand: &str,
    author: &str,
    dir: Direction,
    t: i64,
    reply_to: Option<&str>,
    cat: Category,
    compound: f64,
    products: &[&str],
) -> ClassifiedMessage {
    ClassifiedMessage {
        message: NewMessage {
            platform,
            external_id: id.into(),
            brand: brand.into(),
            author: author.into(),
            direction: dir,
            created_at: at(t),
            text: format!("text of {id}"),
            reply_to: reply_to.map(str::to_string),
            conversation_ref: None,
            url: Some(format!("https://example.test/{id}")),
            engagement: Some(3),
            customer: None,
        },
        classification: Classification {
            sentiment: Sentiment {
                compound,
                ..Sentiment::default()
            },
            category: cat,
            confidence: 0.9,
            complaint_score: 0.0,
            products: products.iter().map(|s| s.to_string()).collect(),
            topics: vec![],
        },
        redirect: false,
        classifier_version: "test".into(),
    }
}

async fn scenario(path: &std::path::Path) -> Store {
    use Category::*;
    use Direction::*;
    use Platform::*;
    let store = Store::open(path).await.expect("open store");
    let d = DAY;
    let batch = vec![
        // c1: complaint at 09:00, answered 09:30, customer thanks at 10:00 (resolved, thanks).
        msg(
            "a1",
            X,
            "Acme",
            "alice",
            Inbound,
            d + 9 * H,
            None,
            Complaint,
            -0.6,
            &["router"],
        ),
        msg(
            "r1",
            X,
            "Acme",
            "AcmeHelp",
            Outbound,
            d + 9 * H + 1800,
            Some("a1"),
            Other,
            0.2,
            &[],
        ),
        msg(
            "a2",
            X,
            "Acme",
            "alice",
            Inbound,
            d + 10 * H,
            Some("r1"),
            Praise,
            0.8,
            &[],
        ),
        // c2: inquiry at 11:00, answered 13:00, then silence: auto-resolved at 13:00 at now
        // (2026-11-23 08:00 is 19 h later: not yet!). So unresolved.
        msg(
            "b1",
            X,
            "Acme",
            "bob",
            Inbound,
            d + 11 * H,
            None,
            Inquiry,
            0.0,
            &[],
        ),
        msg(
            "s1",
            X,
            "Acme",
            "AcmeHelp",
            Outbound,
            d + 13 * H,
            Some("b1"),
            Other,
            0.0,
            &[],
        ),
        // c3: complaint at 12:00 on Facebook, never answered: backlog.
        msg(
            "c1",
            Facebook,
            "Acme",
            "carol",
            Inbound,
            d + 12 * H,
            None,
            Complaint,
            -0.4,
            &["tv"],
        ),
        // c4: praise on X, not actionable.
        msg(
            "p1",
            X,
            "Acme",
            "dave",
            Inbound,
            d + 14 * H,
            None,
            Praise,
            0.9,
            &[],
        ),
        // Another brand, same day.
        msg(
            "z1",
            X,
            "Zeta",
            "erin",
            Inbound,
            d + 15 * H,
            None,
            Complaint,
            -0.5,
            &[],
        ),
        // The day before: one inquiry answered in 10 min, resolved automatically on its day.
        msg(
            "y1",
            X,
            "Acme",
            "fred",
            Inbound,
            d - 20 * H,
            None,
            Inquiry,
            0.0,
            &[],
        ),
        msg(
            "y2",
            X,
            "Acme",
            "AcmeHelp",
            Outbound,
            d - 20 * H + 600,
            Some("y1"),
            Other,
            0.0,
            &[],
        ),
    ];
    store
        .ingest(batch, None, &IngestRules::default(), DAY + 2 * 86400)
        .await
        .expect("ingest");
    store
}

fn scope(window: &str) -> ReportScope {
    ReportScope {
        brand: Some("Acme".into()),
        platform: None,
        product: None,
        window: Some(window.into()),
        from: None,
        to: None,
        tz: None,
        now: None,
    }
}

fn config() -> Config {
    Config::parse(
        "[[brands]]\nname = \"Acme\"\n",
        std::path::Path::new("test"),
        &|_| None,
    )
    .expect("minimal config")
}

async fn json(store: &Store, scope: ReportScope) -> serde_json::Value {
    let mut out = Vec::new();
    let args = KpiArgs {
        command: None,
        scope,
        format: KpiFormat::Json,
    };
    run_kpi(args, store, &config(), at(DAY + 86400 + 8 * H), &mut out)
        .await
        .expect("kpi");
    serde_json::from_slice(&out).expect("json")
}

#[tokio::test]
async fn kpi_json_over_a_hand_built_day() {
    let dir = tempfile::tempdir().expect("dir");
    let store = scenario(&dir.path().join("k.db")).await;
    let j = json(&store, scope("yesterday")).await;
    // Inbound a1 a2 b1 c1 p1 = 5; outbound r1 s1 = 2.
    assert_eq!(j["inbound_volume"], 5);
    assert_eq!(j["outbound_volume"], 2);
    assert_eq!(j["by_platform"]["facebook"], 1);
    assert_eq!(j["by_product"]["router"], 1);
    assert_eq!(j["conversations_new"], 4);
    // Actionable: c1 (30 min), c2 (2 h), c3 (unanswered, 20 h old at now).
    assert_eq!(j["response_rate"].as_f64(), Some(2.0 / 3.0));
    assert_eq!(j["frt_median_s"], 4500.0);
    assert_eq!(j["frt_p90_s"], 7200);
    assert_eq!(j["gos"].as_f64(), Some(1.0 / 3.0));
    assert_eq!(j["frt_histogram"]["0-1h"], 1);
    assert_eq!(j["frt_histogram"]["1-4h"], 1);
    assert_eq!(j["frt_histogram"]["unanswered"], 1);
    assert_eq!(j["backlog"], 1);
    assert_eq!(j["backlog_oldest_wait_s"], 20 * H);
    // Resolved yesterday: c1 by thanks at 10:00 (1 h after start; handling 30 min).
    assert_eq!(j["resolved"], 1);
    assert_eq!(j["resolved_by_us"], 1);
    assert_eq!(j["resolution_median_s"], 3600.0);
    assert_eq!(j["handling_total_s"], 1800);
    assert_eq!(j["fcr_rate"], 1.0);
    // complaints a1 c1 = 2, praise a2 p1 = 2.
    assert_eq!(j["complaint_praise_ratio"], 1.0);
    // Stories: p1 0.9 ln 5 beats a2 0.8 ln 5.
    assert_eq!(j["success_stories"][0]["author"], "dave");
    assert_eq!(j["success_stories"][1]["author"], "alice");
    // Turnaround: c1 opened at -0.6, closed at 0.8 after a reply, 1 h.
    assert_eq!(j["turnarounds_count"], 1);
    assert_eq!(j["turnarounds"][0]["took_s"], 3600);
    // Previous day: fred's conversation, resolved automatically 10 min after it started.
    let prev = &j["deltas"]["previous"]["metrics"];
    assert_eq!(prev["inbound_volume"]["base"], 1.0);
    assert_eq!(prev["inbound_volume"]["delta"], 4.0);
    assert_eq!(prev["resolved"]["base"], 1.0);
    assert!(j["deltas"]["week_earlier"]["metrics"]["inbound_volume"]["delta_pct"].is_null());
    // Badge over 7 days: fred (10 min), alice (30 min), bob (2 h), carol (none).
    assert_eq!(j["badge"]["overall"]["conversations"], 4);
    assert_eq!(
        j["badge"]["by_platform"]["facebook"]["status"],
        "not responsive"
    );
    // Daily series: one day, 5 mentions, 1 resolved by us.
    assert_eq!(j["mentions_vs_resolved"][0]["mentions"], 5);
    assert_eq!(j["mentions_vs_resolved"][0]["resolved_by_us"], 1);
}

#[tokio::test]
async fn filters_cut_every_read() {
    let dir = tempfile::tempdir().expect("dir");
    let store = scenario(&dir.path().join("k.db")).await;
    let mut s = scope("yesterday");
    s.platform = Some(Platform::Facebook);
    let j = json(&store, s).await;
    assert_eq!(j["inbound_volume"], 1);
    assert_eq!(j["backlog"], 1);
    assert_eq!(j["resolved"], 0);
    assert!(j["frt_median_s"].is_null());
    let mut s = scope("yesterday");
    s.product = Some("router".into());
    let j = json(&store, s).await;
    assert_eq!(j["inbound_volume"], 1);
    assert_eq!(j["conversations_new"], 1);
    assert_eq!(j["backlog"], 0);
    let mut s = scope("yesterday");
    s.brand = Some("Zeta".into());
    let j = json(&store, s).await;
    assert_eq!(j["inbound_volume"], 1);
    assert_eq!(j["backlog"], 1);
    assert_eq!(j["complaint_praise_ratio_infinite"], true);
}

/// `--brand` and `--product` naming nothing stored or configured fail with the names there
/// are; another case of a known name reads as that name.
#[tokio::test]
async fn unknown_brand_or_product_is_an_error_naming_the_known_ones() {
    let dir = tempfile::tempdir().expect("dir");
    let store = scenario(&dir.path().join("k.db")).await;
    let run = |scope: ReportScope| {
        let store = &store;
        async move {
            let args = KpiArgs {
                command: None,
                scope,
                format: KpiFormat::Json,
            };
            let mut out = Vec::new();
            run_kpi(args, store, &config(), at(DAY + 86400 + 8 * H), &mut out)
                .await
                .map(|()| out)
        }
    };
    let mut s = scope("yesterday");
    s.brand = Some("Acem".into());
    let e = run(s).await.expect_err("unknown brand");
    assert_eq!(
        e.to_string(),
        "unknown brand 'Acem': try --brand Acme, --brand Zeta"
    );
    let mut s = scope("yesterday");
    s.product = Some("routers".into());
    let e = run(s).await.expect_err("unknown product");
    assert!(
        e.to_string()
            .starts_with("unknown product 'routers': try --product "),
        "{e}"
    );
    assert!(e.to_string().contains("--product router"), "{e}");
    let mut s = scope("yesterday");
    s.brand = Some("ACME".into());
    let folded: serde_json::Value =
        serde_json::from_slice(&run(s).await.expect("case-folded brand")).expect("json");
    assert_eq!(folded, json(&store, scope("yesterday")).await);
}

#[tokio::test]
async fn text_and_export() {
    let dir = tempfile::tempdir().expect("dir");
    let store = scenario(&dir.path().join("k.db")).await;
    let mut out = Vec::new();
    let args = KpiArgs {
        command: None,
        scope: scope("week"),
        format: KpiFormat::Text,
    };
    run_kpi(args, &store, &config(), at(DAY + 86400 + 8 * H), &mut out)
        .await
        .expect("kpi");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("Response rate"), "{text}");
    assert!(text.contains("vs previous"), "{text}");
    assert!(
        !text.contains("vs week before"),
        "weekly windows have no week-earlier column"
    );

    let mut out = Vec::new();
    let args = ExportArgs {
        scope: scope("yesterday"),
        format: ExportFormat::Csv,
    };
    run_export(args, &store, &config(), at(DAY + 86400 + 8 * H), &mut out)
        .await
        .expect("export");
    let csv = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "header + 4 conversations: {csv}");
    assert!(lines[0].starts_with("conversation_id,brand,platform,customer,start,first_reply,frt_s"));
    assert!(
        lines[1].contains(",alice,") && lines[1].contains(",1800,") && lines[1].contains("thanks"),
        "{}",
        lines[1]
    );
}

/// The SQL aggregates the report reads (responsiveness and resolution stats, message
/// aggregates, per-day inbound counts, turnarounds) equal the pure engine's computation over
/// the full conversation rows, at several instants and windows, with and without filters.
#[tokio::test]
async fn sql_aggregates_equal_the_pure_engine_over_full_rows() {
    use carepulse::kpi::inputs::KpiRules;
    use carepulse::kpi::report::compute_window;
    use carepulse::kpi::resolution::{resolved_in, ResolvedStats};
    use carepulse::kpi::response::StartedStats;
    use carepulse::kpi::window::{resolve, WindowSpec};
    use carepulse::kpi::WindowInputs;
    use carepulse::model::ReportQuery;

    let dir = tempfile::tempdir().expect("temp dir");
    let store = scenario(&dir.path().join("s.db")).await;
    let rules = KpiRules::default();
    let mut checked = 0;
    // Phase 0: every day dirty (reports read the conversations); 1: KPI blocks built for every
    // day; 2: a later write dirties one day again (a reply and a chat mark), the others are
    // read from blocks.
    for phase in 0..3 {
        if phase == 1 {
            assert!(store.refresh_kpi_blocks().await.expect("refresh") >= 2);
            assert_eq!(store.dirty_kpi_days().await.expect("dirty"), 0);
        }
        if phase == 2 {
            let late = msg(
                "c2",
                Platform::Facebook,
                "Acme",
                "AcmeHelp",
                Direction::Outbound,
                DAY + 20 * H,
                Some("c1"),
                Category::Other,
                0.0,
                &[],
            );
            store
                .ingest(vec![late], None, &IngestRules::default(), DAY + 2 * 86400)
                .await
                .expect("ingest");
            let q = ReportQuery {
                start: DAY,
                end: DAY + 86400,
                ..ReportQuery::default()
            };
            let bob = store
                .report_data(&q)
                .await
                .expect("report data")
                .conversations
                .into_iter()
                .find(|c| c.customer == "bob")
                .expect("bob's conversation");
            assert!(store
                .mark_resolved(bob.id, DAY + 18 * H, &IngestRules::default())
                .await
                .expect("mark"));
            assert!(store.dirty_kpi_days().await.expect("dirty") >= 1);
        }
        for brand in [None, Some("Acme".to_string())] {
            for platform in [None, Some(Platform::X)] {
                for now in [DAY + 3 * H, DAY + 86400 + 8 * H, DAY + 3 * 86400] {
                    for spec in [WindowSpec::Today, WindowSpec::Yesterday, WindowSpec::Week] {
                        let window = resolve(spec, at(now), rules.timezone);
                        let q = ReportQuery {
                            start: window.start_s(),
                            end: window.end_s(),
                            brand: brand.clone(),
                            platform,
                            ..ReportQuery::default()
                        };
                        // Reference: full rows through the pure functions.
                        let data = store.report_data(&q).await.expect("report data");
                        let candidates = store
                            .resolved_candidates(&q, now, rules.auto_resolve_after_s)
                            .await
                            .expect("candidates");
                        let want_started =
                            StartedStats::from_facts(&data.conversations, now, rules.sla_target_s);
                        let want_resolved = ResolvedStats::from_resolved(&resolved_in(
                            &candidates,
                            q.start,
                            q.end,
                            now,
                            rules.auto_resolve_after_s,
                        ));
                        let mut got_started = store
                            .started_stats(&q, now, rules.sla_target_s)
                            .await
                            .expect("started stats");
                        let mut got_resolved = store
                            .resolved_stats(&q, now, rules.auto_resolve_after_s)
                            .await
                            .expect("resolved stats");
                        // Order inside the lists is not part of the contract.
                        let mut ws = want_started.clone();
                        for s in [&mut ws, &mut got_started] {
                            s.answered.sort_unstable();
                            s.reply_waits.sort_unstable();
                        }
                        let mut wr = want_resolved.clone();
                        for r in [&mut wr, &mut got_resolved] {
                            r.times.sort_unstable();
                            r.by_us_at.sort_unstable();
                        }
                        assert_eq!(
                            got_started, ws,
                            "started {phase} {brand:?} {platform:?} {now} {spec:?}"
                        );
                        assert_eq!(
                            got_resolved, wr,
                            "resolved {phase} {brand:?} {platform:?} {now} {spec:?}"
                        );

                        // The backlog: actionable conversations waiting at now, whatever their start.
                        let everything = ReportQuery {
                            start: 0,
                            end: i64::MAX,
                            ..q.clone()
                        };
                        let all = store
                            .conversations_started(&everything)
                            .await
                            .expect("all conversations");
                        let waiting: Vec<i64> = all
                            .iter()
                            .filter(|c| c.actionable)
                            .filter_map(|c| c.waiting_since)
                            .filter(|&w| w <= now)
                            .collect();
                        let backlog = store.backlog(&q, now).await.expect("backlog");
                        assert_eq!(
                            (backlog.count, backlog.oldest_waiting_since),
                            (waiting.len() as i64, waiting.iter().copied().min()),
                            "backlog {phase} {brand:?} {platform:?} {now}"
                        );

                        // The badge's conversations: the actionable ones started in the window.
                        let key = |b: &carepulse::kpi::inputs::BadgeConversation| {
                            (b.first_inbound_at, b.platform.as_str(), b.first_response_at)
                        };
                        let mut want_badge: Vec<_> = data
                            .conversations
                            .iter()
                            .filter(|c| c.actionable)
                            .filter_map(|c| {
                                Some(carepulse::kpi::inputs::BadgeConversation {
                                    platform: c.platform?,
                                    first_inbound_at: c.first_inbound_at?,
                                    first_response_at: c.first_response_at,
                                })
                            })
                            .collect();
                        let mut got_badge = store.badge_conversations(&q).await.expect("badge");
                        want_badge.sort_by(|a, b| key(a).cmp(&key(b)));
                        got_badge.sort_by(|a, b| key(a).cmp(&key(b)));
                        assert_eq!(
                            got_badge, want_badge,
                            "badge {phase} {brand:?} {platform:?} {now} {spec:?}"
                        );

                        // The whole window report: full rows vs the store's SQL inputs.
                        let reference = WindowInputs {
                            messages: data.messages.clone(),
                            tags: store.tag_counts(&q).await.expect("tags"),
                            started: data.conversations.clone(),
                            resolved: candidates.clone(),
                            inbound_buckets: store.inbound_buckets(&q).await.expect("buckets"),
                            ..WindowInputs::empty(window)
                        };
                        let fast = store
                            .window_inputs(&q, window, now, &rules)
                            .await
                            .expect("window inputs");
                        assert_eq!(
                            compute_window(&fast, now, &rules),
                            compute_window(&reference, now, &rules),
                            "report {phase} {brand:?} {platform:?} {now} {spec:?}"
                        );
                        checked += usize::from(want_started.conversations > 0)
                            + usize::from(want_resolved.resolved > 0);
                    }
                }
            }
        }
    }
    assert!(
        checked >= 6,
        "the scenario must exercise non-empty windows ({checked})"
    );
}

/// Reports of the past read the conversations whose mark or thanks comes after `now` one by one
/// (the blocks key them by their settled instant). Each combination resolves as the pure engine
/// says: a thanks after `now` leaves an earlier mark, a mark after `now` leaves an earlier
/// thanks or the silence before it, and nothing else.
#[tokio::test]
async fn resolutions_seen_before_a_later_mark_or_thanks_equal_the_pure_engine() {
    use carepulse::kpi::resolution::{resolved_in, ResolvedStats};
    use carepulse::model::ReportQuery;
    use Category::*;
    use Direction::*;

    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("p.db")).await.expect("open");
    let t = DAY + 8 * H;
    let auto = 24 * H;
    let rules = IngestRules::default();
    // Each customer: a complaint at t, our reply at t+1h, and for some a thanks later.
    let mut batch = Vec::new();
    for (customer, thanks_at) in [
        ("ann", Some(t + 3 * H)),
        ("ben", Some(t + 3 * H)),
        ("cat", Some(t + 90 * 60)),
        ("dan", None),
    ] {
        let c = |s: &str| format!("{customer}-{s}");
        batch.push(msg(
            &c("in"),
            Platform::X,
            "Acme",
            customer,
            Inbound,
            t,
            None,
            Complaint,
            -0.5,
            &[],
        ));
        batch.push(msg(
            &c("out"),
            Platform::X,
            "Acme",
            "AcmeHelp",
            Outbound,
            t + H,
            Some(&c("in")),
            Other,
            0.0,
            &[],
        ));
        if let Some(at) = thanks_at {
            batch.push(msg(
                &c("ty"),
                Platform::X,
                "Acme",
                customer,
                Inbound,
                at,
                Some(&c("out")),
                Praise,
                0.8,
                &[],
            ));
        }
    }
    store
        .ingest(batch, None, &rules, t + 100 * H)
        .await
        .expect("ingest");
    let everything = ReportQuery {
        start: DAY - 86400,
        end: DAY + 5 * 86400,
        ..ReportQuery::default()
    };
    let conversations = store
        .report_data(&everything)
        .await
        .expect("data")
        .conversations;
    let id_of = |name: &str| {
        conversations
            .iter()
            .find(|c| c.customer == name)
            .map(|c| c.id)
            .expect("conversation")
    };
    // ann: marked before her thanks; cat and dan: marked long after.
    for (name, mark) in [("ann", t + 2 * H), ("cat", t + 40 * H), ("dan", t + 40 * H)] {
        assert!(store
            .mark_resolved(id_of(name), mark, &rules)
            .await
            .expect("mark"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for phase in 0..2 {
        if phase == 1 {
            store.refresh_kpi_blocks().await.expect("refresh");
        }
        for now in [t + 150 * 60, t + 20 * H, t + 26 * H, t + 50 * H] {
            for (start, end) in [
                (DAY, DAY + 86400),
                (DAY, DAY + 3 * 86400),
                (t + 2 * H, t + 3 * H),
            ] {
                let q = ReportQuery {
                    start,
                    end,
                    ..ReportQuery::default()
                };
                let candidates = store
                    .resolved_candidates(&q, now, auto)
                    .await
                    .expect("candidates");
                let resolved = resolved_in(&candidates, start, end, now, auto);
                let mut want = ResolvedStats::from_resolved(&resolved);
                let mut got = store.resolved_stats(&q, now, auto).await.expect("stats");
                for r in [&mut want, &mut got] {
                    r.times.sort_unstable();
                    r.by_us_at.sort_unstable();
                }
                assert_eq!(got, want, "phase {phase} now {now} window {start}..{end}");
                seen.extend(
                    resolved
                        .iter()
                        .map(|(_, at, kind)| (*at - t, format!("{kind:?}"))),
                );
            }
        }
    }
    // Every rule above resolved something at least once: the thanks before a later mark (cat,
    // 1.5 h), silence before a later mark (dan, auto at our reply, 1 h), the thanks once `now`
    // passed it (ann and ben, 3 h) and the late marks themselves (40 h).
    let kinds: Vec<(i64, String)> = seen.into_iter().collect();
    for want in [
        (90 * 60, "Thanks"),
        (H, "Auto"),
        (3 * H, "Thanks"),
        (40 * H, "Marked"),
    ] {
        assert!(
            kinds.iter().any(|(at, k)| *at == want.0 && k == want.1),
            "{want:?} not among {kinds:?}"
        );
    }
}
