//! The server's storage: appeals as versioned snapshots, an append-only change log with a
//! monotonically increasing sequence, tokens, and the audit log.
//!
//! Backends: SQLite (embedded default) and PostgreSQL (several server processes on one database),
//! behind the same [`Storage`] API. Neither change feed ever lets a lower sequence become visible
//! after a higher one (ENGINEERING §3.1): SQLite has one writer; PostgreSQL takes sequences under
//! a row lock held to commit (see [`postgres`]).

pub mod postgres;
mod sqlite;

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

use crate::auth::{Principal, Role};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tsur_core::domain::{Appeal, AppealId, Event, EventKind, Problem, ProblemId};
use tsur_core::problems::ProblemChanges;
use tsur_core::sync::{Action, ActionOutcome};
pub use tsur_core::sync::{Change, ChangesPage};

/// One change as the feed serves it: the wire format of [`Change`], with the snapshot kept as
/// JSON text so that it need not be decoded and encoded again on its way out.
#[derive(Debug, Clone)]
pub struct ServedChange {
    pub seq: i64,
    pub entity: String,
    pub id: i64,
    pub version: i64,
    /// The snapshot as JSON text, masked for the reader.
    pub data: String,
}

/// A page of the feed as served: the wire format of [`ChangesPage`].
#[derive(Debug, Clone)]
pub struct ServedPage {
    pub changes: Vec<ServedChange>,
    pub next: i64,
    pub has_more: bool,
}

impl ServedPage {
    /// The page as JSON, each snapshot written out as the text it already is.
    pub fn to_json(&self) -> String {
        let capacity = self
            .changes
            .iter()
            .map(|c| c.data.len() + 80)
            .sum::<usize>()
            + 64;
        let mut out = String::with_capacity(capacity);
        out.push_str("{\"changes\":[");
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // The entity name is the only string here that needs escaping.
            let entity = serde_json::to_string(&c.entity).unwrap_or_else(|_| "\"\"".into());
            out.push_str(&format!(
                "{{\"seq\":{},\"entity\":{entity},\"id\":{},\"version\":{},\"data\":",
                c.seq, c.id, c.version
            ));
            out.push_str(&c.data);
            out.push('}');
        }
        out.push_str(&format!(
            "],\"next\":{},\"has_more\":{}}}",
            self.next, self.has_more
        ));
        out
    }
}

/// The stored snapshot `data` of change `seq` as `principal` may see it. Roles that see
/// everything get the stored JSON as it is — the server wrote it from an [`Appeal`] itself, and an
/// initial sync of a million appeals would otherwise decode and re-encode every one; the others
/// get it decoded, masked and encoded again.
pub(crate) fn snapshot_for(
    principal: &Principal,
    seq: i64,
    entity: &str,
    data: String,
) -> Result<String, StorageError> {
    let corrupt = |e: serde_json::Error| StorageError::Corrupt(format!("изменение {seq}: {e}"));
    if principal.sees_everything_unmasked() {
        // Still checked to be JSON: one damaged row must be a clear error naming it, not a
        // page no client can read.
        serde_json::from_str::<&serde_json::value::RawValue>(&data).map_err(corrupt)?;
        return Ok(data);
    }
    if entity == "problem" {
        // A problem's automatic title names a building, never a flat; a title an operator
        // typed may hold anything, so phones, e-mails and names are taken out as in texts.
        let mut problem: Problem = serde_json::from_str(&data).map_err(corrupt)?;
        problem.title = crate::auth::redact(&problem.title, &tsur_core::domain::Author::default());
        return serde_json::to_string(&problem).map_err(corrupt);
    }
    let appeal: Appeal = serde_json::from_str(&data).map_err(corrupt)?;
    serde_json::to_string(&principal.mask(appeal)).map_err(corrupt)
}

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("ошибка базы данных сервера: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("ошибка PostgreSQL: {0}")]
    Postgres(String),
    #[error("повреждённая запись в базе сервера: {0}")]
    Corrupt(String),
    #[error("не удалось получить случайные байты для токена: {0}")]
    Random(String),
    #[error("неподдерживаемый адрес базы «{0}»: ожидается sqlite:ПУТЬ или postgres://…")]
    UnsupportedUrl(String),
    #[error("база сервера создана более новой версией (схема {found}, поддерживается {supported})")]
    NewerSchema { found: i32, supported: i32 },
    #[error("фоновая задача базы данных прервана: {0}")]
    Join(String),
}

