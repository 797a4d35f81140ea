//! The server's storage: appeals as versioned snapshots, an append-only change log with a
//! monotonically increasing sequence, tokens, and the audit log.
//!
//! Backends: SQLite (embedded default). PostgreSQL joins in a later step behind the same
//! [`Storage`] API; its change feed must also never let a lower sequence commit after a higher one
//! is visible (ENGINEERING §3.1).

mod sqlite;

pub use sqlite::SqliteStorage;

use crate::auth::{Principal, Role};
use serde::{Deserialize, Serialize};
use tsur_core::domain::{Appeal, AppealId};
pub use tsur_core::sync::{Change, ChangesPage};

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("ошибка базы данных сервера: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
}

impl Storage {
    /// Opens `sqlite:PATH` (or a bare path).
    pub fn open(url: &str) -> Result<Storage, StorageError> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            return Ok(Storage::Sqlite(SqliteStorage::open(path)?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Err(StorageError::UnsupportedUrl(format!(
                "{url} (PostgreSQL появится на следующем этапе)"
            )));
        }
        if url.contains("://") {
            return Err(StorageError::UnsupportedUrl(url.to_string()));
        }
        Ok(Storage::Sqlite(SqliteStorage::open(url)?))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
        }
    }

    pub fn sqlite(&self) -> &SqliteStorage {
        match self {
            Storage::Sqlite(s) => s,
        }
    }

    /// Scope check used by every endpoint: whether `principal` may see this appeal.
    pub fn visible(principal: &Principal, appeal: &Appeal) -> bool {
        principal.sees(
            appeal.block.as_ref().map(|b| b.as_str()),
            appeal.municipality.as_ref().map(|m| m.as_str()),
        )
    }
}
