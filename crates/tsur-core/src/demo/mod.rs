//! The demo region generator: twelve months of realistic appeals up to a given day, written to a
//! standalone replica.
//!
//! The output depends only on the pack, the seed, the number of appeals and `now`: the same inputs
//! give the same database content on every machine. Volume follows population; topics follow
//! their seasons; hot spots form problems; organisations differ in how late they are; ratings
//! follow timeliness; a few percent of records are dirty (no coordinates, unknown topic).
//!
//! The database is written to a temporary file next to the target and renamed over it only when
//! complete, so an interrupted run never leaves a half-written replica behind.

mod corpus;
pub mod rng;

pub use corpus::DemoCorpus;

use crate::deadline::{ClockAdjustment, ClockKind, DeadlineEngine};
use crate::domain::{AnswerKind, Channel, Regime, Status};
use crate::pack::{PackError, RegionPack};
use crate::store::{SCHEMA_V1_INDEXES, Store, StoreError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rng::{DemoRng, Weighted};
use rusqlite::{Statement, params};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// The generator's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoParams {
    pub appeals: u64,
    pub seed: u64,
    /// The last instant of the generated year.
    pub now_utc: DateTime<Utc>,
}

impl DemoParams {
    /// `now` for a date given on the command line: noon local time of that day.
    pub fn now_for_date(pack: &RegionPack, date: NaiveDate) -> DateTime<Utc> {
        let noon = date.and_hms_opt(12, 0, 0).unwrap_or_default();
        pack.offset()
            .from_local_datetime(&noon)
            .single()
            .map_or_else(|| Utc.from_utc_datetime(&noon), |t| t.with_timezone(&Utc))
    }
}

/// What the generator wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DemoSummary {
    pub appeals: u64,
    pub events: u64,
    pub answers: u64,
    pub problems: u64,
    pub repeats: u64,
    pub dirty: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "файл {0} уже существует; добавьте --force, чтобы заменить его (старый файл заменяется только после успешной генерации)"
    )]
    Exists(PathBuf),
    #[error("не удалось записать {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ошибка записи демо-базы: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ошибка расчёта срока: {0}")]
    Deadline(#[from] crate::deadline::DeadlineError),
    #[error("генерация прервана")]
    Cancelled,
}