/// A token as `token list` shows it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub user: String,
    pub role: Role,
    pub blocks: Vec<String>,
    pub municipalities: Vec<String>,
    pub created_utc: i64,
    pub revoked_utc: Option<i64>,
}

/// What ingest did with one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IngestOutcome {
    Created { id: AppealId, version: i64 },
    Updated { id: AppealId, version: i64 },
    Unchanged { id: AppealId, version: i64 },
    Rejected { reason: String },
}

/// A storage backend chosen by URL.
pub enum Storage {
    Sqlite(SqliteStorage),
    Postgres(PostgresStorage),
}

/// Calls the same method on whichever backend this is.
macro_rules! dispatch {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Storage::Sqlite($s) => $call,
            Storage::Postgres($s) => $call,
        }
    };
}

impl Storage {
    /// Opens `sqlite:PATH` (or a bare path) or `postgres://…` (`postgresql://…`).
    pub fn open(url: &str) -> Result<Storage, StorageError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            return Ok(Storage::Sqlite(SqliteStorage::open(path)?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Storage::Postgres(PostgresStorage::open(url)?));
        }
        if url.contains("://") {
            return Err(StorageError::UnsupportedUrl(url.to_string()));
        }
        Ok(Storage::Sqlite(SqliteStorage::open(url)?))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }

    /// Whether other processes may write to the same database, so an in-process notification
    /// does not see every commit (long-polls must also look at the database now and then).
    pub fn shared_between_processes(&self) -> bool {
        matches!(self, Storage::Postgres(_))
    }

    pub fn as_sqlite(&self) -> Option<&SqliteStorage> {
        match self {
            Storage::Sqlite(s) => Some(s),
            Storage::Postgres(_) => None,
        }
    }

    pub fn as_postgres(&self) -> Option<&PostgresStorage> {
        match self {
            Storage::Postgres(s) => Some(s),
            Storage::Sqlite(_) => None,
        }
    }

    /// Creates a token and returns it with its id; only its hash is stored.
    pub fn create_token(
        &self,
        user: &str,
        role: Role,
        blocks: &[String],
        municipalities: &[String],
    ) -> Result<(i64, String), StorageError> {
        dispatch!(self, s => s.create_token(user, role, blocks, municipalities))
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, StorageError> {
        dispatch!(self, s => s.list_tokens())
    }

    /// Revokes a token by id; `false` if there is no such active token.
    pub fn revoke_token(&self, id: i64) -> Result<bool, StorageError> {
        dispatch!(self, s => s.revoke_token(id))
    }

    /// The principal a bearer token stands for, unless it is unknown or revoked.
    pub fn principal(&self, token: &str) -> Result<Option<Principal>, StorageError> {
        dispatch!(self, s => s.principal(token))
    }

    /// The highest sequence in the change log (0 when empty).
    pub fn latest_seq(&self) -> Result<i64, StorageError> {
        dispatch!(self, s => s.latest_seq())
    }

    /// Up to `limit` stored appeals with ids above `after_id`, in id order.
    pub fn appeals_after(&self, after_id: i64, limit: u32) -> Result<Vec<Appeal>, StorageError> {
        dispatch!(self, s => s.appeals_after(after_id, limit))
    }

    /// Stores appeals from a connector, idempotent by (source, external id), in one transaction.
    pub fn ingest(
        &self,
        items: Vec<Result<Appeal, String>>,
    ) -> Result<Vec<IngestOutcome>, StorageError> {
        dispatch!(self, s => s.ingest(items))
    }

    /// Changes after `after`, at most `limit` scanned, filtered and masked for `principal`.
    pub fn changes(
        &self,
        principal: &Principal,
        after: i64,
        limit: u32,
    ) -> Result<ServedPage, StorageError> {
        dispatch!(self, s => s.changes(principal, after, limit))
    }

    /// Applies one operator action exactly once by its id.
    pub fn act(
        &self,
        principal: &Principal,
        action: &Action,
        mutate: impl FnOnce(&mut Appeal) -> Result<(), String> + Send,
    ) -> Result<ActionOutcome, StorageError> {
        dispatch!(self, s => s.act(principal, action, mutate))
    }

    /// A new problem id (the problem's record is written with [`Storage::write_problems`]).
    pub fn reserve_problem_id(&self) -> Result<ProblemId, StorageError> {
        dispatch!(self, s => s.reserve_problem_id())
    }

    /// Every stored problem record, in id order.
    pub fn problems_all(&self) -> Result<Vec<Problem>, StorageError> {
        dispatch!(self, s => s.problems_all())
    }

    /// What an action id got the first time, if it was seen.
    pub fn action_outcome(&self, id: &str) -> Result<Option<ActionOutcome>, StorageError> {
        dispatch!(self, s => s.action_outcome(id))
    }

    /// Stores what problem clustering changed in one transaction: the problem records, and each
    /// relinked appeal as a new version with an event saying which problem it joined, all in the
    /// change feed; with `action`, that action's outcome is recorded under its id as well.
    pub fn write_problems(
        &self,
        changes: &ProblemChanges,
        actor: &str,
        at: DateTime<Utc>,
        action: Option<(&Action, &ActionOutcome)>,
    ) -> Result<(), StorageError> {
        dispatch!(self, s => s.write_problems(changes, actor, at, action))
    }

    /// Records that a request returned personal data.
    pub fn audit(
        &self,
        principal: &Principal,
        endpoint: &str,
        records: usize,
    ) -> Result<(), StorageError> {
        dispatch!(self, s => s.audit(principal, endpoint, records))
    }

    /// Audit entries, newest last.
    pub fn audit_log(&self) -> Result<Vec<(String, String, String, i64)>, StorageError> {
        dispatch!(self, s => s.audit_log())
    }

    /// Scope check used by every endpoint: whether `principal` may see this appeal.
    pub fn visible(principal: &Principal, appeal: &Appeal) -> bool {
        principal.sees(
            appeal.block.as_ref().map(|b| b.as_str()),
            appeal.municipality.as_ref().map(|m| m.as_str()),
        )
    }
}

