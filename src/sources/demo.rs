//! The demo source: a seeded simulator of a brand's care days on X, Facebook and Mastodon.
//!
//! Customers write complaints, questions, praise and chatter the way real customers do
//! (varied templates, product names from config, typos, emoji); the brand answers after
//! realistic delays (slower at night and at weekends, some never), customers follow up or say
//! thanks, and once a simulated week an outage makes complaints spike for a few hours.
//!
//! Generation is a pure function of (seed, hour slot): every conversation is generated whole
//! from the hour it starts in, and a window `[from, to)` is produced by regenerating the slots
//! that can still have messages in it and keeping the messages inside. So history and the live
//! feed agree message for message, and regenerating is idempotent (same external ids).

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Brand, DemoSourceConfig};
use crate::model::{Direction, NewMessage, Platform};

/// How long after its first message a simulated conversation may still get messages.
pub const MAX_CONVERSATION_SPAN_H: i64 = 60;

/// The weekly outage: at its onset, extra complaint conversations arrive at this multiple of
/// the hour's normal conversation rate...
const OUTAGE_PEAK: f64 = 3.0;
/// ...decaying exponentially with this time constant (seconds)...
const OUTAGE_DECAY_S: f64 = 3600.0;
/// ...for this long after the onset (seconds).
const OUTAGE_SPAN_S: i64 = 3 * 3600;
/// Share of normal conversations that open with a complaint (see `conversation`).
const NORMAL_COMPLAINT_SHARE: f64 = 0.34;

/// The simulator.
#[derive(Debug, Clone)]
pub struct DemoGenerator {
    seed: u64,
    per_hour: f64,
    brand: String,
    tz: Tz,
    handles: Vec<(Platform, String)>,
    products: Vec<String>,
}

const PLATFORM_MIX: [(Platform, f64); 3] = [
    (Platform::X, 0.55),
    (Platform::Facebook, 0.30),
    (Platform::Mastodon, 0.15),
];

/// Relative traffic by local hour (peaks late morning and evening).
const HOURLY: [f64; 24] = [
    0.15, 0.10, 0.07, 0.06, 0.06, 0.10, 0.25, 0.50, 0.80, 0.95, 1.00, 0.95, 0.90, 0.85, 0.80, 0.80,
    0.85, 0.90, 0.95, 0.90, 0.75, 0.55, 0.40, 0.25,
];

const FIRST: [&str; 24] = [
    "sam", "jess", "mo", "priya", "tom", "lena", "kofi", "ana", "dave", "mei", "ollie", "zara",
    "raj", "emma", "luis", "chloe", "ben", "aisha", "finn", "nina", "omar", "kate", "leo", "ivy",
];
const SECOND: [&str; 12] = [
    "_uk", "_x", "jones", "88", "_writes", "lee", "_m", "2k", "smith", "_t", "w", "_real",
];