/// Writes a demo replica to `path`. An existing file is replaced only if `overwrite` is set, and
/// only after the new one is complete. `progress(done, total)` is called every few thousand
/// appeals and may return `false` to cancel.
pub fn write_demo_replica(
    pack: &RegionPack,
    params: &DemoParams,
    path: &Path,
    overwrite: bool,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<DemoSummary, DemoError> {
    if path.exists() && !overwrite {
        return Err(DemoError::Exists(path.to_path_buf()));
    }
    let corpus = DemoCorpus::load(pack)?;
    let file_name = path.file_name().map_or_else(
        || "demo.sqlite".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    remove_db_files(&tmp);
    let result = (|| {
        let summary = {
            let mut store = Store::open(&tmp)?;
            store.write_reference(pack)?;
            let summary = generate_into(&mut store, pack, &corpus, params, progress)?;
            store
                .conn()
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            summary
        };
        remove_db_files(path);
        std::fs::rename(&tmp, path).map_err(io(path))?;
        Ok(summary)
    })();
    if result.is_err() {
        remove_db_files(&tmp);
    }
    result
}

fn remove_db_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// Per-organisation behaviour: how often late, how often on the merits, how fast.
#[derive(Debug, Clone, Copy)]
struct OrgProfile {
    late_p: f64,
    merits_p: f64,
    /// Fraction of the allowed time an on-time answer typically takes.
    pace: f64,
}

/// Tables precomputed from the pack so the per-appeal loop only samples.
struct Model<'a> {
    pack: &'a RegionPack,
    corpus: &'a DemoCorpus,
    engine: DeadlineEngine,
    /// (block index, topic) for every topic in pack order.
    topics: Vec<(usize, &'a crate::pack::Topic)>,
    municipality_weights: Weighted,
    /// Per municipality: settlement indices and their weights.
    settlements: Vec<(Vec<usize>, Option<Weighted>)>,
    /// Per (block, municipality): candidate organisations.
    orgs_local: Vec<Vec<Vec<usize>>>,
    orgs_regional: Vec<Vec<usize>>,
    /// Per municipality: its administration, if the pack has one.
    administrations: Vec<Option<usize>>,
    profiles: Vec<OrgProfile>,
    channels: Weighted,
    hours: Weighted,
}

/// Settlement kind of an inner city district (a part of its city's row).
const INNER_DISTRICT: &str = "район города";

const CHANNELS: &[(Channel, f64)] = &[
    (Channel::Pos, 44.0),
    (Channel::Social, 24.0),
    (Channel::Electronic, 12.0),
    (Channel::Letter, 7.0),
    (Channel::Hotline, 10.0),
    (Channel::Municipal, 3.0),
];

/// Appeals by hour of the local day.
const HOUR_WEIGHTS: [f64; 24] = [
    0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.2, 3.0, 3.2, 3.1, 2.8, 2.9, 3.0, 2.9, 2.7, 2.5, 2.4,
    2.5, 2.6, 2.3, 1.5, 0.8,
];

impl<'a> Model<'a> {
    fn new(pack: &'a RegionPack, corpus: &'a DemoCorpus, rng: &mut DemoRng) -> Model<'a> {
        let topics: Vec<(usize, &crate::pack::Topic)> = pack
            .blocks
            .iter()
            .enumerate()
            .flat_map(|(bi, b)| b.topics.iter().map(move |t| (bi, t)))
            .collect();
        let municipality_weights =
            Weighted::new(pack.municipalities.iter().map(|m| f64::from(m.population)))
                .unwrap_or_else(|| Weighted::new([1.0]).expect("positive weight"));
        let settlements = pack
            .municipalities
            .iter()
            .map(|m| {
                let idx: Vec<usize> = pack
                    .settlements
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.municipality == m.code)
                    .map(|(i, _)| i)
                    .collect();
                let weights = Weighted::new(
                    idx.iter()
                        .map(|i| f64::from(pack.settlements[*i].population.max(100))),
                );
                (idx, weights)
            })
            .collect();
        let block_index = |code: &str| pack.blocks.iter().position(|b| b.code.as_str() == code);
        let muni_index = |code: &str| {
            pack.municipalities
                .iter()
                .position(|m| m.code.as_str() == code)
        };
        let mut orgs_local = vec![vec![Vec::new(); pack.municipalities.len()]; pack.blocks.len()];
        let mut orgs_regional = vec![Vec::new(); pack.blocks.len()];
        let mut administrations = vec![None; pack.municipalities.len()];
        for (oi, org) in pack.organisations.iter().enumerate() {
            let block = org.block.as_ref().and_then(|b| block_index(b.as_str()));
            let muni = org
                .municipality
                .as_ref()
                .and_then(|m| muni_index(m.as_str()));
            match (block, muni) {
                (Some(b), Some(m)) => orgs_local[b][m].push(oi),
                (Some(b), None) => orgs_regional[b].push(oi),
                (None, Some(m)) => {
                    if administrations[m].is_none() {
                        administrations[m] = Some(oi);
                    }
                }
                (None, None) => {}
            }
        }
        // Most organisations are decent; a few are chronically late (PRODUCT §1: rank who is late).
        let mut profiles: Vec<OrgProfile> = pack
            .organisations
            .iter()
            .map(|_| OrgProfile {
                late_p: (0.04 + rng.f64() * 0.10).min(0.2),
                merits_p: 0.78 + rng.f64() * 0.18,
                pace: 0.35 + rng.f64() * 0.35,
            })
            .collect();
        let busy: Vec<usize> = orgs_local
            .iter()
            .flatten()
            .flatten()
            .copied()
            .chain(administrations.iter().flatten().copied())
            .collect();
        if !busy.is_empty() {
            for _ in 0..4 {
                let chronic = *rng.pick(&busy);
                profiles[chronic] = OrgProfile {
                    late_p: 0.40 + rng.f64() * 0.15,
                    merits_p: 0.50 + rng.f64() * 0.15,
                    pace: 0.85,
                };
            }
        }
        Model {
            pack,
            corpus,
            engine: pack.deadline_engine(),
            topics,
            municipality_weights,
            settlements,
            orgs_local,
            orgs_regional,
            administrations,
            profiles,
            channels: Weighted::new(CHANNELS.iter().map(|(_, w)| *w)).expect("positive weights"),
            hours: Weighted::new(HOUR_WEIGHTS).expect("positive weights"),
        }
    }

    fn topic_weight(&self, topic: usize, month0: usize) -> f64 {
        let demo = &self.corpus.topics[topic];
        demo.weight * demo.monthly[month0]
    }

    fn pick_org(&self, rng: &mut DemoRng, block: usize, muni: usize) -> Option<usize> {
        let local = &self.orgs_local[block][muni];
        let regional = &self.orgs_regional[block];
        if !local.is_empty() && rng.chance(0.7) {
            return Some(*rng.pick(local));
        }
        if let Some(admin) = self.administrations[muni]
            && (regional.is_empty() || rng.chance(0.6))
        {
            return Some(admin);
        }
        if !regional.is_empty() {
            return Some(*rng.pick(regional));
        }
        local.first().copied().or(self.administrations[muni])
    }

    fn pick_place(&self, rng: &mut DemoRng) -> (usize, Option<usize>) {
        let muni = self.municipality_weights.sample(rng);
        let (idx, weights) = &self.settlements[muni];
        let settlement = weights.as_ref().map(|w| idx[w.sample(rng)]);
        (muni, settlement)
    }

    /// The name people write for a settlement: an inner city district is written as its city.
    fn place_name(&self, settlement: Option<usize>, muni: usize) -> &'a str {
        match settlement.map(|s| &self.pack.settlements[s]) {
            Some(s) if s.kind != INNER_DISTRICT => s.name.as_str(),
            _ => self.pack.municipalities[muni].admin_centre.as_str(),
        }
    }

    fn street(&self, rng: &mut DemoRng, settlement: Option<usize>, muni: usize) -> String {
        let city_streets = self
            .corpus
            .streets
            .cities
            .get(self.place_name(settlement, muni))
            .filter(|list| !list.is_empty());
        let street = match city_streets {
            Some(list) if rng.chance(0.8) => rng.pick(list),
            _ => rng.pick(&self.corpus.streets.common),
        };
        format!("{street}, д. {}", rng.range(1, 120))
    }

    fn point_near(
        &self,
        rng: &mut DemoRng,
        settlement: Option<usize>,
        muni: usize,
        spread: f64,
    ) -> (f64, f64) {
        let (centre, population) = match settlement {
            Some(s) => (
                self.pack.settlements[s].point,
                self.pack.settlements[s].population,
            ),
            None => (self.pack.municipalities[muni].point, 5_000),
        };
        let sigma = spread * (0.004 + 0.03 * (f64::from(population) / 1_000_000.0).sqrt());
        let lat = centre.lat + rng.normal() * sigma;
        let lon = centre.lon + rng.normal() * sigma * 1.7;
        if self.pack.region.bbox.contains(lat, lon) {
            (lat, lon)
        } else {
            (centre.lat, centre.lon)
        }
    }
}

