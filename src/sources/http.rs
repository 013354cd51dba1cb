//! The shared HTTP layer of every platform source: one request with timeout, retries with
//! jittered exponential backoff on timeouts, connection errors and 5xx, waiting out 429s until
//! the platform's reset, one credential refresh on an authentication failure, and the
//! header parsers for each platform's rate-limit conventions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::HeaderMap;

use super::{excerpt, FetchError, RateLimit, RawPage, Source};

/// Retry policy for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts for transient failures (timeouts, 5xx, connection errors), first one included.
    pub max_attempts: u32,
    /// First backoff step; doubles each attempt, with full jitter.
    pub base_delay: Duration,
    /// Cap of one backoff step.
    pub max_delay: Duration,
    /// 429 answers waited out per request before giving up.
    pub max_rate_limit_waits: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_rate_limit_waits: 3,
        }
    }
}

impl RetryPolicy {
    /// Backoff before retry number `attempt` (1-based): uniform in [step/2, step] where
    /// step = min(max_delay, base_delay * 2^(attempt-1)).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(16))
            .unwrap_or(u32::MAX);
        let step = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = step / 2;
        let jitter = rand::thread_rng().gen_range(0..=half.as_millis().max(1) as u64);
        half + Duration::from_millis(jitter)
    }
}

/// Build the shared client (rustls, a product user agent, no redirects across hosts).
pub fn client() -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .user_agent(concat!("carepulse/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| FetchError::Build(e.without_url().to_string()))
}

/// How long to wait for a rate-limit reset, if it is in the future.
fn until(reset: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (reset - now).to_std().unwrap_or(Duration::ZERO)
}

/// Pause to honour before the next request, from a successful response's rate-limit state:
/// the platform's explicit pause, or the time to the reset when nothing is left.
pub fn pause_after(rl: &RateLimit, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(p) = rl.pause {
        return Some(p);
    }
    match (rl.remaining, rl.reset_at) {
        (Some(0), Some(reset)) => Some(until(reset, now) + Duration::from_millis(250)),
        _ => None,
    }
}

/// Send one page request for `stream` with retries. `build` is called for every attempt so
/// refreshed credentials are picked up.
pub async fn fetch(
    http: &reqwest::Client,
    source: &dyn Source,
    stream: &str,
    stored: Option<&str>,
    next: Option<&str>,
    policy: &RetryPolicy,
) -> Result<RawPage, FetchError> {
    let settings = source.settings();
    let mut attempt = 0u32;
    let mut rate_waits = 0u32;
    let mut reauthed = false;
    loop {
        attempt += 1;
        let req = source
            .request(http, stream, stored, next)?
            .timeout(settings.timeout);
        let outcome = req.send().await;
        let transient = match outcome {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = match resp.bytes().await {
                    Ok(b) => b.to_vec(),
                    Err(e) => {
                        let last = format!("reading body: {}", e.without_url());
                        if attempt >= policy.max_attempts {
                            return Err(FetchError::Exhausted {
                                attempts: attempt,
                                last,
                            });
                        }
                        tracing::warn!(source = source.name(), stream, attempt, error = %last, "retrying");
                        tokio::time::sleep(policy.backoff(attempt)).await;
                        continue;
                    }
                };
                if (200..300).contains(&status) {
                    return Ok(RawPage {
                        status,
                        headers,
                        body,
                    });
                }
                if source.is_rate_limited(status, &body) {
                    rate_waits += 1;
                    attempt -= 1; // waiting out a rate limit is not a failed attempt
                    let rl = source.rate_limit(&headers);
                    let wait = match (rl.pause, rl.reset_at) {
                        (Some(p), _) => p,
                        (None, Some(reset)) => {
                            until(reset, Utc::now()) + Duration::from_millis(250)
                        }
                        (None, None) => policy.backoff(rate_waits + 1),
                    };
                    if rate_waits > policy.max_rate_limit_waits || wait > settings.max_rate_wait {
                        let reset = rl
                            .reset_at
                            .map(|r| r.to_rfc3339())
                            .unwrap_or_else(|| format!("in {}s", wait.as_secs()));
                        return Err(FetchError::RateLimited { reset });
                    }
                    tracing::warn!(
                        source = source.name(),
                        stream,
                        wait_ms = wait.as_millis() as u64,
                        status,
                        "rate limited, waiting for reset"
                    );
                    tokio::time::sleep(wait).await;
                    continue;
                }
                if source.is_auth_error(status, &body) {
                    if !reauthed && source.reauthenticate(http).await? {
                        reauthed = true;
                        attempt -= 1;
                        continue;
                    }
                    return Err(FetchError::Unauthorized {
                        status,
                        detail: excerpt(&body),
                    });
                }
                if status == 404 {
                    return Err(FetchError::NotFound {
                        detail: excerpt(&body),
                    });
                }
                if status >= 500 || status == 408 {
                    format!("HTTP {status}: {}", excerpt(&body))
                } else {
                    return Err(FetchError::Rejected {
                        status,
                        detail: excerpt(&body),
                    });
                }
            }
            Err(e) => {
                if e.is_builder() {
                    return Err(FetchError::Build(e.without_url().to_string()));
                }
                if e.is_timeout() {
                    format!("timed out after {}s", settings.timeout.as_secs_f32())
                } else {
                    format!("connection failed: {}", e.without_url())
                }
            }
        };
        if attempt >= policy.max_attempts {
            return Err(FetchError::Exhausted {
                attempts: attempt,
                last: transient,
            });
        }
        let wait = policy.backoff(attempt);
        tracing::warn!(source = source.name(), stream, attempt, wait_ms = wait.as_millis() as u64, error = %transient, "transient failure, retrying");
        tokio::time::sleep(wait).await;
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// X: `x-rate-limit-remaining` and `x-rate-limit-reset` (Unix seconds).
pub fn rate_limit_epoch(headers: &HeaderMap, remaining: &str, reset: &str) -> RateLimit {
    RateLimit {
        remaining: header(headers, remaining).and_then(|v| v.parse().ok()),
        reset_at: header(headers, reset)
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|s| DateTime::from_timestamp(s, 0)),
        pause: None,
    }
}

/// Mastodon: `X-RateLimit-Remaining` and `X-RateLimit-Reset` (ISO 8601 timestamp).
pub fn rate_limit_iso(headers: &HeaderMap) -> RateLimit {
    RateLimit {
        remaining: header(headers, "x-ratelimit-remaining").and_then(|v| v.parse().ok()),
        reset_at: header(headers, "x-ratelimit-reset")
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|d| d.with_timezone(&Utc)),
        pause: None,
    }
}

