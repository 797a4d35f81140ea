//! Tables precomputed from the region pack and the demo corpus, and the small drawing helpers
//! (places, streets, organisations, authors, texts) the planner and the story teller share.

use super::DemoCorpus;
use super::rng::{DemoRng, Weighted};
use crate::deadline::DeadlineEngine;
use crate::domain::{Author, Channel};
use crate::pack::{RegionPack, Topic};

/// Per-organisation behaviour: how often late, how often on the merits, how fast.
#[derive(Debug, Clone, Copy)]
pub(super) struct OrgProfile {
    pub late_p: f64,
    pub merits_p: f64,
    /// Fraction of the allowed time an on-time answer typically takes.
    pub pace: f64,
}

/// Tables precomputed from the pack so the per-appeal loop only samples.
pub(super) struct Model<'a> {
    pub pack: &'a RegionPack,
    pub corpus: &'a DemoCorpus,
    pub engine: DeadlineEngine,
    /// (block index, topic) for every topic in pack order.
    pub topics: Vec<(usize, &'a Topic)>,
    pub municipality_weights: Weighted,
    /// Per municipality: settlement indices and their weights.
    pub settlements: Vec<(Vec<usize>, Option<Weighted>)>,
    /// Per (block, municipality): candidate organisations.
    pub orgs_local: Vec<Vec<Vec<usize>>>,
    pub orgs_regional: Vec<Vec<usize>>,
    /// Per municipality: its administration, if the pack has one.
    pub administrations: Vec<Option<usize>>,
    pub profiles: Vec<OrgProfile>,
    pub channels: Weighted,
    pub hours: Weighted,
}

/// Settlement kind of an inner city district (a part of its city's row).
pub(super) const INNER_DISTRICT: &str = "район города";

pub(super) const CHANNELS: &[(Channel, f64)] = &[
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
    pub fn new(pack: &'a RegionPack, corpus: &'a DemoCorpus, rng: &mut DemoRng) -> Model<'a> {
        let topics: Vec<(usize, &Topic)> = pack
            .blocks
            .iter()
            .enumerate()
            .flat_map(|(bi, b)| b.topics.iter().map(move |t| (bi, t)))
            .collect();
        let municipality_weights =
            Weighted::new(pack.municipalities.iter().map(|m| f64::from(m.population)))
                .unwrap_or_else(|| Weighted::uniform(1));
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
            channels: Weighted::new(CHANNELS.iter().map(|(_, w)| *w))
                .unwrap_or_else(|| Weighted::uniform(CHANNELS.len())),
            hours: Weighted::new(HOUR_WEIGHTS).unwrap_or_else(|| Weighted::uniform(24)),
        }
    }

    pub fn topic_weight(&self, topic: usize, month0: usize) -> f64 {
        let demo = &self.corpus.topics[topic];
        demo.weight * demo.monthly[month0]
    }

    pub fn pick_org(&self, rng: &mut DemoRng, block: usize, muni: usize) -> Option<usize> {
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

    pub fn pick_place(&self, rng: &mut DemoRng) -> (usize, Option<usize>) {
        let muni = self.municipality_weights.sample(rng);
        let (idx, weights) = &self.settlements[muni];
        let settlement = weights.as_ref().map(|w| idx[w.sample(rng)]);
        (muni, settlement)
    }

    /// The name people write for a settlement: an inner city district is written as its city.
    pub fn place_name(&self, settlement: Option<usize>, muni: usize) -> &'a str {
        match settlement.map(|s| &self.pack.settlements[s]) {
            Some(s) if s.kind != INNER_DISTRICT => s.name.as_str(),
            _ => self.pack.municipalities[muni].admin_centre.as_str(),
        }
    }

    pub fn street(&self, rng: &mut DemoRng, settlement: Option<usize>, muni: usize) -> String {
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

    pub fn point_near(
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

pub(super) fn fill(template: &str, address: &str, settlement: &str, rng: &mut DemoRng) -> String {
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

pub(super) fn make_author(rng: &mut DemoRng, corpus: &DemoCorpus, channel: Channel) -> Author {
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
        return Author {
            name: Some(format!("{first} {surname}")),
            phone: None,
            email: None,
        };
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
    Author {
        name: Some(name),
        phone,
        email,
    }
}