const COMPLAINTS: [&str; 18] = [
    "my {p} has been down since this morning and nobody is helping",
    "ordered a new {p} 9 days ago and it still hasn't arrived. tracking says nothing",
    "you charged me twice for my {p} this month. want a refund asap",
    "third time this week the {p} stopped working. seriously??",
    "been on hold for an hour about my {p}. this is ridiculous 😡",
    "the {p} keeps dropping every evening, paying for a service i dont get",
    "delivery was supposed to be today, waited in all day and nothing. again.",
    "cant log in to the website to pay my bill, password reset email never comes",
    "engineer didnt turn up for the {p} install. took a day off work for this",
    "wrong {p} delivered and now i have to send it back myself?? no thanks",
    "my bill went up with no warning. i want to cancel",
    "internet is so slow tonight i cant even load a page #fail",
    "your app crashes every time i open my account. fix it pls",
    "still waiting for the refund you promised 3 weeks ago",
    "been a customer 10 years and this is how you treat me. switching providers",
    "no signal at all in the city centre since yesterday",
    "parcel marked delivered but its not here. where is it?",
    "overcharged AGAIN. how hard is it to get a bill right",
];
const OUTAGE: [&str; 8] = [
    "is the broadband down?? nothing works here",
    "total outage in my area, no internet since 2pm 😡",
    "whole street has no service. any update??",
    "internet down AGAIN. working from home and cant do anything",
    "is there an outage? router lights all red",
    "no internet, no status update, no answer. great",
    "my broadband has been down for 2 hours now",
    "outage again?! 3rd time this month",
];
const INQUIRIES: [&str; 12] = [
    "how do i upgrade my {p}? cant see it in the app",
    "can you tell me when the new {p} deal starts?",
    "hi, do you deliver on saturdays?",
    "is there a way to change my billing date?",
    "what's the difference between the two {p} plans?",
    "can i move my {p} to a new address?",
    "hey quick question, does the {p} work with 5g?",
    "where can i find my invoice for last month?",
    "how long does delivery usually take?",
    "do you have any offers for existing customers?",
    "can someone help me set up the {p}?",
    "is the website down or is it just me?",
];
const PRAISE: [&str; 12] = [
    "new {p} arrived a day early, really impressed 👏",
    "shoutout to the support team, sorted my {p} in 5 minutes!",
    "honestly the best service i've had from any provider 🙌",
    "love the new app update, so much easier",
    "fast delivery and great packaging, thank you!",
    "{p} speeds are amazing since the upgrade 🚀",
    "thanks for the quick refund, really appreciate it",
    "great chat with your team today, very helpful",
    "installed the {p} myself in 10 mins. brilliant instructions",
    "been with you 5 years, never had a problem ❤️",
    "the engineer was lovely and so helpful",
    "wow that was easy. thanks!",
];
const OTHER: [&str; 8] = [
    "watching the match tonight on my phone",
    "anyone else see the new ad? lol",
    "monday again...",
    "retweet if you're still awake",
    "that new billboard on the high street 😂",
    "enter the competition for a chance to win",
    "just saw your van drive past",
    "who else is working late tonight",
];
const REPLIES: [&str; 8] = [
    "Hi {c}, sorry to hear that. Could you DM us your account number so we can look into it?",
    "Thanks for getting in touch {c}. We've checked and this should be fixed now, let us know if not.",
    "Hi {c}, we're sorry for the trouble. An engineer is on it and we'll update you within the hour.",
    "Hi {c}, happy to help! You can do this from the account page in the app under Settings.",
    "Sorry {c}, please call us on 0800 123 4567 and our team will sort this for you.",
    "Hi {c}, we've raised this with the delivery team and sent you an update by DM.",
    "Thanks {c}! We've passed this on to the team, it'll make their day 😊",
    "Hi {c}, please email us at help@northwind.example with your order number.",
];
const THANKS: [&str; 6] = [
    "thanks, all sorted now!",
    "brilliant, thank you so much 🙏",
    "that worked, thanks for the quick help",
    "cheers, really appreciate it",
    "perfect thanks",
    "great service, thank you!",
];
const FOLLOW_UPS: [&str; 5] = [
    "still not fixed. this is getting silly",
    "i did DM you, no reply yet",
    "any update? still waiting",
    "that didnt work",
    "ok DMed you",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Complaint,
    Inquiry,
    Praise,
    Other,
}

impl DemoGenerator {
    /// Builds from the demo source's config, the brand's accounts, product names and the zone.
    pub fn new(cfg: &DemoSourceConfig, brand: Option<&Brand>, products: &[String], tz: Tz) -> Self {
        let handles = PLATFORM_MIX
            .iter()
            .map(|(p, _)| {
                let h = brand
                    .and_then(|b| b.accounts.get(p))
                    .and_then(|a| a.first())
                    .cloned()
                    .unwrap_or_else(|| format!("{}Help", cfg.brand));
                (*p, h)
            })
            .collect();
        let products = if products.is_empty() {
            vec!["order".to_string()]
        } else {
            products.to_vec()
        };
        DemoGenerator {
            seed: cfg.seed,
            per_hour: cfg.per_hour,
            brand: cfg.brand.clone(),
            tz,
            handles,
            products,
        }
    }