/// A planned appeal before its details are drawn.
#[derive(Debug, Clone, Copy)]
struct Planned {
    received: i64,
    topic: u16,
    hotspot: u32,
}

const NO_HOTSPOT: u32 = u32::MAX;

/// A hot spot: many appeals about one address within a few days.
struct Hotspot {
    topic: usize,
    muni: usize,
    settlement: Option<usize>,
    address: String,
    lat: f64,
    lon: f64,
    first_received: i64,
    last_answered: Option<i64>,
    count: u64,
}

/// What a later repeat appeal may copy from an answered one.
#[derive(Clone)]
struct RepeatSource {
    id: i64,
    received: i64,
    answered: i64,
    author: (String, Option<String>, Option<String>),
    address: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    topic: usize,
    muni: usize,
    settlement: Option<usize>,
    org: Option<usize>,
}

fn fill(template: &str, address: &str, settlement: &str, rng: &mut DemoRng) -> String {
    let mut out = template.replace("{address}", address);
    out = out.replace("{settlement}", settlement);
    if out.contains("{days}") {
        out = out.replace("{days}", &rng.range(2, 20).to_string());
    }
    if out.contains("{number}") {
        out = out.replace("{number}", &rng.range(1, 150).to_string());
    }
    out
}

const TRANSLIT: &[(char, &str)] = &[
    ('а', "a"),
    ('б', "b"),
    ('в', "v"),
    ('г', "g"),
    ('д', "d"),
    ('е', "e"),
    ('ё', "e"),
    ('ж', "zh"),
    ('з', "z"),
    ('и', "i"),
    ('й', "y"),
    ('к', "k"),
    ('л', "l"),
    ('м', "m"),
    ('н', "n"),
    ('о', "o"),
    ('п', "p"),
    ('р', "r"),
    ('с', "s"),
    ('т', "t"),
    ('у', "u"),
    ('ф', "f"),
    ('х', "kh"),
    ('ц', "ts"),
    ('ч', "ch"),
    ('ш', "sh"),
    ('щ', "sch"),
    ('ъ', ""),
    ('ы', "y"),
    ('ь', ""),
    ('э', "e"),
    ('ю', "yu"),
    ('я', "ya"),
];

fn translit(s: &str) -> String {
    s.chars()
        .flat_map(|c| c.to_lowercase())
        .map(|c| {
            TRANSLIT.iter().find(|(k, _)| *k == c).map_or_else(
                || {
                    if c.is_ascii_alphanumeric() {
                        c.to_string()
                    } else {
                        String::new()
                    }
                },
                |(_, v)| (*v).to_string(),
            )
        })
        .collect()
}

