//! The alert runner: every closed bucket it replays the new counts of every brand × platform
//! (and each brand across platforms) through the spike alerters, and posts to the alert
//! channel the spike alerts (with their context), one batched waiting-customer nudge and the
//! responsiveness-badge warnings. Quiet hours turn posts into one roll-up when they end.
//!
//! Exactly once: every post claims a `(job, slot)` row first (`alert:spike:{brand}` per bucket,
//! `alert:waiting` per nudge period, `alert:badge:{brand}:{platform}:{standing}` per local day,
//! `alert:rollup` per first held alert), so a restart or a second process never posts twice.
//! The alerters (detector and cooldown) are persisted as JSON in `kv_state` under
//! `alerts:spike:{brand}`; a brand without state is warmed up silently from its stored history.
//! Buttons (`alert:ack:{brand}`, `alert:snooze1h:{brand}`) act on that same state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Offset, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::badge::{self, Standing};
use crate::alerts::message::{parse_action, spike_post, SpikeAlert};
use crate::alerts::quiet::{hold_or_post, rollup, HeldAlert, Hold};
use crate::alerts::{parse_duration_s, Decision, FireReason, Input, SeriesAlerter};
use crate::app::App;
use crate::chat::{Chat, ChatError, PostedRef};
use crate::digest::post::{Post, Tone};
use crate::kpi::business_hours::BusinessCalendar;
use crate::model::{Platform, ReportQuery, UnixSeconds};
use crate::store::SeriesQuery;

/// History replayed to warm up a brand's alerters when none are persisted.
pub const WARMUP_S: i64 = 28 * 86_400;
/// Buckets that closed longer ago than this when the runner sees them (after downtime) are
/// learned from but never alerted: the news is stale.
pub const CATCH_UP_S: i64 = 30 * 60;
/// Attempts of one chat post before it is recorded as failed.
pub const POST_ATTEMPTS: u32 = 4;
/// Delay before the first retry; doubles after each failure.
pub const FIRST_RETRY: StdDuration = StdDuration::from_millis(500);

/// Serialises every read-modify-write of the persisted alert state in this process (the
/// runner's check and the buttons).
static STATE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The persisted alerting state of one brand.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BrandState {
    /// Start of the last bucket stepped.
    pub last_bucket: Option<UnixSeconds>,
    /// Alerters by series: `all` (every platform together) or a platform name.
    pub series: BTreeMap<String, SeriesAlerter>,
}

/// State shared by every brand: alerts held during quiet hours.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SharedState {
    pub held: Vec<HeldAlert>,
}

const ALL: &str = "all";
const SHARED_KEY: &str = "alerts:shared";

fn brand_key(brand: &str) -> String {
    format!("alerts:spike:{brand}")
}

/// What one check did (for logs and tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckOutcome {
    pub posted: usize,
    pub held: usize,
    pub failed: usize,
}

/// Posts once: the single place alerts reach chat (to be routed through the outbox).
pub async fn post_once(
    chat: &dyn Chat,
    channel: &str,
    post: &Post,
) -> Result<PostedRef, ChatError> {
    chat.post(channel, post).await
}

