//! What the server works out of appeals at ingest with tsur-core's code (ENGINEERING §1): the
//! earlier appeal a new one repeats ([`tsur_core::repeats`]) and, for an unclassified one, a
//! suggested classification ([`tsur_core::classify`]) — applied at once, with an event saying
//! so, when its confidence reaches the pack's threshold; kept as a suggestion for an operator
//! otherwise. Both are synced to clients inside the appeal.
//!
//! The classifier and the index of earlier appeals live in memory: built from the stored appeals
//! when the server starts and updated with every appeal it stores. Several server processes on
//! one PostgreSQL each see what was stored before they started and what they store themselves,
//! not what the others store meanwhile (a repeat across processes is found after a restart).

use crate::storage::{IngestOutcome, Storage, StorageError};
use tsur_core::classify::Classifier;
use tsur_core::domain::{
    Appeal, BlockCode, Event, EventKind, MunicipalityCode, SuggestedClassification, TopicCode,
};
use tsur_core::pack::RegionPack;
use tsur_core::repeats::RepeatIndex;

/// Appeals read per page when the server starts.
const PAGE: u32 = 5_000;
/// Who an automatic classification is recorded as.
pub const AUTO_ACTOR: &str = "tsur (автоматически)";

pub struct Enricher {
    classifier: Classifier,
    repeats: RepeatIndex,
}

impl Enricher {
    /// An enricher that knows no appeals yet (the pack's keywords still classify).
    pub fn new(pack: &RegionPack) -> Enricher {
        Enricher {
            classifier: Classifier::new(pack),
            repeats: RepeatIndex::new(),
        }
    }

    /// An enricher that has learnt from every appeal in `storage`.
    pub fn from_storage(storage: &Storage, pack: &RegionPack) -> Result<Enricher, StorageError> {
        let mut enricher = Enricher::new(pack);
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

    /// Learns from a stored appeal (with its id): later ones may repeat it, and its topic, if it
    /// has one, teaches the classifier.
    pub fn remember(&mut self, appeal: &Appeal) {
        self.repeats.add(appeal);
        if let Some(topic) = &appeal.topic {
            self.classifier.learn(&appeal.text, topic.as_str());
        }
    }

    /// Enriches a batch, stores it, and learns from what was stored.
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
        for (outcome, appeal) in outcomes.iter().zip(kept) {
            if let (
                IngestOutcome::Created { id, version } | IngestOutcome::Updated { id, version },
                Some(mut appeal),
            ) = (outcome, appeal)
            {
                appeal.id = *id;
                appeal.version = *version;
                self.remember(&appeal);
            }
        }
        Ok(outcomes)
    }
}