    /// The week's outage onset: a deterministic weekday, local hour and minute per ISO week.
    fn outage_of_week(&self, year: i32, week: u32) -> Option<DateTime<Utc>> {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.seed ^ 0x5EED_5B1C ^ ((year as u64) << 16) ^ u64::from(week),
        );
        let day = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ][rng.gen_range(0..5)];
        let (hour, minute) = (rng.gen_range(10..18), rng.gen_range(0..60));
        let date = chrono::NaiveDate::from_isoywd_opt(year, week, day)?;
        self.tz
            .from_local_datetime(&date.and_hms_opt(hour, minute, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Onsets of the weekly outages whose surge reaches into `[from, to)`, oldest first.
    pub fn outages(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut onsets = Vec::new();
        // Walk the ISO weeks (in local time) from the one before `from` to the one of `to`.
        let mut day = (from - Duration::days(7))
            .with_timezone(&self.tz)
            .date_naive();
        let last = to.with_timezone(&self.tz).date_naive();
        while day <= last + Duration::days(7) {
            let iso = day.iso_week();
            if let Some(onset) = self.outage_of_week(iso.year(), iso.week()) {
                let span = onset..onset + Duration::seconds(OUTAGE_SPAN_S);
                if span.start < to && span.end > from {
                    onsets.push(onset);
                }
            }
            day += Duration::days(7);
        }
        onsets
    }

    /// Expected extra complaint conversations of the outage in `[from, to)`, as a multiple of
    /// the hour's normal conversation rate `base`; and the outage's onset, if it overlaps.
    fn outage_extra(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<(f64, DateTime<Utc>)> {
        let onset = *self.outages(from, to).first()?;
        let (a, b) = (
            (from - onset).num_seconds().clamp(0, OUTAGE_SPAN_S) as f64,
            (to - onset).num_seconds().clamp(0, OUTAGE_SPAN_S) as f64,
        );
        // The surge's rate is OUTAGE_PEAK x base at onset, decaying with OUTAGE_DECAY_S; its
        // integral over [a, b) in hours of base traffic.
        let hours = OUTAGE_PEAK * OUTAGE_DECAY_S / 3600.0
            * ((-a / OUTAGE_DECAY_S).exp() - (-b / OUTAGE_DECAY_S).exp());
        (hours > 0.0).then_some((hours, onset))
    }

    /// Complaint-rate multiplier at `at`: 1 outside the weekly outage, up to about 10 at its
    /// onset (normal complaints are about a third of traffic; the surge adds `OUTAGE_PEAK` x
    /// base on top), decaying over its three hours.
    pub fn spike_factor(&self, at: DateTime<Utc>) -> f64 {
        let Some(onset) = self.outages(at, at + Duration::seconds(1)).first().copied() else {
            return 1.0;
        };
        let since = (at - onset).num_seconds() as f64;
        if since < 0.0 {
            return 1.0;
        }
        1.0 + OUTAGE_PEAK * (-since / OUTAGE_DECAY_S).exp() / NORMAL_COMPLAINT_SHARE
    }

    /// The hour slots (start instants) whose conversations can reach into `[from, to)`.
    fn slots(from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = i64> {
        let first = (from.timestamp() - MAX_CONVERSATION_SPAN_H * 3600).div_euclid(3600);
        let last = (to.timestamp() - 1).div_euclid(3600);
        first..=last
    }

    /// Every message created in `[from, to)`, oldest first.
    pub fn generate(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<NewMessage> {
        let mut out = Vec::new();
        if to <= from {
            return out;
        }
        for slot in Self::slots(from, to) {
            for m in self.slot(slot) {
                if m.created_at >= from && m.created_at < to {
                    out.push(m);
                }
            }
        }
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.external_id.cmp(&b.external_id))
        });
        out
    }

    /// All conversations that start in hour `slot` (Unix hours), whole.
    fn slot(&self, slot: i64) -> Vec<NewMessage> {
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ slot as u64);
        let start = Utc
            .timestamp_opt(slot * 3600, 0)
            .single()
            .unwrap_or_default();
        let local = start.with_timezone(&self.tz);
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        let base = self.per_hour * HOURLY[local.hour() as usize] * if weekend { 0.7 } else { 1.0 };
        // Normal traffic plus the outage's extra complaints, which arrive as reports of an
        // outage do: all at once when it starts, fewer and fewer over its three hours.
        let normal = poisson(&mut rng, base);
        let outage = self.outage_extra(start, start + Duration::hours(1));
        let extra = outage.map_or(0, |(hours, _)| poisson(&mut rng, base * hours));
        let mut out = Vec::new();
        for i in 0..normal + extra {
            let at = match outage {
                Some((_, onset)) if i >= normal => Some(outage_arrival(
                    &mut rng,
                    onset,
                    start,
                    start + Duration::hours(1),
                )),
                _ => None,
            };
            self.conversation(&mut rng, slot, i, start, at, weekend, &mut out);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn conversation(
        &self,
        rng: &mut ChaCha8Rng,
        slot: i64,
        i: u64,
        slot_start: DateTime<Utc>,
        outage_at: Option<DateTime<Utc>>,
        weekend: bool,
        out: &mut Vec<NewMessage>,
    ) {
        let outage = outage_at.is_some();
        let platform = pick_platform(rng);
        let handle = self
            .handles
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| self.brand.clone());
        let customer = format!(
            "{}{}{}",
            FIRST.choose(rng).unwrap_or(&"sam"),
            SECOND.choose(rng).unwrap_or(&""),
            rng.gen_range(1..99)
        );
        let kind = if outage {
            Kind::Complaint
        } else {
            match rng.gen::<f64>() {
                x if x < NORMAL_COMPLAINT_SHARE => Kind::Complaint,
                x if x < 0.62 => Kind::Inquiry,
                x if x < 0.85 => Kind::Praise,
                _ => Kind::Other,
            }
        };
        let product = self.products.choose(rng).cloned().unwrap_or_default();
        let text = match kind {
            Kind::Complaint if outage => OUTAGE.choose(rng).unwrap_or(&"").to_string(),
            Kind::Complaint => COMPLAINTS
                .choose(rng)
                .unwrap_or(&"")
                .replace("{p}", &product),
            Kind::Inquiry => INQUIRIES
                .choose(rng)
                .unwrap_or(&"")
                .replace("{p}", &product),
            Kind::Praise => PRAISE.choose(rng).unwrap_or(&"").replace("{p}", &product),
            Kind::Other => OTHER.choose(rng).unwrap_or(&"").to_string(),
        };
        let text = roughen(rng, &format!("@{handle} {text}"));
        let t0 = slot_start + Duration::seconds(rng.gen_range(0..3600));
        let t0 = outage_at.unwrap_or(t0);
        // Numeric ids, as tweet ids are, so the twcs writer can carry them.
        let id = |j: u32| ((slot.max(0) as u64 * 100_000 + i) * 10 + u64::from(j)).to_string();
        let url = |j: u32| match platform {
            Platform::X => format!("https://x.com/{customer}/status/{}", id(j)),
            Platform::Facebook => format!("https://facebook.com/{}/posts/{}", self.brand, id(j)),
            Platform::Mastodon => format!("https://mastodon.social/@{customer}/{}", id(j)),
            Platform::Bluesky => format!("https://bsky.app/profile/{customer}/post/{}", id(j)),
        };
        let engagement = Some(
            rng.gen_range(0..4)
                + if kind == Kind::Praise {
                    rng.gen_range(0..40)
                } else {
                    0
                },
        );
        let msg =
            |j: u32, dir: Direction, at: DateTime<Utc>, text: String, reply_to: Option<String>| {
                NewMessage {
                    platform,
                    external_id: id(j),
                    brand: self.brand.clone(),
                    author: if dir == Direction::Inbound {
                        customer.clone()
                    } else {
                        handle.clone()
                    },
                    direction: dir,
                    created_at: at,
                    text,
                    reply_to,
                    conversation_ref: None,
                    url: Some(url(j)),
                    engagement: if j == 0 { engagement } else { None },
                    customer: (dir == Direction::Outbound).then(|| customer.clone()),
                }
            };
        out.push(msg(0, Direction::Inbound, t0, text, None));

        // Does the brand answer, and how fast?
        let answer_p = match kind {
            Kind::Complaint => 0.93,
            Kind::Inquiry => 0.88,
            Kind::Praise => 0.45,
            Kind::Other => 0.03,
        };
        if rng.gen::<f64>() >= answer_p {
            return;
        }
        let local_hour = t0.with_timezone(&self.tz).hour();
        let night = !(8..20).contains(&local_hour);
        let mut median_min = if night { 240.0 } else { 18.0 };
        if weekend {
            median_min *= 2.0;
        }
        if outage {
            median_min *= 3.0;
        }
        let delay_min = (median_min * (rng.gen::<f64>() * 2.0 - 1.0 + normal_ish(rng)).exp())
            .clamp(1.0, 36.0 * 60.0);
        let t1 = t0 + Duration::seconds((delay_min * 60.0) as i64);
        let reply = if kind == Kind::Praise {
            REPLIES[6].to_string()
        } else {
            REPLIES.choose(rng).unwrap_or(&REPLIES[0]).to_string()
        };
        out.push(msg(
            1,
            Direction::Outbound,
            t1,
            reply.replace("{c}", &format!("@{customer}")),
            Some(id(0)),
        ));
        if kind == Kind::Praise || kind == Kind::Other {
            return;
        }
        // The customer's follow-up: thanks, or not happy yet.
        let r: f64 = rng.gen();
        let t2 = t1 + Duration::seconds(rng.gen_range(120..(4 * 3600)));
        if r < 0.40 {
            let thanks = THANKS.choose(rng).unwrap_or(&"thanks");
            out.push(msg(
                2,
                Direction::Inbound,
                t2,
                format!("@{handle} {thanks}"),
                Some(id(1)),
            ));
        } else if r < 0.65 {
            let f = FOLLOW_UPS.choose(rng).unwrap_or(&"any update?");
            out.push(msg(
                2,
                Direction::Inbound,
                t2,
                format!("@{handle} {f}"),
                Some(id(1)),
            ));
            if rng.gen::<f64>() < 0.8 {
                let t3 =
                    t2 + Duration::seconds((median_min * 60.0 * rng.gen_range(0.3..3.0)) as i64);
                out.push(msg(
                    3,
                    Direction::Outbound,
                    t3,
                    format!("@{customer} Sorry for the wait. We've escalated this and a specialist will contact you today."),
                    Some(id(2)),
                ));
                if rng.gen::<f64>() < 0.5 {
                    let t4 = t3 + Duration::seconds(rng.gen_range(600..(8 * 3600)));
                    out.push(msg(
                        4,
                        Direction::Inbound,
                        t4,
                        format!("@{handle} all fixed now, thank you!"),
                        Some(id(3)),
                    ));
                }
            }
        }
    }
}

fn pick_platform(rng: &mut ChaCha8Rng) -> Platform {
    let x: f64 = rng.gen();
    let mut acc = 0.0;
    for (p, w) in PLATFORM_MIX {
        acc += w;
        if x < acc {
            return p;
        }
    }
    Platform::X
}

/// The instant of one outage report in `[from, to)`: drawn from the surge's decaying rate
/// (onset at `onset`) restricted to that span, by inverting its distribution function.
fn outage_arrival(
    rng: &mut ChaCha8Rng,
    onset: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> DateTime<Utc> {
    let a = (from - onset).num_seconds().clamp(0, OUTAGE_SPAN_S) as f64;
    let b = (to - onset).num_seconds().clamp(0, OUTAGE_SPAN_S) as f64;
    let (ea, eb) = ((-a / OUTAGE_DECAY_S).exp(), (-b / OUTAGE_DECAY_S).exp());
    let u: f64 = rng.gen();
    let since = -OUTAGE_DECAY_S * (ea - u * (ea - eb)).ln();
    let at = onset + Duration::seconds(since.clamp(a, (b - 1.0).max(a)) as i64);
    at.clamp(from, to - Duration::seconds(1))
}

/// A rough standard normal (sum of uniforms), enough for delays.
fn normal_ish(rng: &mut ChaCha8Rng) -> f64 {
    (0..6).map(|_| rng.gen::<f64>()).sum::<f64>() - 3.0
}

/// Poisson sample (Knuth for small means, normal approximation for large ones).
fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 60.0 {
        let v = mean + mean.sqrt() * normal_ish(rng) * std::f64::consts::SQRT_2;
        return v.round().max(0.0) as u64;
    }
    let l = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.gen::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// Makes a text look typed: sometimes a typo, a capitalised word or an extra emoji.
fn roughen(rng: &mut ChaCha8Rng, text: &str) -> String {
    let mut s = text.to_string();
    if rng.gen::<f64>() < 0.12 {
        s = s.replacen("the ", "teh ", 1);
    }
    if rng.gen::<f64>() < 0.08 {
        s = s.replacen("you", "u", 1);
    }
    if rng.gen::<f64>() < 0.1 {
        s.push_str(
            ["!!", " 🙄", " 😤", " 👍", "..."]
                .choose(rng)
                .unwrap_or(&""),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn generator() -> DemoGenerator {
        let cfg = DemoSourceConfig {
            name: "demo".into(),
            brand: "Northwind".into(),
            seed: 7,
            per_hour: 40.0,
            history_days: 7,
        };
        DemoGenerator::new(
            &cfg,
            None,
            &["router".into(), "app".into()],
            chrono_tz::Europe::London,
        )
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .expect("instant")
    }

    #[test]
    fn generation_is_deterministic_and_splits_cleanly() {
        let g = generator();
        let (a, b, c) = (
            at("2026-11-16T00:00:00Z"),
            at("2026-11-17T05:30:00Z"),
            at("2026-11-18T00:00:00Z"),
        );
        let whole = g.generate(a, c);
        let mut parts = g.generate(a, b);
        parts.extend(g.generate(b, c));
        assert_eq!(whole, parts);
        assert_eq!(whole, g.generate(a, c));
        let ids: HashSet<&str> = whole.iter().map(|m| m.external_id.as_str()).collect();
        assert_eq!(ids.len(), whole.len(), "external ids are unique");
    }

    #[test]
    fn a_day_looks_like_a_care_day() {
        let g = generator();
        let day = g.generate(at("2026-11-17T00:00:00Z"), at("2026-11-18T00:00:00Z"));
        let inbound = day
            .iter()
            .filter(|m| m.direction == Direction::Inbound)
            .count();
        let outbound = day.len() - inbound;
        assert!((300..1200).contains(&inbound), "{inbound} inbound");
        assert!(outbound > inbound / 3, "{outbound} replies");
        let platforms: HashSet<Platform> = day.iter().map(|m| m.platform).collect();
        assert_eq!(platforms.len(), 3);
        // Replies point at messages of the same simulated conversation.
        assert!(day
            .iter()
            .filter(|m| m.direction == Direction::Outbound)
            .all(|m| m.reply_to.is_some()));
    }

    #[test]
    fn one_outage_per_week_on_a_weekday_afternoon_with_a_sharp_onset() {
        let g = generator();
        let (from, to) = (at("2026-11-02T00:00:00Z"), at("2026-11-30T00:00:00Z"));
        let onsets = g.outages(from, to);
        assert_eq!(onsets.len(), 4, "{onsets:?}");
        for o in &onsets {
            let local = o.with_timezone(&chrono_tz::Europe::London);
            assert!(local.weekday().num_days_from_monday() < 5, "{local}");
            assert!((10..18).contains(&local.hour()), "{local}");
            assert!(g.spike_factor(*o) > 8.0, "peak at onset");
            assert_eq!(g.spike_factor(*o - Duration::seconds(1)), 1.0);
            assert!(g.spike_factor(*o + Duration::hours(2)) < 3.0, "decays");
            assert_eq!(
                g.spike_factor(*o + Duration::hours(3)),
                1.0,
                "over after 3 h"
            );
        }
        // Onsets are not tied to whole hours.
        assert!(onsets.iter().any(|o| o.minute() != 0), "{onsets:?}");
        // A window that starts inside an outage still reports it.
        let first = onsets[0];
        assert_eq!(g.outages(first + Duration::hours(1), to)[0], first);
        // Conversations opened in the first quarter-hour after an onset: a dozen or more above
        // the same quarter-hour the day before (outage reports pile in at once).
        for o in onsets {
            let opened = |from: DateTime<Utc>| {
                g.generate(from, from + Duration::minutes(15))
                    .iter()
                    .filter(|m| m.direction == Direction::Inbound && m.external_id.ends_with('0'))
                    .count()
            };
            let (during, day_before) = (opened(o), opened(o - Duration::days(1)));
            assert!(
                during >= day_before + 12,
                "{during} conversations opened in the first 15 minutes at {o}, {day_before} a day earlier"
            );
        }
    }
}
