//! Problems: clusters of appeals about the same thing in the same place at the same time
//! (п.14). The server groups appeals as they arrive, with the same code `tsur demo-data` uses for
//! a standalone replica (ENGINEERING §1), and operators confirm, split and merge what it made.
//!
//! An appeal joins the group of its topic that is close in place (the group's centre within the
//! pack's `radius_m`; without coordinates, the same municipality), close in time (within
//! `window_days` of the group's appeals) and about the same thing: either similar in text (the
//! mean share of the group's appeals that contain each of the appeal's word stems — Snowball,
//! Russian, address included — reaches `min_similarity`), or from the same building as at least
//! half of the group's appeals (the commonest problem: one house without heat, whatever words
//! each resident uses). A group becomes a problem with
//! an id at `min_appeals` appeals; smaller groups are candidates, kept in memory only, and
//! forgotten once their window has passed.
//!
//! Everything here is incremental: placing an appeal looks at the groups of its topic in the
//! nine grid cells around it, never at all appeals.

use crate::classify::words;
use crate::domain::{
    Appeal, AppealId, BlockCode, GeoPoint, MunicipalityCode, Problem, ProblemId, TopicCode,
};
use crate::pack::{ProblemRules, RegionPack};
use chrono::{DateTime, Utc};
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{HashMap, HashSet, VecDeque};

const DAY_SECS: i64 = 86_400;
const METRES_PER_DEGREE_LAT: f64 = 111_132.0;
/// The longest title an operator may give a problem, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Words too common in appeals to say anything about which problem one is about.
const STOP_STEMS: &[&str] = &[
    "и",
    "в",
    "на",
    "не",
    "по",
    "с",
    "что",
    "это",
    "как",
    "для",
    "нет",
    "уже",
    "все",
    "вс",
    "прош",
    "просим",
    "мы",
    "нас",
    "у",
    "к",
    "о",
    "от",
    "до",
    "из",
    "за",
    "же",
    "так",
    "ул",
    "д",
    "дом",
    "г",
    "кв",
    "пр",
    "пос",
    "с",
];

/// What an appeal brings to the clustering.
#[derive(Debug, Clone)]
pub struct Sighting<'a> {
    pub id: AppealId,
    pub block: Option<&'a str>,
    pub topic: Option<&'a str>,
    pub municipality: Option<&'a str>,
    pub point: Option<GeoPoint>,
    pub received_utc: i64,
    pub text: &'a str,
    pub address: Option<&'a str>,
    /// The problem the stored appeal already belongs to.
    pub problem: Option<ProblemId>,
}

impl<'a> From<&'a Appeal> for Sighting<'a> {
    fn from(a: &'a Appeal) -> Self {
        Sighting {
            id: a.id,
            block: a.block.as_ref().map(|b| b.as_str()),
            topic: a.topic.as_ref().map(|t| t.as_str()),
            municipality: a.municipality.as_ref().map(|m| m.as_str()),
            point: a.point,
            received_utc: a.received_utc.timestamp(),
            text: &a.text,
            address: a.address.as_deref(),
            problem: a.problem,
        }
    }
}

/// What one step of clustering changed, to be stored and synced: problem records written anew
/// (new ones, and ones whose title, confirmation or merge changed) and stored appeals that now
/// belong to another problem.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProblemChanges {
    pub problems: Vec<Problem>,
    pub relinked: Vec<(AppealId, ProblemId)>,
}

impl ProblemChanges {
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty() && self.relinked.is_empty()
    }

    /// Adds `other` after `self`; a later record of the same problem replaces an earlier one.
    pub fn extend(&mut self, other: ProblemChanges) {
        for p in other.problems {
            self.problems.retain(|q| q.id != p.id);
            self.problems.push(p);
        }
        for (appeal, problem) in other.relinked {
            self.relinked.retain(|(a, _)| *a != appeal);
            self.relinked.push((appeal, problem));
        }
    }
}

/// One member of a group, with what clustering needs of it.
#[derive(Debug, Clone)]
struct Member {
    id: AppealId,
    stems: Vec<u32>,
    /// Local metres (x east, y north), if the appeal has a point.
    xy: Option<(f64, f64)>,
    point: Option<GeoPoint>,
    received: i64,
    address: Option<String>,
    /// The building, as repeat detection compares addresses (flat and punctuation dropped).
    building: Option<String>,
    municipality: Option<String>,
}

