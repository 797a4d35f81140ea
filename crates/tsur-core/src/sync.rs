//! Sync protocol types shared by tsur-server and the app: the change feed and operator actions.

use crate::domain::{Appeal, AppealId, Problem, ProblemId, Status};
use serde::{Deserialize, Serialize};

/// One entry of the change feed: a full snapshot of the entity at `version`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub seq: i64,
    /// `appeal` or `problem`.
    pub entity: String,
    pub id: i64,
    pub version: i64,
    pub data: ChangeData,
}

/// The snapshot a change carries, by its entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ChangeData {
    Appeal(Box<Appeal>),
    Problem(Problem),
}

impl ChangeData {
    fn parse<'de, D: serde::Deserializer<'de>>(
        entity: &str,
        data: D,
    ) -> Result<ChangeData, D::Error> {
        use serde::de::Error;
        match entity {
            "appeal" => Ok(ChangeData::Appeal(Box::new(Appeal::deserialize(data)?))),
            "problem" => Ok(ChangeData::Problem(Problem::deserialize(data)?)),
            other => Err(D::Error::custom(format!(
                "неизвестный вид записи «{other}»"
            ))),
        }
    }
}

/// By hand, so that the snapshot is decoded straight into its type when `entity` comes first
/// (as the server writes it), with no intermediate value: an initial sync decodes a million.
impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Change, D::Error> {
        struct ChangeVisitor;
        impl<'de> serde::de::Visitor<'de> for ChangeVisitor {
            type Value = Change;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("запись ленты изменений")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Change, A::Error> {
                use serde::de::Error;
                let (mut seq, mut entity, mut id, mut version) = (None, None, None, None);
                let mut data: Option<ChangeData> = None;
                let mut early: Option<Box<serde_json::value::RawValue>> = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "seq" => seq = Some(map.next_value()?),
                        "entity" => entity = Some(map.next_value::<String>()?),
                        "id" => id = Some(map.next_value()?),
                        "version" => version = Some(map.next_value()?),
                        "data" => match &entity {
                            Some(entity) => {
                                data = Some(map.next_value_seed(DataSeed(entity))?);
                            }
                            None => early = Some(map.next_value()?),
                        },
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                let entity = entity.ok_or_else(|| A::Error::missing_field("entity"))?;
                let data = match (data, early) {
                    (Some(data), _) => data,
                    (None, Some(raw)) => {
                        ChangeData::parse(&entity, &*raw).map_err(A::Error::custom)?
                    }
                    (None, None) => return Err(A::Error::missing_field("data")),
                };
                Ok(Change {
                    seq: seq.ok_or_else(|| A::Error::missing_field("seq"))?,
                    id: id.ok_or_else(|| A::Error::missing_field("id"))?,
                    version: version.ok_or_else(|| A::Error::missing_field("version"))?,
                    entity,
                    data,
                })
            }
        }
        struct DataSeed<'a>(&'a str);
        impl<'de> serde::de::DeserializeSeed<'de> for DataSeed<'_> {
            type Value = ChangeData;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<ChangeData, D::Error> {
                ChangeData::parse(self.0, deserializer)
            }
        }
        deserializer.deserialize_map(ChangeVisitor)
    }
}

/// A page of the change feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangesPage {
    pub changes: Vec<Change>,
    /// The cursor to ask from next: the last sequence this page covered (including changes the
    /// token may not see), so a client never rescans them.
    pub next: i64,
    pub has_more: bool,
}

/// What an operator does to an appeal. Each kind is validated by the server against the status
/// lifecycle, the pack and the token's scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionKind {
    /// Take the case: the acting person becomes the assignee.
    Take,
    /// Assign the case to a person.
    Assign { to: String },
    /// Set the block and topic (the block follows the topic).
    Classify { topic: String },
    /// Route to a responsible organisation.
    Route { organisation: String },
    /// Change the status along the lifecycle.
    SetStatus {
        status: Status,
        #[serde(default)]
        why: Option<String>,
    },
    /// Answer the citizen.
    Answer { text: String, on_merits: bool },
    /// Pass up to the block head, the head of the centre or the curator (п.10.2).
    Escalate {
        to: String,
        #[serde(default)]
        why: Option<String>,
    },
    /// Extend the answer deadline by the rule's default (with notice to the citizen).
    Extend {
        #[serde(default)]
        why: Option<String>,
    },
    /// Merge into a problem.
    MergeIntoProblem { problem: ProblemId },
    /// Mark as a duplicate of another appeal.
    MarkDuplicate { of: AppealId },
    /// Reopen (low rating, repeat).
    Reopen {
        #[serde(default)]
        why: Option<String>,
    },
    /// A note in the history.
    Note { text: String },
    /// Confirm that a problem's appeals are one problem, optionally renaming it.
    ConfirmProblem {
        problem: ProblemId,
        #[serde(default)]
        title: Option<String>,
    },
    /// Take some appeals of a problem out into a new problem.
    SplitProblem {
        problem: ProblemId,
        appeals: Vec<AppealId>,
        #[serde(default)]
        title: Option<String>,
    },
    /// Merge `problem` into `into`: its appeals move there.
    MergeProblems { problem: ProblemId, into: ProblemId },
}

impl ActionKind {
    /// The problem an action on a problem (not on an appeal) acts on; its `base_version` is the
    /// problem's version and its `appeal_id` is not used.
    pub fn target_problem(&self) -> Option<ProblemId> {
        match self {
            ActionKind::ConfirmProblem { problem, .. }
            | ActionKind::SplitProblem { problem, .. }
            | ActionKind::MergeProblems { problem, .. } => Some(*problem),
            _ => None,
        }
    }
}

/// One action as the client sends it: made offline if need be, delivered at least once, applied
/// at most once thanks to its client-made id (UUIDv7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    /// The appeal acted on (0 for an action on a problem).
    #[serde(default)]
    pub appeal_id: AppealId,
    /// The version of the appeal (or, for an action on a problem, the problem) the operator saw.
    pub base_version: i64,
    #[serde(flatten)]
    pub kind: ActionKind,
}

/// What the server did with one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ActionOutcome {
    Applied {
        version: i64,
    },
    /// This id was seen before; `first` is what happened then.
    Duplicate {
        first: Box<ActionOutcome>,
    },
    /// The appeal changed since `base_version`.
    Conflict {
        current_version: i64,
    },
    Rejected {
        reason: String,
    },
}

/// The body of `POST /api/v1/actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionsRequest {
    pub actions: Vec<Action>,
}

/// The answer: one result per action, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionsResponse {
    pub results: Vec<ActionResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    pub id: String,
    #[serde(flatten)]
    pub outcome: ActionOutcome,
}