/// The backend-neutral part of applying an action, given the appeal's stored version and snapshot
/// (none if there is no such appeal): the outcome, and on `Applied` the new appeal to store with
/// its version already bumped. Scope is checked before the version so that a token never learns
/// anything about an appeal outside its zone.
pub(crate) fn decide_action(
    principal: &Principal,
    action: &Action,
    stored: Option<(i64, &str)>,
    mutate: impl FnOnce(&mut Appeal) -> Result<(), String>,
) -> Result<(ActionOutcome, Option<Appeal>), StorageError> {
    let Some((version, data)) = stored else {
        let reason = format!("нет обращения {}", action.appeal_id);
        return Ok((ActionOutcome::Rejected { reason }, None));
    };
    let mut appeal: Appeal = serde_json::from_str(data)
        .map_err(|e| StorageError::Corrupt(format!("обращение {}: {e}", action.appeal_id)))?;
    if !Storage::visible(principal, &appeal) {
        let reason = format!("обращение {} вне вашей зоны", action.appeal_id);
        return Ok((ActionOutcome::Rejected { reason }, None));
    }
    if version != action.base_version {
        return Ok((
            ActionOutcome::Conflict {
                current_version: version,
            },
            None,
        ));
    }
    match mutate(&mut appeal) {
        Err(reason) => Ok((ActionOutcome::Rejected { reason }, None)),
        Ok(()) => {
            appeal.version = version + 1;
            Ok((
                ActionOutcome::Applied {
                    version: appeal.version,
                },
                Some(appeal),
            ))
        }
    }
}

