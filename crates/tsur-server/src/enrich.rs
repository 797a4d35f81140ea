//! What the server works out of appeals at ingest with tsur-core's code (ENGINEERING §1): the
//! earlier appeal a new one repeats ([`tsur_core::repeats`]); for an unclassified one, a
//! suggested classification ([`tsur_core::classify`]) — applied at once, with an event saying
//! so, when its confidence reaches the pack's threshold; kept as a suggestion for an operator
//! otherwise; and the problem it belongs to ([`tsur_core::problems`]), which operators then
//! confirm, split and merge. Repeats and suggestions travel inside the appeal; problems are
//! entities of their own in the change feed.
//!
//! The classifier, the index of earlier appeals and the problem clustering live in memory: built
//! from what is stored when the server starts and updated with every appeal it stores. Several
//! server processes on one PostgreSQL each see what was stored before they started and what they
//! store themselves, not what the others store meanwhile (a repeat across processes is found
//! after a restart; problems should be made by one process).

use crate::storage::{IngestOutcome, Storage, StorageError};
use tsur_core::classify::Classifier;
use tsur_core::domain::{
    Appeal, BlockCode, Event, EventKind, MunicipalityCode, SuggestedClassification, TopicCode,
};
use tsur_core::pack::RegionPack;
use tsur_core::problems::{Clusterer, ProblemChanges, Sighting};
use tsur_core::repeats::RepeatIndex;

/// Appeals read per page when the server starts.
const PAGE: u32 = 5_000;
/// Who an automatic classification is recorded as.
pub const AUTO_ACTOR: &str = "tsur (автоматически)";

pub struct Enricher {
    pack: RegionPack,
    classifier: Classifier,
    repeats: RepeatIndex,
    pub problems: Clusterer,
}

impl Enricher {
    /// An enricher that knows no appeals yet (the pack's keywords still classify).
    pub fn new(pack: &RegionPack) -> Enricher {
        Enricher {
            pack: pack.clone(),
            classifier: Classifier::new(pack),
            repeats: RepeatIndex::new(),
            problems: Clusterer::new(pack),
        }
    }

    /// An enricher that has learnt from every appeal in `storage`.
    pub fn from_storage(storage: &Storage, pack: &RegionPack) -> Result<Enricher, StorageError> {
        let mut enricher = Enricher::new(pack);
        for problem in storage.problems_all()? {
            enricher.problems.observe_problem(&problem);
        }
        let mut after = 0;
        loop {
            let page = storage.appeals_after(after, PAGE)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            for appeal in &page {
                enricher.remember(appeal);
            }
        }
        Ok(enricher)
    }

    /// Works out, before it is stored, what a new or changed appeal repeats and how it should be
    /// classified. What its source already says (a repeat link, a topic) is kept.
    pub fn enrich(&self, appeal: &mut Appeal) {
        // Problems are the server's own: what a source says is not taken (an update keeps the
        // stored one).
        appeal.problem = None;
        if appeal.repeat_of.is_none()
            && let Some(link) = self.repeats.find(appeal)
        {
            appeal.repeat_of = Some(link.repeat_of);
        }
        if appeal.topic.is_some() {
            appeal.suggestion = None;
            return;
        }
        let Some(s) = self
            .classifier
            .suggest_appeal(&appeal.text, appeal.address.as_deref())
        else {
            return;
        };
        let suggestion = SuggestedClassification {
            block: BlockCode::new(s.block),
            topic: TopicCode::new(s.topic),
            municipality: s.municipality.map(MunicipalityCode::new),
            confidence: s.confidence,
        };
        if s.auto_apply {
            appeal.block = Some(suggestion.block.clone());
            appeal.topic = Some(suggestion.topic.clone());
            if appeal.municipality.is_none() {
                appeal.municipality = suggestion.municipality.clone();
            }
            // In its place in time (histories are kept in time order): at receipt.
            let at = appeal
                .events
                .iter()
                .take_while(|e| e.at_utc <= appeal.received_utc)
                .count();
            appeal.events.insert(
                at,
                Event {
                    at_utc: appeal.received_utc,
                    kind: EventKind::Classified,
                    actor: AUTO_ACTOR.into(),
                    from_status: None,
                    to_status: None,
                    note: Some(format!(
                        "классифицировано по тексту: {}, уверенность {:.0} %",
                        suggestion.topic,
                        suggestion.confidence * 100.0
                    )),
                },
            );
            appeal.suggestion = None;
        } else {
            appeal.suggestion = Some(suggestion);
        }
    }