/// Groups are keyed by problem id (positive) or, for candidates, by a negative number.
type GroupKey = i64;

#[derive(Debug, Clone)]
struct Group {
    topic: u32,
    topic_code: String,
    block: Option<String>,
    members: Vec<Member>,
    /// How many members contain each stem.
    stem_counts: HashMap<u32, u32>,
    /// How many members come from each building.
    buildings: HashMap<String, u32>,
    /// Sums of the members' local metres and their count, for the centre.
    sum_xy: (f64, f64),
    with_xy: u32,
    first: i64,
    last: i64,
    /// Where the group is indexed: a grid cell, or its municipality when it has no points.
    place: Option<Place>,
    /// The problem record, for a problem.
    problem: Option<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Place {
    Cell(u32, i32, i32),
    Municipality(u32, u32),
}

impl Group {
    fn new(topic: u32, topic_code: &str, block: Option<&str>) -> Group {
        Group {
            topic,
            topic_code: topic_code.to_string(),
            block: block.map(str::to_string),
            members: Vec::new(),
            stem_counts: HashMap::new(),
            buildings: HashMap::new(),
            sum_xy: (0.0, 0.0),
            with_xy: 0,
            first: i64::MAX,
            last: i64::MIN,
            place: None,
            problem: None,
        }
    }

    fn add(&mut self, member: Member) {
        for s in &member.stems {
            *self.stem_counts.entry(*s).or_default() += 1;
        }
        if let Some((x, y)) = member.xy {
            self.sum_xy = (self.sum_xy.0 + x, self.sum_xy.1 + y);
            self.with_xy += 1;
        }
        if let Some(b) = &member.building {
            *self.buildings.entry(b.clone()).or_default() += 1;
        }
        self.first = self.first.min(member.received);
        self.last = self.last.max(member.received);
        self.members.push(member);
    }

    fn remove(&mut self, id: AppealId) -> Option<Member> {
        let at = self.members.iter().position(|m| m.id == id)?;
        let member = self.members.swap_remove(at);
        for s in &member.stems {
            if let Some(n) = self.stem_counts.get_mut(s) {
                *n -= 1;
                if *n == 0 {
                    self.stem_counts.remove(s);
                }
            }
        }
        if let Some((x, y)) = member.xy {
            self.sum_xy = (self.sum_xy.0 - x, self.sum_xy.1 - y);
            self.with_xy -= 1;
        }
        if let Some(b) = &member.building
            && let Some(n) = self.buildings.get_mut(b)
        {
            *n -= 1;
            if *n == 0 {
                self.buildings.remove(b);
            }
        }
        self.first = self
            .members
            .iter()
            .map(|m| m.received)
            .min()
            .unwrap_or(i64::MAX);
        self.last = self
            .members
            .iter()
            .map(|m| m.received)
            .max()
            .unwrap_or(i64::MIN);
        Some(member)
    }

    /// The mean position of the members that have one.
    fn centre(&self) -> Option<(f64, f64)> {
        (self.with_xy > 0).then(|| {
            let n = f64::from(self.with_xy);
            (self.sum_xy.0 / n, self.sum_xy.1 / n)
        })
    }

    fn centre_point(&self) -> Option<GeoPoint> {
        let points: Vec<GeoPoint> = self.members.iter().filter_map(|m| m.point).collect();
        if points.is_empty() {
            return None;
        }
        let n = points.len() as f64;
        Some(GeoPoint {
            lat: points.iter().map(|p| p.lat).sum::<f64>() / n,
            lon: points.iter().map(|p| p.lon).sum::<f64>() / n,
        })
    }

    /// The municipality most members are in.
    fn municipality(&self) -> Option<String> {
        most_common(
            self.members
                .iter()
                .filter_map(|m| m.municipality.as_deref()),
        )
    }

    /// Whether at least half of the members come from `building`.
    fn mostly_from(&self, building: Option<&str>) -> bool {
        building.is_some_and(|b| {
            2 * self.buildings.get(b).copied().unwrap_or(0) as usize >= self.members.len()
        })
    }