/// Posts with retries and exponential backoff on transient failures.
async fn deliver(chat: &dyn Chat, channel: &str, post: &Post) -> Result<PostedRef, ChatError> {
    let mut wait = FIRST_RETRY;
    let mut attempt = 1;
    loop {
        match post_once(chat, channel, post).await {
            Ok(r) => return Ok(r),
            Err(ChatError::Transient(e)) if attempt < POST_ATTEMPTS => {
                tracing::warn!(channel, attempt, error = %e, "alert post failed; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// What one check carries along: its instant, the shared state, and what it did.
struct Tick {
    now: UnixSeconds,
    shared: SharedState,
    out: CheckOutcome,
}

/// Claims `(job, slot)` and, if this caller is first, posts (or holds during quiet hours).
async fn post_claimed(
    app: &App,
    chat: &dyn Chat,
    job: &str,
    slot: UnixSeconds,
    post: Post,
    ratio: f64,
    tick: &mut Tick,
) -> anyhow::Result<()> {
    let Tick { now, shared, out } = tick;
    let now = *now;
    if !app.store.claim_job(job, slot, now).await? {
        return Ok(());
    }
    let cfg = &app.config.alerts;
    if hold_or_post(cfg.quiet_hours.as_ref(), tz(app), now, ratio) == Hold::Hold {
        shared.held.push(HeldAlert { at: now, post });
        app.store
            .finish_job(
                job,
                slot,
                "skipped",
                Some("held for the quiet-hours roll-up"),
                now,
            )
            .await?;
        out.held += 1;
        return Ok(());
    }
    match deliver(chat, &cfg.channel, &post).await {
        Ok(_) => {
            app.store.finish_job(job, slot, "posted", None, now).await?;
            out.posted += 1;
        }
        Err(e) => {
            tracing::error!(job, slot, error = %e, "alert not posted");
            app.store
                .finish_job(job, slot, "failed", Some(&e.to_string()), now)
                .await?;
            out.failed += 1;
        }
    }
    Ok(())
}

fn tz(app: &App) -> chrono_tz::Tz {
    app.config
        .alerts
        .timezone
        .parse()
        .unwrap_or(app.config.timezone)
}

async fn load<T: Default + serde::de::DeserializeOwned>(app: &App, key: &str) -> anyhow::Result<T> {
    match app.store.get_state(key).await? {
        None => Ok(T::default()),
        Some(json) => match serde_json::from_str(&json) {
            Ok(v) => Ok(v),
            Err(e) => {
                // An older shape: start over (warm-up replays history) rather than stop alerting.
                tracing::warn!(key, error = %e, "persisted alert state unreadable; rebuilding it");
                Ok(T::default())
            }
        },
    }
}

async fn save<T: Serialize>(
    app: &App,
    key: &str,
    value: &T,
    now: UnixSeconds,
) -> anyhow::Result<()> {
    let json = serde_json::to_string(value).context("cannot serialise the alert state")?;
    app.store.put_state(key, &json, now).await?;
    Ok(())
}

/// A fire of one series in one bucket.
struct Fire {
    series: String,
    reason: FireReason,
    /// Count and expected count over the spike's window so far.
    window: (UnixSeconds, f64, f64),
}

/// Steps a brand's alerters over every bucket closed since the last check and returns the
/// fires of buckets recent enough to alert, by bucket.
async fn step_brand(
    app: &App,
    brand: &str,
    state: &mut BrandState,
    last_closed: UnixSeconds,
    now: UnixSeconds,
) -> anyhow::Result<BTreeMap<UnixSeconds, Vec<Fire>>> {
    let cfg = &app.config.alerts;
    let bucket_s = cfg.bucket_s()?;
    let params = cfg.spike_params()?;
    let cooldown = cfg.cooldown_params()?;
    let offset = tz(app)
        .offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc() as i64;
    let from = match state.last_bucket {
        Some(b) => b + bucket_s,
        None => {
            let first = app.store.brand_span(brand).await?.map(|(f, _)| f);
            let start = first.unwrap_or(last_closed).max(last_closed - WARMUP_S);
            start.div_euclid(bucket_s) * bucket_s
        }
    };
    let mut fires: BTreeMap<UnixSeconds, Vec<Fire>> = BTreeMap::new();
    if from > last_closed {
        return Ok(fires);
    }
    // Warm-up and catch-up learn from every bucket but only alert on recent ones.
    let live_from = now - CATCH_UP_S;
    let mut keys: Vec<(String, Option<Platform>)> = vec![(ALL.to_string(), None)];
    for p in app.store.brand_platforms(brand).await? {
        keys.push((p.as_str().to_string(), Some(p)));
    }
    for (key, platform) in keys {
        let rows = app
            .store
            .inbound_series(&SeriesQuery {
                brand: brand.to_string(),
                platform,
                metric: cfg.metric,
                bucket_s,
                from,
                to: last_closed + bucket_s,
            })
            .await?;
        let alerter = state
            .series
            .entry(key.clone())
            .or_insert_with(|| SeriesAlerter::new(params, cooldown, bucket_s, offset));
        for (at, value) in rows {
            let (_, decision) = alerter.step(at, value);
            if let Decision::Fire { reason, .. } = decision {
                if at < live_from {
                    continue;
                }
                let started = alerter.state.episode.map_or(at, |e| e.started_at).min(at);
                let n = (((at - started) / bucket_s + 1) as usize)
                    .clamp(3, alerter.detector.longest_window());
                let (count, expected) = alerter.detector.recent_totals(n);
                let window_start = at - (n as i64 - 1) * bucket_s;
                fires.entry(at).or_default().push(Fire {
                    series: key.clone(),
                    reason,
                    window: (window_start, count, expected),
                });
            }
        }
    }
    state.last_bucket = Some(last_closed);
    Ok(fires)
}

/// One alert post for all series of a brand that fired in bucket `at`.
async fn spike_alert_post(
    app: &App,
    brand: &str,
    at: UnixSeconds,
    fires: &[Fire],
) -> anyhow::Result<(Post, f64)> {
    let cfg = &app.config.alerts;
    let bucket_s = cfg.bucket_s()?;
    // Report the brand-wide window when it fired, else the biggest platform's.
    let main = fires
        .iter()
        .find(|f| f.series == ALL)
        .or_else(|| {
            fires.iter().max_by(|a, b| {
                (a.window.1 - a.window.2)
                    .partial_cmp(&(b.window.1 - b.window.2))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        })
        .context("a spike post needs at least one fire")?;
    let (window_start, count, expected) = main.window;
    let window_end = at + bucket_s;
    let ctx = app
        .store
        .spike_context(
            &SeriesQuery {
                brand: brand.to_string(),
                platform: main.series.parse().ok(),
                metric: cfg.metric,
                bucket_s,
                from: window_start,
                to: window_end,
            },
            3,
        )
        .await?;
    let fired_platforms: Vec<Platform> =
        fires.iter().filter_map(|f| f.series.parse().ok()).collect();
    let platforms = if fired_platforms.is_empty() {
        ctx.platforms.iter().map(|(p, _)| *p).collect()
    } else {
        fired_platforms
    };
    let reason = fires
        .iter()
        .map(|f| f.reason)
        .find(|r| *r == FireReason::New)
        .unwrap_or(main.reason);
    let alert = SpikeAlert {
        series_key: brand.to_string(),
        brand: brand.to_string(),
        metric: cfg.metric,
        platforms,
        window_start,
        window_end,
        count,
        expected,
        reason,
        topics: ctx.topics,
        products: ctx.products,
        examples: ctx.examples,
    };
    Ok((spike_post(&alert, tz(app)), count / expected.max(0.5)))
}

/// One check at `now`: steps every brand over the buckets closed since the last check, posts
/// what is due, and rolls up held alerts when quiet hours are over. Safe to call at any
/// moment and from several processes (claims make every post exactly-once).
pub async fn check(app: &App, chat: &dyn Chat, now: DateTime<Utc>) -> anyhow::Result<CheckOutcome> {
    let cfg = &app.config.alerts;
    if !cfg.enabled {
        return Ok(CheckOutcome::default());
    }
    let now_s = now.timestamp();
    let bucket_s = cfg.bucket_s()?;
    let last_closed = now_s.div_euclid(bucket_s) * bucket_s - bucket_s;
    let _guard = STATE_LOCK.lock().await;
    let mut tick = Tick {
        now: now_s,
        shared: load(app, SHARED_KEY).await?,
        out: CheckOutcome::default(),
    };

    for brand in app.store.known_brands().await? {
        let key = brand_key(&brand);
        let mut state: BrandState = load(app, &key).await?;
        let fires = step_brand(app, &brand, &mut state, last_closed, now_s).await?;
        // Persist the stepped state before posting: a crash mid-post then never re-alerts (the
        // claim row says whether the post went out).
        save(app, &key, &state, now_s).await?;
        for (at, fs) in fires {
            let (post, ratio) = spike_alert_post(app, &brand, at, &fs).await?;
            post_claimed(
                app,
                chat,
                &format!("alert:spike:{brand}"),
                at,
                post,
                ratio,
                &mut tick,
            )
            .await?;
        }
        if cfg.badge.enabled {
            badge_warnings(app, chat, &brand, now, &mut tick).await?;
        }
    }
    if cfg.waiting.enabled {
        waiting_nudge(app, chat, &mut tick).await?;
    }
    // Quiet hours over: one roll-up of everything held.
    let quiet = cfg
        .quiet_hours
        .as_ref()
        .is_some_and(|q| q.is_quiet(now_s, tz(app)));
    let Tick {
        shared, mut out, ..
    } = tick;
    let mut shared = shared;
    if !quiet && !shared.held.is_empty() {
        let slot = shared.held.iter().map(|h| h.at).min().unwrap_or(now_s);
        if let Some(post) = rollup(&shared.held, tz(app)) {
            if app.store.claim_job("alert:rollup", slot, now_s).await? {
                match deliver(chat, &cfg.channel, &post).await {
                    Ok(_) => {
                        app.store
                            .finish_job("alert:rollup", slot, "posted", None, now_s)
                            .await?;
                        out.posted += 1;
                    }
                    Err(e) => {
                        app.store
                            .finish_job("alert:rollup", slot, "failed", Some(&e.to_string()), now_s)
                            .await?;
                        out.failed += 1;
                    }
                }
            }
        }
        shared.held.clear();
    }
    save(app, SHARED_KEY, &shared, now_s).await?;
    Ok(out)
}

/// One nudge per `waiting.every` period listing the customers waiting past the SLA (in
/// business time when `[business_hours]` is set). Not posted outside business hours.
async fn waiting_nudge(app: &App, chat: &dyn Chat, tick: &mut Tick) -> anyhow::Result<()> {
    let now = tick.now;
    let cfg = &app.config.alerts;
    let sla = cfg.waiting_sla_s()?;
    let every = parse_duration_s(&cfg.waiting.every).unwrap_or(1800);
    let max_age = parse_duration_s(&cfg.waiting.max_age).unwrap_or(86_400);
    let mut facts = app.store.overdue_conversations(now - sla).await?;
    facts.retain(|f| f.waiting_since.is_some_and(|w| w >= now - max_age));
    let Some(oldest) = facts.iter().filter_map(|f| f.waiting_since).min() else {
        return Ok(());
    };
    let hours = app.config.business_hours.as_ref();
    let cal = BusinessCalendar::new(hours, oldest, now);
    if hours.is_some() && cal.seconds(now - 60, now) == 0 {
        return Ok(());
    }
    let business = |a: UnixSeconds, b: UnixSeconds| cal.seconds(a, b);
    let Some(post) =
        crate::alerts::waiting::nudge(&facts, now, sla, &business, cfg.waiting.max_listed)
    else {
        return Ok(());
    };
    let slot = now.div_euclid(every) * every;
    post_claimed(app, chat, "alert:waiting", slot, post, 0.0, tick).await
}

/// Warns once per local day, platform and standing when a platform's trailing-7-day badge is
/// at risk or lost.
async fn badge_warnings(
    app: &App,
    chat: &dyn Chat,
    brand: &str,
    now: DateTime<Utc>,
    tick: &mut Tick,
) -> anyhow::Result<()> {
    let now_s = now.timestamp();
    let span = crate::kpi::badge::BADGE_SPAN_S;
    let convs = app
        .store
        .badge_conversations(&ReportQuery {
            start: now_s - span,
            end: now_s,
            brand: Some(brand.to_string()),
            ..ReportQuery::default()
        })
        .await?;
    let badges = crate::kpi::badge::badges(&convs, now_s, now_s);
    let tz = tz(app);
    let day = now.with_timezone(&tz).date_naive();
    let day_start = tz
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(now_s, |t| t.timestamp());
    for (name, b) in &badges.by_platform {
        let (Some(rate), Some(time)) = (b.response_rate, b.response_time_s) else {
            continue;
        };
        let Ok(platform) = name.parse::<Platform>() else {
            continue;
        };
        let c = badge::check(platform, rate, time, app.config.alerts.badge.margin);
        let standing = c.standing();
        if standing == Standing::Safe {
            continue;
        }
        let Some(mut post) = badge::badge_post(&c, rate, time) else {
            continue;
        };
        post.title = format!("{brand}: {}", post.title);
        let job = format!("alert:badge:{brand}:{name}:{standing:?}");
        let ratio = if standing == Standing::Missed {
            f64::INFINITY
        } else {
            0.0
        };
        post_claimed(app, chat, &job, day_start, post, ratio, tick).await?;
    }
    Ok(())
}

/// Applies an alert button (`alert:ack:{brand}`, `alert:snooze1h:{brand}`) to the persisted
/// state and returns the confirmation; `None` when the id is not an alert button.
pub async fn handle_action(app: &App, custom_id: &str, now: DateTime<Utc>) -> Option<Post> {
    let (brand, input) = parse_action(custom_id, now.timestamp())?;
    let _guard = STATE_LOCK.lock().await;
    let key = brand_key(&brand);
    let mut state: BrandState = match load(app, &key).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the alert state");
            return Some(Post::usage_error(format!(
                "could not apply the button: {e}"
            )));
        }
    };
    for alerter in state.series.values_mut() {
        alerter.button(input);
    }
    if let Err(e) = save(app, &key, &state, now.timestamp()).await {
        tracing::error!(error = %e, "cannot save the alert state");
        return Some(Post::usage_error(format!(
            "could not apply the button: {e}"
        )));
    }
    let mut post = Post::new(format!("Spike alerts for {brand}"));
    post.tone = Tone::Info;
    post.summary = match input {
        Input::Acknowledge { .. } => {
            format!("Acknowledged: no more alerts for {brand} until this spike is over.")
        }
        Input::Snooze { until, .. } => {
            let when = tz(app)
                .timestamp_opt(until, 0)
                .single()
                .map(|t| t.format("%H:%M").to_string())
                .unwrap_or_else(|| until.to_string());
            format!("Snoozed: no spike alerts for {brand} until {when}.")
        }
        Input::Bucket(_) => String::new(),
    };
    post.lines.push(post.summary.clone());
    Some(post)
}

/// Runs the checks at every bucket close (a few seconds after, for late messages) until
/// shutdown. The first check warms up every brand from its stored history.
pub async fn run_alerts(
    app: Arc<App>,
    chat: Arc<dyn Chat>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let bucket_s = match app.config.alerts.bucket_s() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "alerts are off");
            return;
        }
    };
    if !app.config.alerts.enabled {
        return;
    }
    loop {
        match check(&app, chat.as_ref(), Utc::now()).await {
            Ok(o) if o.posted + o.held + o.failed > 0 => {
                tracing::info!(
                    posted = o.posted,
                    held = o.held,
                    failed = o.failed,
                    "alerts checked"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "alert check failed; will retry next bucket"),
        }
        let now = Utc::now().timestamp();
        let next = (now.div_euclid(bucket_s) + 1) * bucket_s + 5;
        let wait = StdDuration::from_secs((next - now).clamp(1, bucket_s + 5) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}