/// The stored appeal `data` moved into `problem` as its next version, with an event; `None` if
/// it is already there.
pub(crate) fn relinked_appeal(
    data: &str,
    id: AppealId,
    problem: ProblemId,
    title: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Option<Appeal>, StorageError> {
    let mut appeal: Appeal = serde_json::from_str(data)
        .map_err(|e| StorageError::Corrupt(format!("обращение {id}: {e}")))?;
    if appeal.problem == Some(problem) {
        return Ok(None);
    }
    appeal.problem = Some(problem);
    appeal.version += 1;
    appeal.events.push(Event {
        // Never before the appeal itself (a replayed history stays in time order).
        at_utc: at.max(appeal.received_utc),
        kind: EventKind::Grouped,
        actor: actor.to_string(),
        from_status: None,
        to_status: None,
        note: Some(format!("проблема №{problem}: {title}")),
    });
    Ok(Some(appeal))
}

/// The title for a relink's event: from a record written in the same step, else `stored`.
pub(crate) fn title_in(changes: &ProblemChanges, problem: ProblemId) -> Option<&str> {
    changes
        .problems
        .iter()
        .find(|p| p.id == problem)
        .map(|p| p.title.as_str())
}

/// Where a problem is, for scoping the feed.
pub(crate) fn problem_scope(problem: &Problem) -> (Option<String>, Option<String>) {
    (
        problem.block.as_ref().map(|b| b.as_str().to_string()),
        problem
            .municipality
            .as_ref()
            .map(|m| m.as_str().to_string()),
    )
}

/// The JSON snapshot stored for an appeal.
pub(crate) fn to_json(appeal: &Appeal) -> Result<String, StorageError> {
    serde_json::to_string(appeal).map_err(|e| StorageError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_served_page_is_the_json_of_the_protocol_page() {
        let page = ServedPage {
            changes: vec![
                ServedChange {
                    seq: 7,
                    entity: "appeal".into(),
                    id: 3,
                    version: 2,
                    data: r#"{"text":"нет \"отопления\"","n":[1,2]}"#.into(),
                },
                ServedChange {
                    seq: 9,
                    entity: "odd \"name\"".into(),
                    id: 4,
                    version: 1,
                    data: "{}".into(),
                },
            ],
            next: 12,
            has_more: true,
        };
        let parsed: serde_json::Value = serde_json::from_str(&page.to_json()).unwrap();
        assert_eq!(
            parsed,
            json!({
                "changes": [
                    {"seq": 7, "entity": "appeal", "id": 3, "version": 2,
                     "data": {"text": "нет \"отопления\"", "n": [1, 2]}},
                    {"seq": 9, "entity": "odd \"name\"", "id": 4, "version": 1, "data": {}},
                ],
                "next": 12,
                "has_more": true,
            })
        );
        let empty = ServedPage {
            changes: vec![],
            next: 0,
            has_more: false,
        };
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&empty.to_json()).unwrap(),
            json!({"changes": [], "next": 0, "has_more": false})
        );
    }

    fn principal(role: crate::auth::Role) -> Principal {
        Principal {
            token_id: 1,
            user: "t".into(),
            role,
            blocks: vec![],
            municipalities: vec![],
        }
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_naming_its_change_for_every_role() {
        for role in [crate::auth::Role::Curator, crate::auth::Role::Wall] {
            let err = snapshot_for(
                &principal(role),
                42,
                "appeal",
                r#"{"id": 1, "text": "обрыв"#.into(),
            )
            .unwrap_err();
            assert!(
                matches!(&err, StorageError::Corrupt(m) if m.contains("изменение 42")),
                "{role:?}: {err}"
            );
        }
        let intact = r#"{"id":1}"#.to_string();
        assert_eq!(
            snapshot_for(
                &principal(crate::auth::Role::Curator),
                1,
                "appeal",
                intact.clone()
            )
            .unwrap(),
            intact,
            "passed through as stored"
        );
    }
}