fn make_author(
    rng: &mut DemoRng,
    corpus: &DemoCorpus,
    channel: Channel,
) -> (String, Option<String>, Option<String>) {
    let n = &corpus.names;
    let female = rng.chance(0.55);
    let (surname, first, patronymic) = if female {
        (
            rng.pick(&n.female_surnames),
            rng.pick(&n.female_first),
            rng.pick(&n.female_patronymics),
        )
    } else {
        (
            rng.pick(&n.male_surnames),
            rng.pick(&n.male_first),
            rng.pick(&n.male_patronymics),
        )
    };
    if channel == Channel::Social {
        // A profile name: no patronymic, no contacts.
        return (format!("{first} {surname}"), None, None);
    }
    let name = format!("{surname} {first} {patronymic}");
    let phone = rng.chance(0.85).then(|| {
        format!(
            "+7 9{:02} {:03}-{:02}-{:02}",
            rng.below(100),
            rng.below(1000),
            rng.below(100),
            rng.below(100)
        )
    });
    let wants_email = matches!(channel, Channel::Pos | Channel::Electronic);
    let email = (wants_email && rng.chance(0.7) || rng.chance(0.1)).then(|| {
        format!(
            "{}.{}{}@{}",
            translit(surname),
            translit(first).chars().next().unwrap_or('x'),
            rng.range(1960, 2005),
            rng.pick(&n.email_domains)
        )
    });
    (name, phone, email)
}

struct Writer<'c> {
    appeal: Statement<'c>,
    event: Statement<'c>,
    answer: Statement<'c>,
    events: u64,
    answers: u64,
}

impl Writer<'_> {
    fn event(
        &mut self,
        appeal: i64,
        at: i64,
        kind: &str,
        actor: &str,
        from: Option<Status>,
        to: Option<Status>,
        note: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.event.execute(params![
            appeal,
            at,
            kind,
            actor,
            from.map(Status::code),
            to.map(Status::code),
            note
        ])?;
        self.events += 1;
        Ok(())
    }
}

