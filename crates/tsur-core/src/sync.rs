//! Sync protocol types shared by tsur-server and the app: the change feed and operator actions.

use crate::domain::{Appeal, AppealId, ProblemId, Status};
use serde::{Deserialize, Serialize};

/// One entry of the change feed: a full snapshot of the entity at `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub seq: i64,
    pub entity: String,
    pub id: AppealId,
    pub version: i64,
    pub data: Appeal,
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
}

/// One action as the client sends it: made offline if need be, delivered at least once, applied
/// at most once thanks to its client-made id (UUIDv7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub appeal_id: AppealId,
    /// The version of the appeal the operator saw.
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