    /// Mean share of members containing each of `stems`.
    fn similarity(&self, stems: &[u32]) -> f64 {
        if stems.is_empty() || self.members.is_empty() {
            return 0.0;
        }
        let n = self.members.len() as f64;
        let sum: f64 = stems
            .iter()
            .map(|s| f64::from(self.stem_counts.get(s).copied().unwrap_or(0)) / n)
            .sum();
        sum / stems.len() as f64
    }
}

fn most_common<'a>(items: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for item in items {
        *counts.entry(item).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(s, _)| s.to_string())
}

/// The incremental clustering of appeals into problems.
pub struct Clusterer {
    rules: ProblemRules,
    /// Metres per degree of longitude at the region's centre.
    metres_per_degree_lon: f64,
    stemmer: Stemmer,
    stop_stems: HashSet<&'static str>,
    /// Word → stem id, so each word is stemmed once.
    word_stems: HashMap<String, Option<u32>>,
    stem_ids: HashMap<String, u32>,
    topics: HashMap<String, u32>,
    municipalities: HashMap<String, u32>,
    topic_names: HashMap<String, String>,
    municipality_names: HashMap<String, String>,
    groups: HashMap<GroupKey, Group>,
    next_candidate: GroupKey,
    index: HashMap<Place, Vec<GroupKey>>,
    member_of: HashMap<AppealId, GroupKey>,
    /// Candidates by their latest appeal, oldest first, to forget them once out of the window.
    candidate_ages: VecDeque<(i64, GroupKey)>,
    latest_seen: i64,
}

impl Clusterer {
    pub fn new(pack: &RegionPack) -> Clusterer {
        let rules = pack.problems.clone();
        let lat = pack.region.centre.lat.to_radians();
        Clusterer {
            metres_per_degree_lon: METRES_PER_DEGREE_LAT * lat.cos(),
            rules,
            stemmer: Stemmer::create(Algorithm::Russian),
            stop_stems: STOP_STEMS.iter().copied().collect(),
            word_stems: HashMap::new(),
            stem_ids: HashMap::new(),
            topics: HashMap::new(),
            municipalities: HashMap::new(),
            topic_names: pack
                .blocks
                .iter()
                .flat_map(|b| &b.topics)
                .map(|t| (t.code.as_str().to_string(), t.name.clone()))
                .collect(),
            municipality_names: pack
                .municipalities
                .iter()
                .map(|m| (m.code.as_str().to_string(), m.short_name.clone()))
                .collect(),
            groups: HashMap::new(),
            next_candidate: -1,
            index: HashMap::new(),
            member_of: HashMap::new(),
            candidate_ages: VecDeque::new(),
            latest_seen: i64::MIN,
        }
    }

    pub fn rules(&self) -> &ProblemRules {
        &self.rules
    }

    /// A problem as it stands now.
    pub fn problem(&self, id: ProblemId) -> Option<&Problem> {
        self.groups.get(&id).and_then(|g| g.problem.as_ref())
    }