    /// The problem `id`, if it exists and was not merged into another.
    pub fn live_problem(&self, id: tsur_core::domain::ProblemId) -> Result<(), String> {
        match self.problems.problem(id) {
            None => Err(format!("нет проблемы {id}")),
            Some(p) => match p.merged_into {
                Some(into) => Err(format!("проблема {id} объединена с проблемой {into}")),
                None => Ok(()),
            },
        }
    }

    /// Learns from a stored appeal (with its id): later ones may repeat it, and its topic, if it
    /// has one, teaches the classifier.
    pub fn remember(&mut self, appeal: &Appeal) {
        self.problems.observe(&Sighting::from(appeal));
        self.repeats.add(appeal);
        if let Some(topic) = &appeal.topic {
            self.classifier.learn(&appeal.text, topic.as_str());
        }
    }

    /// Enriches a batch, stores it, learns from what was stored, and places each new appeal in
    /// its problem (a second transaction: an appeal that joins a problem is stored again as its
    /// next version, with the problem records it made or changed).
    pub fn ingest(
        &mut self,
        storage: &Storage,
        mut items: Vec<Result<Appeal, String>>,
    ) -> Result<Vec<IngestOutcome>, StorageError> {
        for appeal in items.iter_mut().flatten() {
            self.enrich(appeal);
        }
        let kept: Vec<Option<Appeal>> = items.iter().map(|i| i.as_ref().ok().cloned()).collect();
        let outcomes = storage.ingest(items)?;
        match self.place_new(storage, &outcomes, kept) {
            Ok(()) => Ok(outcomes),
            Err(e) => {
                // The appeals are stored; what the clustering did in memory is not. Learn again
                // from storage so that memory holds nothing storage does not.
                *self = Enricher::from_storage(storage, &self.pack.clone())?;
                Err(e)
            }
        }
    }

    /// Learns from the stored appeals of a batch and places the new ones in their problems.
    fn place_new(
        &mut self,
        storage: &Storage,
        outcomes: &[IngestOutcome],
        kept: Vec<Option<Appeal>>,
    ) -> Result<(), StorageError> {
        let mut changes = ProblemChanges::default();
        let mut reserve_error = None;
        for (outcome, appeal) in outcomes.iter().zip(kept) {
            let (created, id, version) = match outcome {
                IngestOutcome::Created { id, version } => (true, *id, *version),
                IngestOutcome::Updated { id, version } => (false, *id, *version),
                _ => continue,
            };
            let Some(mut appeal) = appeal else {
                continue;
            };
            appeal.id = id;
            appeal.version = version;
            self.repeats.add(&appeal);
            if let Some(topic) = &appeal.topic {
                self.classifier.learn(&appeal.text, topic.as_str());
            }
            if created && reserve_error.is_none() {
                let mut new_id = || match storage.reserve_problem_id() {
                    Ok(id) => id,
                    Err(e) => {
                        reserve_error = Some(e);
                        0 // never stored: the error discards this step
                    }
                };
                changes.extend(self.problems.place(&Sighting::from(&appeal), &mut new_id));
            }
        }
        if let Some(e) = reserve_error {
            return Err(e);
        }
        if !changes.is_empty() {
            storage.write_problems(&changes, AUTO_ACTOR, chrono::Utc::now(), None)?;
        }
        Ok(())
    }
}