/// Bluesky (IETF draft): `RateLimit-Remaining`, `RateLimit-Reset`. The reset is read as Unix
/// seconds when it is that large, else as seconds from now (the draft's delta form).
pub fn rate_limit_ietf(headers: &HeaderMap, now: DateTime<Utc>) -> RateLimit {
    let reset_at = header(headers, "ratelimit-reset")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|n| {
            if n > 1_000_000_000 {
                DateTime::from_timestamp(n, 0)
            } else {
                Some(now + chrono::Duration::seconds(n))
            }
        });
    RateLimit {
        remaining: header(headers, "ratelimit-remaining").and_then(|v| v.parse().ok()),
        reset_at,
        pause: None,
    }
}

/// Facebook: `X-Business-Use-Case-Usage` is `{business_id: [{call_count, total_cputime,
/// total_time, estimated_time_to_regain_access (minutes)}]}` in percent. At or above
/// `threshold` percent the source pauses for the regain time (at least `min_pause`) so it never
/// reaches 100 %.
pub fn rate_limit_buc(headers: &HeaderMap, threshold: u8, min_pause: Duration) -> RateLimit {
    let mut rl = RateLimit::default();
    let Some(raw) = header(headers, "x-business-use-case-usage") else {
        return rl;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(raw) else {
        return rl;
    };
    let mut max_pct = 0u64;
    let mut regain_min = 0u64;
    for entries in v.as_object().into_iter().flat_map(|o| o.values()) {
        for e in entries.as_array().into_iter().flatten() {
            for k in ["call_count", "total_cputime", "total_time"] {
                max_pct = max_pct.max(e.get(k).and_then(|x| x.as_u64()).unwrap_or(0));
            }
            regain_min = regain_min.max(
                e.get("estimated_time_to_regain_access")
                    .and_then(|x| x.as_u64())
                    .unwrap_or(0),
            );
        }
    }
    rl.remaining = Some(100u64.saturating_sub(max_pct));
    if max_pct >= u64::from(threshold) || regain_min > 0 {
        rl.pause = Some(Duration::from_secs(regain_min * 60).max(min_pause));
    }
    rl
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn hm(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..50 {
            let b1 = p.backoff(1);
            assert!(
                b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100),
                "{b1:?}"
            );
            let b3 = p.backoff(3);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            assert!(p.backoff(30) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn x_headers_give_epoch_reset() {
        let rl = rate_limit_epoch(
            &hm(&[
                ("x-rate-limit-remaining", "0"),
                ("x-rate-limit-reset", "1665183228"),
            ]),
            "x-rate-limit-remaining",
            "x-rate-limit-reset",
        );
        assert_eq!(rl.remaining, Some(0));
        assert_eq!(rl.reset_at.map(|d| d.timestamp()), Some(1_665_183_228));
        let now = DateTime::from_timestamp(1_665_183_220, 0).unwrap();
        let p = pause_after(&rl, now).unwrap();
        assert!(p >= Duration::from_secs(8) && p < Duration::from_secs(9));
    }

    #[test]
    fn mastodon_headers_give_iso_reset() {
        let rl = rate_limit_iso(&hm(&[
            ("x-ratelimit-remaining", "299"),
            ("x-ratelimit-reset", "2026-08-01T13:55:00.940463Z"),
        ]));
        assert_eq!(rl.remaining, Some(299));
        assert_eq!(
            rl.reset_at.unwrap().to_rfc3339(),
            "2026-08-01T13:55:00.940463+00:00"
        );
        assert_eq!(pause_after(&rl, Utc::now()), None);
    }

    #[test]
    fn ietf_reset_accepts_delta_and_epoch() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let rl = rate_limit_ietf(
            &hm(&[("ratelimit-remaining", "0"), ("ratelimit-reset", "30")]),
            now,
        );
        assert_eq!(rl.reset_at.unwrap().timestamp(), 1_700_000_030);
        let rl = rate_limit_ietf(&hm(&[("ratelimit-reset", "1700000100")]), now);
        assert_eq!(rl.reset_at.unwrap().timestamp(), 1_700_000_100);
    }

    #[test]
    fn business_usage_pauses_before_full() {
        let min = Duration::from_secs(60);
        let low = hm(&[(
            "x-business-use-case-usage",
            r#"{"123":[{"type":"pages","call_count":20,"total_cputime":5,"total_time":10,"estimated_time_to_regain_access":0}]}"#,
        )]);
        let rl = rate_limit_buc(&low, 80, min);
        assert_eq!(rl.remaining, Some(80));
        assert_eq!(rl.pause, None);
        let high = hm(&[(
            "x-business-use-case-usage",
            r#"{"123":[{"type":"pages","call_count":85,"total_cputime":5,"total_time":10,"estimated_time_to_regain_access":0}]}"#,
        )]);
        assert_eq!(rate_limit_buc(&high, 80, min).pause, Some(min));
        let blocked = hm(&[(
            "x-business-use-case-usage",
            r#"{"123":[{"call_count":100,"total_cputime":5,"total_time":10,"estimated_time_to_regain_access":7}]}"#,
        )]);
        assert_eq!(
            rate_limit_buc(&blocked, 80, min).pause,
            Some(Duration::from_secs(420))
        );
        assert_eq!(rate_limit_buc(&hm(&[]), 80, min), RateLimit::default());
    }
}