    /// The appeals of a problem.
    pub fn members(&self, id: ProblemId) -> Vec<AppealId> {
        let mut ids: Vec<AppealId> = self
            .groups
            .get(&id)
            .map(|g| g.members.iter().map(|m| m.id).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Every problem, by id.
    pub fn problems(&self) -> Vec<&Problem> {
        let mut list: Vec<&Problem> = self
            .groups
            .values()
            .filter_map(|g| g.problem.as_ref())
            .collect();
        list.sort_by_key(|p| p.id);
        list
    }

    /// Groups held in memory (problems and candidates), for tests and memory checks.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    fn code_id(map: &mut HashMap<String, u32>, code: &str) -> u32 {
        let next = map.len() as u32;
        *map.entry(code.to_string()).or_insert(next)
    }

    /// Distinct stems of the text and the address, sorted.
    fn stems(&mut self, text: &str, address: Option<&str>) -> Vec<u32> {
        let mut out = Vec::new();
        for word in words(text)
            .into_iter()
            .chain(address.map(words).unwrap_or_default())
        {
            if let Some(id) = self.word_stems.get(&word) {
                out.extend(*id);
                continue;
            }
            let is_number = word.chars().all(|c| c.is_ascii_digit());
            let stem = if is_number {
                word.clone()
            } else {
                self.stemmer.stem(&word).into_owned()
            };
            let keep =
                (is_number || stem.chars().count() > 2) && !self.stop_stems.contains(stem.as_str());
            let id = keep.then(|| Self::code_id(&mut self.stem_ids, &stem));
            // Bounded: real vocabularies are far smaller, but a flood of junk words is not.
            if self.word_stems.len() < 2_000_000 {
                self.word_stems.insert(word, id);
            }
            out.extend(id);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn xy(&self, p: GeoPoint) -> (f64, f64) {
        (
            p.lon * self.metres_per_degree_lon,
            p.lat * METRES_PER_DEGREE_LAT,
        )
    }

    fn cell_of(&self, topic: u32, (x, y): (f64, f64)) -> Place {
        let size = self.rules.radius_m;
        Place::Cell(topic, (x / size).floor() as i32, (y / size).floor() as i32)
    }

    fn member(&mut self, s: &Sighting<'_>) -> Member {
        let point = s
            .point
            .filter(|p| p.lat.is_finite() && p.lon.is_finite() && p.lat.abs() <= 90.0);
        Member {
            id: s.id,
            stems: self.stems(s.text, s.address),
            xy: point.map(|p| self.xy(p)),
            point,
            received: s.received_utc,
            address: s.address.map(str::to_string),
            building: s
                .address
                .and_then(|a| crate::repeats::address_key(a, s.municipality)),
            municipality: s.municipality.map(str::to_string),
        }
    }

    /// Re-indexes a group after its members changed.
    fn reindex(&mut self, key: GroupKey) {
        let Some(group) = self.groups.get(&key) else {
            return;
        };
        let merged = group
            .problem
            .as_ref()
            .is_some_and(|p| p.merged_into.is_some());
        let place = match group.centre() {
            _ if merged => None,
            Some(xy) => Some(self.cell_of(group.topic, xy)),
            None => group
                .members
                .iter()
                .find_map(|m| m.municipality.as_deref())
                .and_then(|m| self.municipalities.get(m))
                .map(|m| Place::Municipality(group.topic, *m)),
        };
        let old = group.place;
        if old == place {
            return;
        }
        if let Some(old) = old
            && let Some(list) = self.index.get_mut(&old)
        {
            list.retain(|k| *k != key);
            if list.is_empty() {
                self.index.remove(&old);
            }
        }
        if let Some(new) = place {
            self.index.entry(new).or_default().push(key);
        }
        if let Some(group) = self.groups.get_mut(&key) {
            group.place = place;
        }
    }

    fn unindex(&mut self, key: GroupKey) {
        if let Some(place) = self.groups.get(&key).and_then(|g| g.place)
            && let Some(list) = self.index.get_mut(&place)
        {
            list.retain(|k| *k != key);
            if list.is_empty() {
                self.index.remove(&place);
            }
        }
        if let Some(group) = self.groups.get_mut(&key) {
            group.place = None;
        }
    }

    /// The group `member` fits best, with its similarity; with `candidates_only`, never a
    /// problem (a stored appeal learnt without storing anything cannot join one).
    fn best_group(
        &self,
        topic: u32,
        member: &Member,
        candidates_only: bool,
    ) -> Option<(GroupKey, f64)> {
        let window = i64::from(self.rules.window_days) * DAY_SECS;
        let mut keys: Vec<GroupKey> = Vec::new();
        match member.xy {
            Some(xy) => {
                if let Place::Cell(t, cx, cy) = self.cell_of(topic, xy) {
                    for dx in -1..=1 {
                        for dy in -1..=1 {
                            if let Some(list) = self.index.get(&Place::Cell(t, cx + dx, cy + dy)) {
                                keys.extend(list);
                            }
                        }
                    }
                }
            }
            None => {
                let muni = member
                    .municipality
                    .as_deref()
                    .and_then(|m| self.municipalities.get(m))?;
                keys.extend(self.index.get(&Place::Municipality(topic, *muni))?);
            }
        }
        let mut best: Option<(GroupKey, f64, bool, usize)> = None;
        for key in keys {
            let Some(group) = self.groups.get(&key) else {
                continue;
            };
            let merged = group
                .problem
                .as_ref()
                .is_some_and(|p| p.merged_into.is_some());
            if merged || (candidates_only && group.problem.is_some()) {
                continue;
            }
            if member.received < group.first - window || member.received > group.last + window {
                continue;
            }
            if let (Some((x, y)), Some((gx, gy))) = (member.xy, group.centre())
                && ((x - gx).powi(2) + (y - gy).powi(2)).sqrt() > self.rules.radius_m
            {
                continue;
            }
            // The same building counts as a full match of the text.
            let similarity = if group.mostly_from(member.building.as_deref()) {
                1.0 + group.similarity(&member.stems)
            } else {
                group.similarity(&member.stems)
            };
            if similarity < self.rules.min_similarity {
                continue;
            }
            let candidate = (
                key,
                similarity,
                group.problem.is_some(),
                group.members.len(),
            );
            let better = best.is_none_or(|b| {
                (candidate.1, candidate.2, candidate.3, -candidate.0) > (b.1, b.2, b.3, -b.0)
            });
            if better {
                best = Some(candidate);
            }
        }
        best.map(|(key, similarity, _, _)| (key, similarity))
    }

    /// A title for a new problem: its topic and the address most of its appeals give, else its
    /// municipality.
    fn title_for(&self, group: &Group) -> String {
        let topic = self
            .topic_names
            .get(&group.topic_code)
            .cloned()
            .unwrap_or_else(|| group.topic_code.clone());
        let buildings: Vec<String> = group
            .members
            .iter()
            .filter_map(|m| m.address.as_deref().map(building_address))
            .collect();
        let place = most_common(buildings.iter().map(String::as_str)).or_else(|| {
            group
                .municipality()
                .map(|m| self.municipality_names.get(&m).cloned().unwrap_or(m))
        });
        match place {
            Some(place) => format!("{topic}: {place}"),
            None => topic,
        }
    }

    fn new_problem_record(&self, id: ProblemId, group: &Group) -> Problem {
        Problem {
            id,
            version: 1,
            title: self.title_for(group),
            block: group.block.clone().map(BlockCode::new),
            topic: Some(TopicCode::new(group.topic_code.clone())),
            municipality: group.municipality().map(MunicipalityCode::new),
            point: group.centre_point(),
            opened_utc: DateTime::<Utc>::from_timestamp(group.first, 0).unwrap_or_default(),
            resolved_utc: None,
            accelerated: false,
            confirmed: false,
            merged_into: None,
        }
    }

    /// Forgets candidates whose window has passed: no later appeal can join them.
    fn forget_old_candidates(&mut self) {
        let horizon = self
            .latest_seen
            .saturating_sub(i64::from(self.rules.window_days) * DAY_SECS);
        while let Some(&(last, key)) = self.candidate_ages.front() {
            if last >= horizon {
                break;
            }
            self.candidate_ages.pop_front();
            let stale = self
                .groups
                .get(&key)
                .is_some_and(|g| g.problem.is_none() && g.last < horizon);
            if stale {
                self.unindex(key);
                if let Some(group) = self.groups.remove(&key) {
                    for m in group.members {
                        self.member_of.remove(&m.id);
                    }
                }
            }
        }
    }

    /// Places a newly stored appeal (with its id). It may join a problem, or make a candidate
    /// group a problem with an id from `new_id`; what changed comes back to be stored. An
    /// appeal without a topic, or one already placed, changes nothing.
    pub fn place(
        &mut self,
        sighting: &Sighting<'_>,
        new_id: &mut dyn FnMut() -> ProblemId,
    ) -> ProblemChanges {
        self.place_inner(sighting, Some(new_id))
    }

    /// Learns a stored appeal without changing anything stored (the server's start, and appeals
    /// changed by an operator): one in a problem is put in it (moved there if it was elsewhere);
    /// one in none joins or starts a candidate group, never a problem.
    pub fn observe(&mut self, sighting: &Sighting<'_>) {
        match sighting.problem {
            Some(problem) => {
                if self.member_of.get(&sighting.id) == Some(&problem) {
                    return;
                }
                let Some(topic_code) = sighting.topic else {
                    return;
                };
                self.detach(sighting.id);
                let topic = Self::code_id(&mut self.topics, topic_code);
                if let Some(m) = sighting.municipality {
                    Self::code_id(&mut self.municipalities, m);
                }
                let member = self.member(sighting);
                let group = self
                    .groups
                    .entry(problem)
                    .or_insert_with(|| Group::new(topic, topic_code, sighting.block));
                group.add(member);
                self.member_of.insert(sighting.id, problem);
                self.latest_seen = self.latest_seen.max(sighting.received_utc);
                if self
                    .groups
                    .get(&problem)
                    .is_some_and(|g| g.problem.is_none())
                {
                    // The record comes with `observe_problem`; until then, one made from the
                    // members keeps the problem usable.
                    if let Some(group) = self.groups.get(&problem) {
                        let record = self.new_problem_record(problem, group);
                        if let Some(group) = self.groups.get_mut(&problem) {
                            group.problem = Some(record);
                        }
                    }
                }
                self.reindex(problem);
            }
            None => {
                if self.member_of.contains_key(&sighting.id) {
                    return;
                }
                self.place_inner(sighting, None);
            }
        }
    }

    /// Learns a stored problem record (its title, confirmation, merge and version).
    pub fn observe_problem(&mut self, problem: &Problem) {
        let topic_code = problem
            .topic
            .as_ref()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        let topic = Self::code_id(&mut self.topics, &topic_code);
        let block = problem.block.as_ref().map(|b| b.as_str());
        let group = self
            .groups
            .entry(problem.id)
            .or_insert_with(|| Group::new(topic, &topic_code, block));
        group.problem = Some(problem.clone());
        if problem.merged_into.is_some() {
            self.unindex(problem.id);
        }
    }

    /// Takes an appeal out of whatever group holds it.
    fn detach(&mut self, id: AppealId) -> Option<Member> {
        let key = self.member_of.remove(&id)?;
        let member = self.groups.get_mut(&key).and_then(|g| g.remove(id));
        let empty_candidate = self
            .groups
            .get(&key)
            .is_some_and(|g| g.members.is_empty() && g.problem.is_none());
        if empty_candidate {
            self.unindex(key);
            self.groups.remove(&key);
        } else {
            self.reindex(key);
        }
        member
    }

    fn place_inner(
        &mut self,
        sighting: &Sighting<'_>,
        new_id: Option<&mut dyn FnMut() -> ProblemId>,
    ) -> ProblemChanges {
        let mut changes = ProblemChanges::default();
        let Some(topic_code) = sighting.topic else {
            return changes;
        };
        if self.member_of.contains_key(&sighting.id) {
            return changes;
        }
        let topic = Self::code_id(&mut self.topics, topic_code);
        if let Some(m) = sighting.municipality {
            Self::code_id(&mut self.municipalities, m);
        }
        let member = self.member(sighting);
        if member.xy.is_none() && member.municipality.is_none() {
            return changes; // nowhere to compare it with
        }
        self.latest_seen = self.latest_seen.max(sighting.received_utc);
        let key = match self.best_group(topic, &member, new_id.is_none()) {
            Some((key, _)) => key,
            None => {
                let key = self.next_candidate;
                self.next_candidate -= 1;
                self.groups
                    .insert(key, Group::new(topic, topic_code, sighting.block));
                key
            }
        };
        let id = member.id;
        if let Some(group) = self.groups.get_mut(&key) {
            group.add(member);
        }
        self.member_of.insert(id, key);
        self.reindex(key);
        let Some(group) = self.groups.get(&key) else {
            return changes;
        };
        if group.problem.is_some() {
            if new_id.is_some() {
                changes.relinked.push((id, key));
            }
            return changes;
        }
        let big_enough = group.members.len() >= self.rules.min_appeals as usize;
        match new_id {
            Some(new_id) if big_enough => {
                let problem_id = new_id();
                let record = self.new_problem_record(problem_id, group);
                let Some(mut group) = self.groups.remove(&key) else {
                    return changes;
                };
                self.unindex_place(key, group.place);
                group.place = None;
                group.problem = Some(record.clone());
                for m in &group.members {
                    self.member_of.insert(m.id, problem_id);
                    changes.relinked.push((m.id, problem_id));
                }
                changes.relinked.sort_unstable();
                self.groups.insert(problem_id, group);
                self.reindex(problem_id);
                changes.problems.push(record);
            }
            _ => {
                self.candidate_ages.push_back((sighting.received_utc, key));
                if self.candidate_ages.len().is_multiple_of(1024) {
                    self.forget_old_candidates();
                }
            }
        }
        changes
    }

    fn unindex_place(&mut self, key: GroupKey, place: Option<Place>) {
        if let Some(place) = place
            && let Some(list) = self.index.get_mut(&place)
        {
            list.retain(|k| *k != key);
            if list.is_empty() {
                self.index.remove(&place);
            }
        }
    }

    fn live_problem(&self, id: ProblemId) -> Result<&Group, String> {
        let group = self
            .groups
            .get(&id)
            .filter(|g| g.problem.is_some())
            .ok_or_else(|| format!("нет проблемы {id}"))?;
        if let Some(into) = group.problem.as_ref().and_then(|p| p.merged_into) {
            return Err(format!("проблема {id} уже объединена с проблемой {into}"));
        }
        Ok(group)
    }

    fn bump(&mut self, id: ProblemId, change: impl FnOnce(&mut Problem)) -> Option<Problem> {
        let problem = self.groups.get_mut(&id)?.problem.as_mut()?;
        change(problem);
        problem.version += 1;
        Some(problem.clone())
    }

    /// An operator confirms that the appeals of a problem are one problem, optionally giving it
    /// a title.
    pub fn confirm(
        &mut self,
        id: ProblemId,
        title: Option<&str>,
    ) -> Result<ProblemChanges, String> {
        self.live_problem(id)?;
        let title = title.map(check_title).transpose()?;
        let record = self
            .bump(id, |p| {
                p.confirmed = true;
                if let Some(title) = title {
                    p.title = title;
                }
            })
            .ok_or_else(|| format!("нет проблемы {id}"))?;
        Ok(ProblemChanges {
            problems: vec![record],
            relinked: vec![],
        })
    }

    /// An operator takes some appeals out of a problem into a new, confirmed one (id from
    /// `new_id`); both are confirmed.
    pub fn split(
        &mut self,
        id: ProblemId,
        appeals: &[AppealId],
        title: Option<&str>,
        new_id: &mut dyn FnMut() -> ProblemId,
    ) -> Result<ProblemChanges, String> {
        let group = self.live_problem(id)?;
        let title = title.map(check_title).transpose()?;
        let wanted: HashSet<AppealId> = appeals.iter().copied().collect();
        if wanted.is_empty() {
            return Err("не выбраны обращения, которые нужно выделить".into());
        }
        if let Some(stray) = wanted
            .iter()
            .find(|a| !group.members.iter().any(|m| m.id == **a))
        {
            return Err(format!("обращение {stray} не входит в проблему {id}"));
        }
        if wanted.len() == group.members.len() {
            return Err("нельзя выделить все обращения проблемы: останется пустая".into());
        }
        let (topic, topic_code, block) =
            (group.topic, group.topic_code.clone(), group.block.clone());
        let mut moved = Group::new(topic, &topic_code, block.as_deref());
        let mut ids: Vec<AppealId> = wanted.into_iter().collect();
        ids.sort_unstable();
        for a in &ids {
            if let Some(m) = self.detach(*a) {
                moved.add(m);
            }
        }
        let new = new_id();
        let mut record = self.new_problem_record(new, &moved);
        record.confirmed = true;
        if let Some(title) = title {
            record.title = title;
        }
        moved.problem = Some(record.clone());
        for a in &ids {
            self.member_of.insert(*a, new);
        }
        self.groups.insert(new, moved);
        self.reindex(new);
        let old = self
            .bump(id, |p| p.confirmed = true)
            .ok_or_else(|| format!("нет проблемы {id}"))?;
        Ok(ProblemChanges {
            problems: vec![old, record],
            relinked: ids.into_iter().map(|a| (a, new)).collect(),
        })
    }

    /// An operator merges problem `from` into problem `into`: its appeals move, and `from` stays
    /// as a record that says where they went.
    pub fn merge(&mut self, from: ProblemId, into: ProblemId) -> Result<ProblemChanges, String> {
        if from == into {
            return Err("проблему нельзя объединить с ней самой".into());
        }
        self.live_problem(from)?;
        self.live_problem(into)?;
        let members: Vec<AppealId> = self.members(from);
        for a in &members {
            if let Some(m) = self.detach(*a) {
                if let Some(g) = self.groups.get_mut(&into) {
                    g.add(m);
                }
                self.member_of.insert(*a, into);
            }
        }
        self.reindex(into);
        self.unindex(from);
        let gone = self
            .bump(from, |p| p.merged_into = Some(into))
            .ok_or_else(|| format!("нет проблемы {from}"))?;
        let kept = self
            .bump(into, |p| p.confirmed = true)
            .ok_or_else(|| format!("нет проблемы {into}"))?;
        Ok(ProblemChanges {
            problems: vec![gone, kept],
            relinked: members.into_iter().map(|a| (a, into)).collect(),
        })
    }
}

/// An address up to the building: a flat, office or room (and what follows) is a person's, not
/// a place's, and stays out of a problem's title.
pub fn building_address(address: &str) -> String {
    let personal = [
        "кв",
        "квартира",
        "оф",
        "офис",
        "комн",
        "комната",
        "пом",
        "помещение",
    ];
    address
        .split(',')
        .map(str::trim)
        .take_while(|part| {
            let first = part
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_lowercase();
            !personal.contains(&first.as_str())
        })
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_title(title: &str) -> Result<String, String> {
    let title = title.trim();
    if title.is_empty() {
        return Err("пустое название проблемы".into());
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(format!(
            "название проблемы длиннее {MAX_TITLE_CHARS} символов"
        ));
    }
    Ok(title.to_string())
}

/// Groups the appeals of a standalone replica (`tsur demo-data`) into problems with the same
/// code the server runs at ingest, in the order they were received, and writes the problems and
/// each appeal's problem. Problems already in the replica are replaced. Returns how many problems
/// were made.
pub fn cluster_replica(
    store: &mut crate::store::Store,
    pack: &RegionPack,
) -> Result<usize, crate::store::StoreError> {
    let path = store.path().to_path_buf();
    cluster_into(store.conn_mut(), pack)
        .map_err(|source| crate::store::StoreError::Sqlite { path, source })
}

fn cluster_into(conn: &mut rusqlite::Connection, pack: &RegionPack) -> rusqlite::Result<usize> {
    let mut clusterer = Clusterer::new(pack);
    let mut next_id: ProblemId = 0;
    let mut problem_of: HashMap<AppealId, ProblemId> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT id, block_code, topic_code, municipality_code, lat, lon, received_utc, text,
                    address
             FROM appeals WHERE topic_code IS NOT NULL ORDER BY received_utc, id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let block: Option<String> = row.get(1)?;
            let topic: Option<String> = row.get(2)?;
            let municipality: Option<String> = row.get(3)?;
            let lat: Option<f64> = row.get(4)?;
            let lon: Option<f64> = row.get(5)?;
            let text: String = row.get(7)?;
            let address: Option<String> = row.get(8)?;
            let sighting = Sighting {
                id: row.get(0)?,
                block: block.as_deref(),
                topic: topic.as_deref(),
                municipality: municipality.as_deref(),
                point: lat.zip(lon).map(|(lat, lon)| GeoPoint { lat, lon }),
                received_utc: row.get(6)?,
                text: &text,
                address: address.as_deref(),
                problem: None,
            };
            let changes = clusterer.place(&sighting, &mut || {
                next_id += 1;
                next_id
            });
            problem_of.extend(changes.relinked);
        }
    }
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE appeals SET problem_id = NULL WHERE problem_id IS NOT NULL",
        [],
    )?;
    tx.execute("DELETE FROM problems", [])?;
    {
        let mut link = tx.prepare("UPDATE appeals SET problem_id = ?2 WHERE id = ?1")?;
        for (appeal, problem) in &problem_of {
            link.execute(rusqlite::params![appeal, problem])?;
        }
        let mut insert = tx.prepare(
            "INSERT INTO problems (id, version, title, block_code, topic_code, municipality_code,
                 lat, lon, opened_utc, resolved_utc, accelerated, confirmed, merged_into)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, 0, ?10, ?11)",
        )?;
        for p in clusterer.problems() {
            insert.execute(rusqlite::params![
                p.id,
                p.version,
                p.title,
                p.block.as_ref().map(|c| c.as_str()),
                p.topic.as_ref().map(|c| c.as_str()),
                p.municipality.as_ref().map(|c| c.as_str()),
                p.point.map(|g| g.lat),
                p.point.map(|g| g.lon),
                p.opened_utc.timestamp(),
                p.confirmed,
                p.merged_into,
            ])?;
        }
    }
    tx.commit()?;
    Ok(clusterer.problems().len())
}
