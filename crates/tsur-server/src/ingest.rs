//! Ingest: appeals pushed by connectors are checked against the region pack and get their
//! deadline from the server's engine before they are stored. Each item is judged on its own: one
//! bad record is rejected with its reason and the rest of the batch goes in.

use serde::Deserialize;
use serde_json::Value;
use tsur_core::deadline::DeadlineEngine;
use tsur_core::domain::{
    Answer, Appeal, AppealId, Author, BlockCode, Channel, Event, GeoPoint, MunicipalityCode,
    OrganisationCode, ProblemId, Rating, Regime, Status, TopicCode,
};
use tsur_core::pack::RegionPack;

/// The longest appeal text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// The longest source or external id accepted.
pub const MAX_ID_CHARS: usize = 200;

/// One appeal as a connector sends it: the domain appeal without the server's id and version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestAppeal {
    pub source: String,
    pub external_id: String,
    pub channel: Channel,
    #[serde(default)]
    pub regime: Option<Regime>,
    pub received_utc: chrono::DateTime<chrono::Utc>,
    #[serde(default)]
    pub registered_utc: Option<chrono::DateTime<chrono::Utc>>,
    pub text: String,
    #[serde(default)]
    pub author: Author,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub point: Option<GeoPoint>,
    #[serde(default)]
    pub municipality: Option<MunicipalityCode>,
    #[serde(default)]
    pub block: Option<BlockCode>,
    #[serde(default)]
    pub topic: Option<TopicCode>,
    #[serde(default)]
    pub organisation: Option<OrganisationCode>,
    #[serde(default = "new_status")]
    pub status: Status,
    #[serde(default)]
    pub answered_utc: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub rating: Option<Rating>,
    #[serde(default)]
    pub problem: Option<ProblemId>,
    #[serde(default)]
    pub repeat_of: Option<AppealId>,
    #[serde(default)]
    pub duplicate_of: Option<AppealId>,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub answers: Vec<Answer>,
    #[serde(default)]
    pub events: Vec<Event>,
}

fn new_status() -> Status {
    Status::New
}

impl IngestAppeal {
    /// The ingest form of a stored appeal (used to seed the server from a demo replica).
    pub fn from_appeal(a: Appeal) -> IngestAppeal {
        IngestAppeal {
            source: a.source,
            external_id: a.external_id,
            channel: a.channel,
            regime: Some(a.regime),
            received_utc: a.received_utc,
            registered_utc: a.registered_utc,
            text: a.text,
            author: a.author,
            address: a.address,
            point: a.point,
            municipality: a.municipality,
            block: a.block,
            topic: a.topic,
            organisation: a.organisation,
            status: a.status,
            answered_utc: a.answered_utc,
            rating: a.rating,
            problem: a.problem,
            repeat_of: a.repeat_of,
            duplicate_of: a.duplicate_of,
            assignee: a.assignee,
            answers: a.answers,
            events: a.events,
        }
    }
}

/// Parses and checks one raw item; the error says what is wrong with it.
pub fn prepare_value(
    pack: &RegionPack,
    engine: &DeadlineEngine,
    value: Value,
) -> Result<Appeal, String> {
    let external = value
        .get("external_id")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(60).collect::<String>());
    let item: IngestAppeal = serde_json::from_value(value).map_err(|e| match &external {
        Some(id) => format!("запись «{id}»: {e}"),
        None => format!("запись без external_id: {e}"),
    })?;
    prepare(pack, engine, item)
}

/// Checks an appeal against the pack and computes its answer deadline.
pub fn prepare(
    pack: &RegionPack,
    engine: &DeadlineEngine,
    item: IngestAppeal,
) -> Result<Appeal, String> {
    let who = format!(
        "запись «{}»",
        item.external_id.chars().take(60).collect::<String>()
    );
    for (what, value) in [("source", &item.source), ("external_id", &item.external_id)] {
        if value.trim().is_empty() {
            return Err(format!("{who}: пустое поле {what}"));
        }
        if value.chars().count() > MAX_ID_CHARS {
            return Err(format!(
                "{who}: поле {what} длиннее {MAX_ID_CHARS} символов"
            ));
        }
    }
    let text_chars = item.text.chars().count();
    if text_chars > MAX_TEXT_CHARS {
        return Err(format!(
            "{who}: текст длиннее {MAX_TEXT_CHARS} символов ({text_chars})"
        ));
    }
    if let Some(p) = item.point {
        let valid =
            p.lat.is_finite() && p.lon.is_finite() && pack.region.bbox.contains(p.lat, p.lon);
        if !valid {
            return Err(format!(
                "{who}: координаты ({}, {}) вне региона",
                p.lat, p.lon
            ));
        }
    }
    if let Some(m) = &item.municipality
        && pack.municipality(m.as_str()).is_none()
    {
        return Err(format!("{who}: неизвестный муниципалитет «{m}»"));
    }
    if let Some(o) = &item.organisation
        && pack.organisation(o.as_str()).is_none()
    {
        return Err(format!("{who}: неизвестная организация «{o}»"));
    }
    let mut block = item.block.clone();
    if let Some(b) = &block
        && pack.block(b.as_str()).is_none()
    {
        return Err(format!("{who}: неизвестный блок «{b}»"));
    }
    if let Some(t) = &item.topic {
        let Some((topic_block, _)) = pack.topic(t.as_str()) else {
            return Err(format!("{who}: неизвестная тема «{t}»"));
        };
        match &block {
            Some(b) if *b != topic_block.code => {
                return Err(format!("{who}: тема «{t}» не из блока «{b}»"));
            }
            _ => block = Some(topic_block.code.clone()),
        }
    }
    let mut appeal = Appeal {
        id: 0,
        version: 0,
        source: item.source,
        external_id: item.external_id,
        channel: item.channel,
        regime: item.regime.unwrap_or_else(|| item.channel.default_regime()),
        received_utc: item.received_utc,
        registered_utc: item.registered_utc,
        text: item.text,
        author: item.author,
        address: item.address,
        point: item.point,
        municipality: item.municipality,
        block,
        topic: item.topic,
        organisation: item.organisation,
        status: item.status,
        due_utc: None,
        answered_utc: item.answered_utc,
        rating: item.rating,
        problem: item.problem,
        repeat_of: item.repeat_of,
        duplicate_of: item.duplicate_of,
        assignee: item.assignee,
        suggestion: None,
        answers: item.answers,
        events: item.events,
    };
    let deadline = engine
        .answer_deadline(&appeal)
        .map_err(|e| format!("{who}: {e}"))?;
    appeal.due_utc = Some(deadline.due_utc);
    Ok(appeal)
}
