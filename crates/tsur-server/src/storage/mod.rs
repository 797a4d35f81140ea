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
use serde::{Deserialize, Serialize};
use tsur_core::domain::{Appeal, AppealId};
use tsur_core::sync::{Action, ActionOutcome};
pub use tsur_core::sync::{Change, ChangesPage};

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
    ) -> Result<ChangesPage, StorageError> {
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

/// The JSON snapshot stored for an appeal.
pub(crate) fn to_json(appeal: &Appeal) -> Result<String, StorageError> {
    serde_json::to_string(appeal).map_err(|e| StorageError::Corrupt(e.to_string()))
}
