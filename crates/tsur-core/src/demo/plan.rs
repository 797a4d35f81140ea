//! The plan of the demo year: when each appeal arrives and about which topic, and the hot spots
//! (many appeals about one address within days) that later form problems.

use super::DemoError;
use super::model::Model;
use super::rng::{DemoRng, Weighted};
use crate::pack::PackError;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// A planned appeal before its details are drawn.
#[derive(Debug, Clone, Copy)]
pub(super) struct Planned {
    pub received: i64,
    pub topic: usize,
    /// Index into the hot spots, if the appeal belongs to one.
    pub hotspot: Option<usize>,
}

/// A hot spot: many appeals about one address within a few days.
#[derive(Debug, Clone)]
pub(super) struct Hotspot {
    pub muni: usize,
    pub settlement: Option<usize>,
    /// Street and house.
    pub address: String,
    pub lat: f64,
    pub lon: f64,
}

/// Share of appeals that belong to hot spots.
const HOTSPOT_SHARE_PERCENT: u64 = 8;
/// Fewer appeals arrive at weekends.
const WEEKEND_FACTOR: f64 = 0.6;

/// Plans `appeals` arrivals over the 365 local days up to `now`, sorted by time.
pub(super) fn plan(
    model: &Model<'_>,
    appeals: u64,
    now: DateTime<Utc>,
    rng: &mut DemoRng,
) -> Result<(Vec<Planned>, Vec<Hotspot>), DemoError> {
    let now_s = now.timestamp();
    let offset = model.pack.offset();
    let today = model.engine.local_date(now);
    let days: Vec<NaiveDate> = (0..365).map(|i| today - Duration::days(364 - i)).collect();
    let day_start = |d: NaiveDate| -> i64 {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        offset
            .from_local_datetime(&midnight)
            .single()
            .map_or(0, |t| t.timestamp())
    };

    // Day weights: the seasonal mix of all topics, fewer appeals at weekends.
    let topic_count = model.topics.len();
    let day_weights = Weighted::new(days.iter().map(|d| {
        let month = d.month0() as usize;
        let season: f64 = (0..topic_count).map(|t| model.topic_weight(t, month)).sum();
        let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        season * if weekend { WEEKEND_FACTOR } else { 1.0 }
    }))
    .ok_or_else(|| {
        DemoError::Pack(PackError {
            file: model.pack.dir.join("demo/topics.toml"),
            line: None,
            reason: "у всех тем нулевой вес".into(),
        })
    })?;
    let topics_by_month: Vec<Weighted> = (0..12)
        .map(|m| {
            Weighted::new((0..topic_count).map(|t| model.topic_weight(t, m)))
                .unwrap_or_else(|| Weighted::uniform(topic_count))
        })
        .collect();
    let hotspot_topics: Vec<usize> = (0..topic_count)
        .filter(|t| model.corpus.topics[*t].hotspot)
        .collect();

    let mut plan: Vec<Planned> = Vec::with_capacity(appeals as usize);
    let mut hotspots: Vec<Hotspot> = Vec::new();
    let hotspot_budget = if hotspot_topics.is_empty() {
        0
    } else {
        appeals * HOTSPOT_SHARE_PERCENT / 100
    };
    let mut planned_hot = 0;
    while planned_hot < hotspot_budget {
        let day = days[day_weights.sample(rng)];
        let month = day.month0() as usize;
        let topic = Weighted::new(hotspot_topics.iter().map(|t| model.topic_weight(*t, month)))
            .map_or(hotspot_topics[0], |w| hotspot_topics[w.sample(rng)]);
        let (muni, settlement) = model.pick_place(rng);
        let (lat, lon) = model.point_near(rng, settlement, muni, 1.0);
        let size = (rng.range(12, 70) as u64).min(hotspot_budget - planned_hot);
        let start = day_start(day) + rng.range(6 * 3600, 20 * 3600);
        // Most complaints come in the first days, then they die down.
        let duration_secs = rng.range(2, 9) * 86_400;
        for _ in 0..size {
            let offset_secs =
                (rng.exponential(duration_secs as f64 / 3.0) as i64).min(duration_secs);
            plan.push(Planned {
                received: (start + offset_secs).min(now_s - 60),
                topic,
                hotspot: Some(hotspots.len()),
            });
        }
        hotspots.push(Hotspot {
            muni,
            settlement,
            address: model.street(rng, settlement, muni),
            lat,
            lon,
        });
        planned_hot += size;
    }
    while (plan.len() as u64) < appeals {
        let day = days[day_weights.sample(rng)];
        let topic = topics_by_month[day.month0() as usize].sample(rng);
        let received = day_start(day) + model.hours.sample(rng) as i64 * 3600 + rng.range(0, 3599);
        plan.push(Planned {
            received: received.min(now_s - 60),
            topic,
            hotspot: None,
        });
    }
    plan.truncate(appeals as usize);
    plan.sort_by_key(|p| p.received);
    Ok((plan, hotspots))
}