fn generate_into(
    store: &mut Store,
    pack: &RegionPack,
    corpus: &DemoCorpus,
    params: &DemoParams,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<DemoSummary, DemoError> {
    let mut rng = DemoRng::new(params.seed);
    let mut plan_rng = rng.fork(1);
    let mut detail_rng = rng.fork(2);
    let model = Model::new(pack, corpus, &mut rng.fork(3));
    let now = params.now_utc.timestamp();
    let engine = &model.engine;
    let offset = pack.offset();
    let today = engine.local_date(params.now_utc);
    let first_day = today - Duration::days(364);
    let day_start = |d: NaiveDate| -> i64 {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        offset
            .from_local_datetime(&midnight)
            .single()
            .map_or(0, |t| t.timestamp())
    };

    // Day weights: the seasonal mix of all topics, fewer appeals at weekends.
    let days: Vec<NaiveDate> = (0..365).map(|i| first_day + Duration::days(i)).collect();
    let topic_count = model.topics.len();
    let day_weights = Weighted::new(days.iter().map(|d| {
        let m = d.month0() as usize;
        let season: f64 = (0..topic_count).map(|t| model.topic_weight(t, m)).sum();
        let weekday = if matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            0.6
        } else {
            1.0
        };
        season * weekday
    }))
    .ok_or_else(|| {
        DemoError::Pack(PackError {
            file: pack.dir.join("demo/topics.toml"),
            line: None,
            reason: "у всех тем нулевой вес".into(),
        })
    })?;
    let topics_by_month: Vec<Weighted> = (0..12)
        .map(|m| {
            Weighted::new((0..topic_count).map(|t| model.topic_weight(t, m)))
                .unwrap_or_else(|| Weighted::new([1.0]).expect("positive weight"))
        })
        .collect();
    let hotspot_topics: Vec<usize> = (0..topic_count)
        .filter(|t| corpus.topics[*t].hotspot)
        .collect();

    // Hot spots take about 8 % of the appeals.
    let mut plan: Vec<Planned> = Vec::with_capacity(params.appeals as usize);
    let mut hotspots: Vec<Hotspot> = Vec::new();
    let hotspot_budget = if hotspot_topics.is_empty() {
        0
    } else {
        params.appeals * 8 / 100
    };
    let mut planned_hot = 0;
    while planned_hot < hotspot_budget {
        let day = days[day_weights.sample(&mut plan_rng)];
        let month = day.month0() as usize;
        let weights = Weighted::new(hotspot_topics.iter().map(|t| model.topic_weight(*t, month)));
        let topic = match weights {
            Some(w) => hotspot_topics[w.sample(&mut plan_rng)],
            None => hotspot_topics[0],
        };
        let (muni, settlement) = model.pick_place(&mut plan_rng);
        let (lat, lon) = model.point_near(&mut plan_rng, settlement, muni, 1.0);
        let size = (plan_rng.range(12, 70) as u64).min(hotspot_budget - planned_hot);
        let start = day_start(day) + plan_rng.range(6 * 3600, 20 * 3600);
        let duration_secs = plan_rng.range(2, 9) * 86_400;
        let id = hotspots.len() as u32;
        for _ in 0..size {
            let offset_secs =
                (plan_rng.exponential(duration_secs as f64 / 3.0) as i64).min(duration_secs);
            let received = (start + offset_secs).min(now - 60);
            plan.push(Planned {
                received,
                topic: topic as u16,
                hotspot: id,
            });
        }
        hotspots.push(Hotspot {
            topic,
            muni,
            settlement,
            address: model.street(&mut plan_rng, settlement, muni),
            lat,
            lon,
            first_received: i64::MAX,
            last_answered: Some(0),
            count: 0,
        });
        planned_hot += size;
    }
    while (plan.len() as u64) < params.appeals {
        let day = days[day_weights.sample(&mut plan_rng)];
        let topic = topics_by_month[day.month0() as usize].sample(&mut plan_rng);
        let received = day_start(day)
            + model.hours.sample(&mut plan_rng) as i64 * 3600
            + plan_rng.range(0, 3599);
        plan.push(Planned {
            received: received.min(now - 60),
            topic: topic as u16,
            hotspot: NO_HOTSPOT,
        });
    }
    plan.truncate(params.appeals as usize);
    plan.sort_by_key(|p| p.received);

    // Bulk load: rows first, secondary indexes after.
    let conn = store.conn_mut();
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -200000;")?;
    for index in SCHEMA_V1_INDEXES {
        let name = index.split_whitespace().nth(5).unwrap_or_default();
        conn.execute(&format!("DROP INDEX IF EXISTS {name}"), [])?;
    }
    let tx = conn.transaction()?;
    let mut summary = DemoSummary::default();
    {
        let mut w = Writer {
            appeal: tx.prepare(
                "INSERT INTO appeals (id, version, source, external_id, channel, regime, received_utc,
                 registered_utc, text, author_name, author_phone, author_email, address, lat, lon,
                 municipality_code, block_code, topic_code, organisation_code, status, due_utc,
                 first_reaction_due_utc, first_reaction_utc, answered_utc, closed_utc, rating,
                 problem_id, repeat_of, duplicate_of, assignee, extensions, updated_utc)
                 VALUES (?1, 1, 'demo', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                 ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)",
            )?,
            event: tx.prepare(
                "INSERT INTO events (appeal_id, at_utc, kind, actor, from_status, to_status, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?,
            answer: tx.prepare(
                "INSERT INTO answers (appeal_id, at_utc, organisation_code, kind, on_merits, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?,
            events: 0,
            answers: 0,
        };
        let mut repeat_pool: VecDeque<RepeatSource> = VecDeque::new();
        let total = params.appeals;
        for (i, planned) in plan.iter().enumerate() {
            let id = i as i64 + 1;
            if i % 5_000 == 0 && !progress(i as u64, total) {
                return Err(DemoError::Cancelled);
            }
            let r = &mut detail_rng;
            let received = planned.received;
            let mut topic = planned.topic as usize;
            let channel = CHANNELS[model.channels.sample(r)].0;
            let regime = channel.default_regime();
            let hot = (planned.hotspot != NO_HOTSPOT).then_some(planned.hotspot as usize);

            // Where, who and what.
            let mut repeat_of = None;
            let (muni, settlement, mut address, mut lat, mut lon, author, org);
            if let Some(h) = hot {
                let spot = &hotspots[h];
                muni = spot.muni;
                settlement = spot.settlement;
                address = Some(spot.address.clone());
                lat = Some(spot.lat + r.normal() * 0.0012);
                lon = Some(spot.lon + r.normal() * 0.002);
                author = make_author(r, corpus, channel);
                org = model.pick_org(r, model.topics[topic].0, muni);
            } else if let Some(source) = r
                .chance(0.09)
                .then(|| {
                    // An appeal received 2–80 days earlier, so that it has usually been answered.
                    while repeat_pool
                        .front()
                        .is_some_and(|s| s.received < received - 100 * 86_400)
                    {
                        repeat_pool.pop_front();
                    }
                    let lo = repeat_pool.partition_point(|s| s.received < received - 80 * 86_400);
                    let hi = repeat_pool.partition_point(|s| s.received < received - 2 * 86_400);
                    (hi > lo)
                        .then(|| repeat_pool[r.range(lo as i64, hi as i64 - 1) as usize].clone())
                })
                .flatten()
                .filter(|s| s.answered < received && received - s.answered <= 90 * 86_400)
            {
                repeat_of = Some(source.id);
                summary.repeats += 1;
                topic = source.topic;
                muni = source.muni;
                settlement = source.settlement;
                address = source.address;
                lat = source.lat;
                lon = source.lon;
                author = source.author;
                org = source.org;
            } else {
                let (m, s) = model.pick_place(r);
                muni = m;
                settlement = s;
                address = Some(model.street(r, settlement, muni));
                let (la, lo) = model.point_near(r, settlement, muni, 1.0);
                lat = Some(la);
                lon = Some(lo);
                author = make_author(r, corpus, channel);
                org = model.pick_org(r, model.topics[topic].0, muni);
            }

            // A few percent of dirty records: no coordinates, or no topic.
            let mut classified = true;
            if hot.is_none() && repeat_of.is_none() {
                let dirt = r.f64();
                if dirt < 0.015 {
                    lat = None;
                    lon = None;
                    summary.dirty += 1;
                } else if dirt < 0.027 {
                    classified = false;
                    summary.dirty += 1;
                } else if dirt < 0.030 {
                    lat = None;
                    lon = None;
                    address = None;
                    summary.dirty += 1;
                }
            }
            let (block_idx, topic_ref) = model.topics[topic];
            let demo = &corpus.topics[topic];
            let settlement_name = model.place_name(settlement, muni);
            let templates = if channel == Channel::Social {
                &demo.social
            } else {
                &demo.formal
            };
            let template: &String = r.pick(templates);
            let text = fill(
                template,
                address.as_deref().unwrap_or("—"),
                settlement_name,
                r,
            );

            // Registration and deadlines.
            let registered = received
                + match channel {
                    Channel::Letter => r.range(3_600, 2 * 86_400),
                    Channel::Electronic => r.range(600, 86_400),
                    Channel::Pos => r.range(60, 4 * 3_600),
                    _ => r.range(0, 600),
                };
            let registered = registered.min(now);
            let received_dt = Utc.timestamp_opt(received, 0).single().unwrap_or_default();
            let registered_dt = Utc
                .timestamp_opt(registered, 0)
                .single()
                .unwrap_or_default();
            let profile = org.map_or(
                OrgProfile {
                    late_p: 0.1,
                    merits_p: 0.8,
                    pace: 0.5,
                },
                |o| model.profiles[o],
            );
            let mut adjustments = Vec::new();
            let extended = regime == Regime::Fz59 && r.chance(0.05);
            if extended {
                adjustments.push(ClockAdjustment::Extension {
                    at_utc: registered_dt + Duration::days(r.range(15, 27)),
                    amount: None,
                });
            }
            let paused = matches!(regime, Regime::Pos | Regime::Fz59) && r.chance(0.02);
            // Pauses start after work has begun (routing and taking take at most ~2 days) and end
            // before an extension is granted (15–27 days after registration).
            let pause_from = registered + r.range(3, 5) * 86_400;
            let pause_until = pause_from + r.range(2, 7) * 86_400;
            if paused {
                adjustments.push(ClockAdjustment::Pause {
                    from_utc: Utc
                        .timestamp_opt(pause_from, 0)
                        .single()
                        .unwrap_or_default(),
                    until_utc: (pause_until <= now).then(|| {
                        Utc.timestamp_opt(pause_until, 0)
                            .single()
                            .unwrap_or_default()
                    }),
                });
            }
            let deadline = engine.compute(
                regime,
                channel,
                ClockKind::Answer,
                received_dt,
                Some(registered_dt),
                &adjustments,
            )?;
            let due = deadline.due_utc.timestamp();
            let first_reaction_due = (regime == Regime::Social).then(|| received + 24 * 3_600);
            let first_reaction = first_reaction_due
                .map(|_| {
                    let mean = if profile.late_p > 0.3 { 14.0 } else { 3.5 };
                    received + (r.exponential(mean) * 3_600.0) as i64 + 300
                })
                .filter(|t| *t <= now);

            // Outcome: on time at the organisation's pace, or late.
            let rejected = classified && r.chance(0.012);
            let late = r.chance(profile.late_p * if hot.is_some() { 1.5 } else { 1.0 });
            let span = (due - registered).max(3_600);
            let answer_at = if late {
                due + (r.exponential(8.0 * 86_400.0) as i64) + 3_600
            } else {
                registered + (span as f64 * (profile.pace * (0.3 + r.f64())).min(0.97)) as i64
            };
            let answered =
                classified && !rejected && answer_at <= now && !(paused && pause_until > now);
            let age = now - received;

            let actor_org = org.map(|o| pack.organisations[o].code.as_str());
            let org_name = actor_org.unwrap_or("system");
            w.event(
                id,
                received,
                "received",
                "system",
                None,
                Some(Status::New),
                None,
            )?;
            let mut status = Status::New;
            let step = |w: &mut Writer,
                        status: &mut Status,
                        to: Status,
                        at: i64,
                        actor: &str,
                        note: Option<&str>|
             -> rusqlite::Result<()> {
                w.event(
                    id,
                    at,
                    "status_changed",
                    actor,
                    Some(*status),
                    Some(to),
                    note,
                )?;
                *status = to;
                Ok(())
            };
            let mut answered_utc = None;
            let mut closed_utc = None;
            let mut rating = None;
            let mut kind_of_answer = None;
            if !classified {
                if age > 2 * 3_600 {
                    step(
                        &mut w,
                        &mut status,
                        Status::Triage,
                        registered,
                        "operator",
                        Some("тема не определена"),
                    )?;
                }
            } else if rejected {
                step(
                    &mut w,
                    &mut status,
                    Status::Rejected,
                    registered,
                    "operator",
                    Some("нет содержания обращения"),
                )?;
            } else {
                let routed_at = (registered + r.range(600, 6 * 3_600)).min(now);
                if age > 3_600 {
                    step(
                        &mut w,
                        &mut status,
                        Status::Triage,
                        registered,
                        "operator",
                        None,
                    )?;
                    step(
                        &mut w,
                        &mut status,
                        Status::Routed,
                        routed_at,
                        "operator",
                        Some(org_name),
                    )?;
                }
                let work_at = routed_at + r.range(3_600, 2 * 86_400);
                if work_at < now && status == Status::Routed {
                    step(
                        &mut w,
                        &mut status,
                        Status::InProgress,
                        work_at,
                        org_name,
                        None,
                    )?;
                }
                if paused
                    && pause_from < now
                    && matches!(status, Status::InProgress | Status::Extended)
                {
                    step(
                        &mut w,
                        &mut status,
                        Status::AwaitingCitizen,
                        pause_from,
                        org_name,
                        Some("запрошены уточнения у заявителя"),
                    )?;
                    if pause_until <= now {
                        step(
                            &mut w,
                            &mut status,
                            Status::InProgress,
                            pause_until,
                            org_name,
                            Some("заявитель дал уточнения"),
                        )?;
                    }
                }
                if extended
                    && let Some(ClockAdjustment::Extension { at_utc, .. }) = adjustments.first()
                {
                    let at = at_utc.timestamp();
                    if at < now && at < answer_at && status == Status::InProgress {
                        step(
                            &mut w,
                            &mut status,
                            Status::Extended,
                            at,
                            org_name,
                            Some("продлено на 30 дней с уведомлением заявителя"),
                        )?;
                        w.event(
                            id,
                            at,
                            "extended",
                            org_name,
                            None,
                            None,
                            Some("продлено на 30 дней"),
                        )?;
                    }
                }
                if answered {
                    let kind = if r.chance(profile.merits_p) {
                        AnswerKind::Merits
                    } else if r.chance(0.6) {
                        AnswerKind::Formal
                    } else {
                        AnswerKind::Forwarded
                    };
                    // After everything that happened before it: work started, the pause ended.
                    let mut at = answer_at.max(work_at + 60);
                    if paused {
                        at = at.max(pause_until + 60);
                    }
                    let at = at.min(now);
                    if kind == AnswerKind::Forwarded
                        && status.next_allowed().contains(&Status::Forwarded)
                    {
                        step(
                            &mut w,
                            &mut status,
                            Status::Forwarded,
                            at - 60,
                            org_name,
                            Some("направлено по компетенции"),
                        )?;
                    }
                    if status.next_allowed().contains(&Status::Answered) {
                        step(&mut w, &mut status, Status::Answered, at, org_name, None)?;
                    }
                    let block_answers = corpus
                        .answers
                        .merits_by_block
                        .get(pack.blocks[block_idx].code.as_str())
                        .filter(|list| !list.is_empty());
                    let texts = match kind {
                        AnswerKind::Merits => match block_answers {
                            Some(list) if r.chance(0.7) => list,
                            _ => &corpus.answers.merits,
                        },
                        AnswerKind::Formal => &corpus.answers.formal,
                        _ => &corpus.answers.forwarded,
                    };
                    let template: &String = r.pick(texts);
                    let answer_text = fill(
                        template,
                        address.as_deref().unwrap_or("указанному адресу"),
                        settlement_name,
                        r,
                    );
                    w.answer.execute(params![
                        id,
                        at,
                        actor_org,
                        kind.code(),
                        kind == AnswerKind::Merits,
                        answer_text
                    ])?;
                    w.answers += 1;
                    w.event(id, at, "answered", org_name, None, None, Some(kind.code()))?;
                    answered_utc = Some(at);
                    kind_of_answer = Some(kind);
                    // Ratings follow timeliness and substance.
                    if r.chance(0.45) {
                        let rated_at = at + r.range(3_600, 5 * 86_400);
                        if rated_at <= now {
                            let good = !late && kind == AnswerKind::Merits;
                            let table: [f64; 5] = if good {
                                [0.05, 0.06, 0.12, 0.25, 0.52]
                            } else {
                                [0.34, 0.24, 0.2, 0.12, 0.10]
                            };
                            let stars = Weighted::new(table).map_or(3, |t| t.sample(r) as i64 + 1);
                            rating = Some(stars);
                            w.event(
                                id,
                                rated_at,
                                "rated",
                                "citizen",
                                None,
                                None,
                                Some(&stars.to_string()),
                            )?;
                        }
                    }
                    let close_at = at + r.range(3, 10) * 86_400;
                    if close_at <= now {
                        step(
                            &mut w,
                            &mut status,
                            Status::Closed,
                            close_at,
                            "system",
                            None,
                        )?;
                        closed_utc = Some(close_at);
                    }
                } else if status == Status::InProgress {
                    // Open cases: some are close to an answer, overdue ones are often escalated.
                    if now > due && r.chance(0.3) {
                        step(
                            &mut w,
                            &mut status,
                            Status::Escalated,
                            (due + 3_600).max(work_at + 60).min(now),
                            "operator",
                            Some("просрочено: передано руководителю блока"),
                        )?;
                    } else if due - now < 2 * 86_400 && r.chance(0.4) {
                        step(
                            &mut w,
                            &mut status,
                            Status::AnswerPrepared,
                            now - r.range(60, 6 * 3_600).min(now - work_at).max(0),
                            org_name,
                            None,
                        )?;
                    }
                }
            }
            if let Some(t) = first_reaction {
                let template: &String = r.pick(&corpus.answers.social_reaction);
                let reaction = fill(template, "", settlement_name, r);
                w.answer.execute(params![
                    id,
                    t,
                    Option::<&str>::None,
                    AnswerKind::Reaction.code(),
                    false,
                    reaction
                ])?;
                w.answers += 1;
            }

            let (block_code, topic_code) = if classified {
                (
                    Some(pack.blocks[block_idx].code.as_str()),
                    Some(topic_ref.code.as_str()),
                )
            } else {
                (None, None)
            };
            let problem = hot.map(|h| h as i64 + 1);
            if let Some(h) = hot {
                let spot = &mut hotspots[h];
                spot.first_received = spot.first_received.min(received);
                spot.count += 1;
                spot.last_answered = match (spot.last_answered, answered_utc) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            let (author_name, author_phone, author_email) = &author;
            let updated = [Some(received), answered_utc, closed_utc]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(received);
            w.appeal.execute(params![
                id,
                format!("DEMO-{id:07}"),
                channel.code(),
                regime.code(),
                received,
                registered,
                text,
                author_name,
                author_phone,
                author_email,
                address.as_ref().map(|a| format!("{settlement_name}, {a}")),
                lat,
                lon,
                pack.municipalities[muni].code.as_str(),
                block_code,
                topic_code,
                if classified { actor_org } else { None },
                status.code(),
                if classified { Some(due) } else { None },
                first_reaction_due,
                first_reaction,
                answered_utc,
                closed_utc,
                rating,
                problem,
                repeat_of,
                Option::<i64>::None,
                Option::<&str>::None,
                i64::from(extended),
                updated,
            ])?;
            if let (Some(at), Some(kind)) = (answered_utc, kind_of_answer)
                && classified
                && kind != AnswerKind::Forwarded
            {
                repeat_pool.push_back(RepeatSource {
                    id,
                    received,
                    answered: at,
                    author: author.clone(),
                    address: address.clone(),
                    lat,
                    lon,
                    topic,
                    muni,
                    settlement,
                    org,
                });
            }
        }
        let mut problem_insert = tx.prepare(
            "INSERT INTO problems (id, title, block_code, topic_code, municipality_code, lat, lon,
             opened_utc, resolved_utc, accelerated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (h, spot) in hotspots.iter().enumerate() {
            if spot.count == 0 {
                continue;
            }
            let (block_idx, topic) = model.topics[spot.topic];
            let place = model.place_name(spot.settlement, spot.muni);
            let resolved = spot.last_answered.filter(|t| *t > 0);
            let accelerated = resolved.is_some_and(|t| t - spot.first_received < 3 * 86_400);
            problem_insert.execute(params![
                h as i64 + 1,
                format!("{}: {}, {}", topic.name, place, spot.address),
                pack.blocks[block_idx].code.as_str(),
                topic.code.as_str(),
                pack.municipalities[spot.muni].code.as_str(),
                spot.lat,
                spot.lon,
                spot.first_received,
                resolved,
                accelerated,
            ])?;
            summary.problems += 1;
        }
        summary.appeals = plan.len() as u64;
        summary.events = w.events;
        summary.answers = w.answers;
        progress(total, total);
    }
    for (key, value) in [
        ("demo_seed", params.seed.to_string()),
        ("demo_appeals", params.appeals.to_string()),
        ("demo_now_utc", params.now_utc.to_rfc3339()),
        ("source", "demo".to_string()),
    ] {
        tx.execute(
            "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
    }
    tx.commit()?;
    for index in SCHEMA_V1_INDEXES {
        conn.execute(index, [])?;
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; ANALYZE;")?;
    Ok(summary)
}
