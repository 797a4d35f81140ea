//! The SQLite backend: one writer connection (SQLite serialises writers anyway, so sequences
//! commit in order and the feed can never skip one) and a small pool of readers (WAL).

use super::{
    IngestOutcome, ServedChange, ServedPage, StorageError, TokenInfo, decide_action, problem_scope,
    relinked_appeal, snapshot_for, title_in, to_json,
};
use crate::auth::{Principal, Role, hash_token, new_token};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tsur_core::domain::Appeal;
use tsur_core::domain::{Problem, ProblemId};
use tsur_core::problems::ProblemChanges;
use tsur_core::sync::{Action, ActionOutcome};

const SCHEMA_VERSION: i32 = 2;

/// Version 2: problems (clusters of appeals) with their records. A reserved id has a row of
/// version 0 until its record is written.
const SCHEMA_V2: &str = r#"
CREATE TABLE problems (
    id                INTEGER PRIMARY KEY,
    version           INTEGER NOT NULL,
    block_code        TEXT,
    municipality_code TEXT,
    data              TEXT NOT NULL
);
"#;

const SCHEMA_V1: &str = r#"
CREATE TABLE appeals (
    id                INTEGER PRIMARY KEY,
    source            TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    version           INTEGER NOT NULL,
    block_code        TEXT,
    municipality_code TEXT,
    data              TEXT NOT NULL,
    UNIQUE (source, external_id)
);
CREATE TABLE changes (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    entity            TEXT NOT NULL,
    entity_id         INTEGER NOT NULL,
    version           INTEGER NOT NULL,
    block_code        TEXT,
    municipality_code TEXT,
    data              TEXT NOT NULL
);
CREATE TABLE tokens (
    id             INTEGER PRIMARY KEY,
    hash           TEXT NOT NULL UNIQUE,
    user           TEXT NOT NULL,
    role           TEXT NOT NULL,
    blocks         TEXT NOT NULL,
    municipalities TEXT NOT NULL,
    created_utc    INTEGER NOT NULL,
    revoked_utc    INTEGER
);
CREATE TABLE actions (
    id        TEXT PRIMARY KEY,
    appeal_id INTEGER,
    result    TEXT NOT NULL,
    at_utc    INTEGER NOT NULL
);
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at_utc    INTEGER NOT NULL,
    token_id  INTEGER,
    user      TEXT NOT NULL,
    role      TEXT NOT NULL,
    endpoint  TEXT NOT NULL,
    records   INTEGER NOT NULL
);
"#;

/// The embedded SQLite backend.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

fn now_utc() -> i64 {
    chrono::Utc::now().timestamp()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable: SQLite rolls back on its own.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqliteStorage {
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage, StorageError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path)?;
        configure(&conn)?;
        let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StorageError::NewerSchema {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            let tx = conn.unchecked_transaction()?;
            if version < 1 {
                tx.execute_batch(SCHEMA_V1)?;
            }
            if version < 2 {
                tx.execute_batch(SCHEMA_V2)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()?;
        }
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` on a pooled read connection.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                conn
            }
        };
        let result = f(&conn);
        lock(&self.readers).push(conn);
        result
    }

    /// Creates a token and returns it with its id; only its hash is stored.
    pub fn create_token(
        &self,
        user: &str,
        role: Role,
        blocks: &[String],
        municipalities: &[String],
    ) -> Result<(i64, String), StorageError> {
        let token = new_token().map_err(|e| StorageError::Random(e.to_string()))?;
        let conn = lock(&self.writer);
        conn.execute(
            "INSERT INTO tokens (hash, user, role, blocks, municipalities, created_utc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                hash_token(&token),
                user,
                role.code(),
                serde_json::to_string(blocks).unwrap_or_default(),
                serde_json::to_string(municipalities).unwrap_or_default(),
                now_utc()
            ],
        )?;
        Ok((conn.last_insert_rowid(), token))
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, StorageError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, user, role, blocks, municipalities, created_utc, revoked_utc
                 FROM tokens ORDER BY id",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(
                    |(id, user, role, blocks, municipalities, created_utc, revoked_utc)| {
                        Ok(TokenInfo {
                            id,
                            user,
                            role: Role::from_code(&role).ok_or_else(|| {
                                StorageError::Corrupt(format!("роль «{role}» у токена {id}"))
                            })?,
                            blocks: parse_list(&blocks, id)?,
                            municipalities: parse_list(&municipalities, id)?,
                            created_utc,
                            revoked_utc,
                        })
                    },
                )
                .collect()
        })
    }

    /// Revokes a token by id; `false` if there is no such active token.
    pub fn revoke_token(&self, id: i64) -> Result<bool, StorageError> {
        let conn = lock(&self.writer);
        let n = conn.execute(
            "UPDATE tokens SET revoked_utc = ?2 WHERE id = ?1 AND revoked_utc IS NULL",
            params![id, now_utc()],
        )?;
        Ok(n == 1)
    }

    /// The principal a bearer token stands for, unless it is unknown or revoked.
    pub fn principal(&self, token: &str) -> Result<Option<Principal>, StorageError> {
        let hash = hash_token(token);
        self.read(|conn| {
            let row = conn
                .query_row(
                    "SELECT id, user, role, blocks, municipalities FROM tokens
                     WHERE hash = ?1 AND revoked_utc IS NULL",
                    [&hash],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    },
                )
                .optional()?;
            let Some((id, user, role, blocks, municipalities)) = row else {
                return Ok(None);
            };
            Ok(Some(Principal {
                token_id: id,
                user,
                role: Role::from_code(&role)
                    .ok_or_else(|| StorageError::Corrupt(format!("роль «{role}» у токена {id}")))?,
                blocks: parse_list(&blocks, id)?,
                municipalities: parse_list(&municipalities, id)?,
            }))
        })
    }

    /// The highest sequence in the change log (0 when empty).
    pub fn latest_seq(&self) -> Result<i64, StorageError> {
        self.read(|conn| {
            Ok(
                conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| {
                    r.get(0)
                })?,
            )
        })
    }

    /// Up to `limit` stored appeals with ids above `after_id`, in id order (to read them all in
    /// pages).
    pub fn appeals_after(&self, after_id: i64, limit: u32) -> Result<Vec<Appeal>, StorageError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, data FROM appeals WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![after_id, i64::from(limit)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let id: i64 = row.get(0)?;
                let data: String = row.get(1)?;
                out.push(
                    serde_json::from_str(&data)
                        .map_err(|e| StorageError::Corrupt(format!("обращение {id}: {e}")))?,
                );
            }
            Ok(out)
        })
    }

    /// Stores appeals from a connector, idempotent by (source, external id): the same content
    /// again is `Unchanged`; different content is a new version with a change in the feed.
    /// `Err` items are passed through as rejections. All in one transaction.
    pub fn ingest(
        &self,
        items: Vec<Result<Appeal, String>>,
    ) -> Result<Vec<IngestOutcome>, StorageError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        let mut outcomes = Vec::with_capacity(items.len());
        {
            let mut find = tx.prepare_cached(
                "SELECT id, version, data FROM appeals WHERE source = ?1 AND external_id = ?2",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO appeals (source, external_id, version, block_code, municipality_code, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, '')",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE appeals SET version = ?2, block_code = ?3, municipality_code = ?4, data = ?5
                 WHERE id = ?1",
            )?;
            let mut log = tx.prepare_cached(
                "INSERT INTO changes (entity, entity_id, version, block_code, municipality_code, data)
                 VALUES ('appeal', ?1, ?2, ?3, ?4, ?5)",
            )?;
            for item in items {
                let mut appeal = match item {
                    Ok(appeal) => appeal,
                    Err(reason) => {
                        outcomes.push(IngestOutcome::Rejected { reason });
                        continue;
                    }
                };
                let block = appeal.block.as_ref().map(|b| b.as_str().to_string());
                let municipality = appeal.municipality.as_ref().map(|m| m.as_str().to_string());
                let existing = find
                    .query_row(params![appeal.source, appeal.external_id], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                        ))
                    })
                    .optional()?;
                let outcome = match existing {
                    Some((id, version, data)) => {
                        appeal.id = id;
                        appeal.version = version;
                        let stored = serde_json::from_str::<Appeal>(&data).ok();
                        // The problem is the server's own: a connector's update keeps it.
                        if appeal.problem.is_none() {
                            appeal.problem = stored.as_ref().and_then(|s| s.problem);
                        }
                        let same = stored.is_some_and(|stored| stored == appeal);
                        if same {
                            IngestOutcome::Unchanged { id, version }
                        } else {
                            appeal.version = version + 1;
                            let json = to_json(&appeal)?;
                            update.execute(params![
                                id,
                                appeal.version,
                                block,
                                municipality,
                                json
                            ])?;
                            log.execute(params![id, appeal.version, block, municipality, json])?;
                            IngestOutcome::Updated {
                                id,
                                version: appeal.version,
                            }
                        }
                    }
                    None => {
                        insert.execute(params![
                            appeal.source,
                            appeal.external_id,
                            1,
                            block,
                            municipality
                        ])?;
                        appeal.id = tx.last_insert_rowid();
                        appeal.version = 1;
                        let json = to_json(&appeal)?;
                        update.execute(params![appeal.id, 1, block, municipality, json])?;
                        log.execute(params![appeal.id, 1, block, municipality, json])?;
                        IngestOutcome::Created {
                            id: appeal.id,
                            version: 1,
                        }
                    }
                };
                outcomes.push(outcome);
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Changes after `after`, at most `limit` scanned, filtered to what `principal` may see and
    /// masked for its role.
    pub fn changes(
        &self,
        principal: &Principal,
        after: i64,
        limit: u32,
    ) -> Result<ServedPage, StorageError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, entity, entity_id, version, block_code, municipality_code, data
                 FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![after, i64::from(limit) + 1])?;
            let mut changes = Vec::new();
            let mut next = after;
            let mut scanned = 0u32;
            let mut has_more = false;
            while let Some(row) = rows.next()? {
                if scanned == limit {
                    has_more = true;
                    break;
                }
                scanned += 1;
                let seq: i64 = row.get(0)?;
                next = seq;
                let block: Option<String> = row.get(4)?;
                let municipality: Option<String> = row.get(5)?;
                if !principal.sees(block.as_deref(), municipality.as_deref()) {
                    continue;
                }
                let data: String = row.get(6)?;
                let entity: String = row.get(1)?;
                changes.push(ServedChange {
                    seq,
                    entity: entity.clone(),
                    id: row.get(2)?,
                    version: row.get(3)?,
                    data: snapshot_for(principal, seq, &entity, data)?,
                });
            }
            Ok(ServedPage {
                changes,
                next,
                has_more,
            })
        })
    }

    /// Applies one operator action exactly once: an id seen before gets back its first outcome; a
    /// stale `base_version` is a conflict; `mutate` may refuse. Every outcome is recorded under the
    /// action's id, and an applied one bumps the version and enters the change feed, all in one
    /// transaction.
    pub fn act(
        &self,
        principal: &Principal,
        action: &Action,
        mutate: impl FnOnce(&mut Appeal) -> Result<(), String>,
    ) -> Result<ActionOutcome, StorageError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        let first: Option<String> = tx
            .query_row(
                "SELECT result FROM actions WHERE id = ?1",
                [&action.id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(first) = first {
            let first: ActionOutcome = serde_json::from_str(&first)
                .map_err(|e| StorageError::Corrupt(format!("действие {}: {e}", action.id)))?;
            return Ok(ActionOutcome::Duplicate {
                first: Box::new(first),
            });
        }
        let row: Option<(i64, String)> = tx
            .query_row(
                "SELECT version, data FROM appeals WHERE id = ?1",
                [action.appeal_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let stored = row
            .as_ref()
            .map(|(version, data)| (*version, data.as_str()));
        let (outcome, updated) = decide_action(principal, action, stored, mutate)?;
        if let Some(appeal) = updated {
            let json = to_json(&appeal)?;
            let block = appeal.block.as_ref().map(|b| b.as_str().to_string());
            let municipality = appeal.municipality.as_ref().map(|m| m.as_str().to_string());
            tx.execute(
                "UPDATE appeals SET version = ?2, block_code = ?3, municipality_code = ?4, data = ?5
                 WHERE id = ?1",
                params![appeal.id, appeal.version, block, municipality, json],
            )?;
            tx.execute(
                "INSERT INTO changes (entity, entity_id, version, block_code, municipality_code, data)
                 VALUES ('appeal', ?1, ?2, ?3, ?4, ?5)",
                params![appeal.id, appeal.version, block, municipality, json],
            )?;
        }
        let recorded =
            serde_json::to_string(&outcome).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        tx.execute(
            "INSERT INTO actions (id, appeal_id, result, at_utc) VALUES (?1, ?2, ?3, ?4)",
            params![action.id, action.appeal_id, recorded, now_utc()],
        )?;
        tx.commit()?;
        Ok(outcome)
    }

    /// A new problem id: a row of version 0 holds it until its record is written.
    pub fn reserve_problem_id(&self) -> Result<ProblemId, StorageError> {
        let conn = lock(&self.writer);
        conn.execute("INSERT INTO problems (version, data) VALUES (0, '')", [])?;
        Ok(conn.last_insert_rowid())
    }

    /// Every stored problem record, in id order.
    pub fn problems_all(&self) -> Result<Vec<Problem>, StorageError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT id, data FROM problems WHERE version > 0 ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows.into_iter()
                .map(|(id, data)| {
                    serde_json::from_str(&data)
                        .map_err(|e| StorageError::Corrupt(format!("проблема {id}: {e}")))
                })
                .collect()
        })
    }

    /// What an action id got the first time, if it was seen.
    pub fn action_outcome(&self, id: &str) -> Result<Option<ActionOutcome>, StorageError> {
        self.read(|conn| {
            let first: Option<String> = conn
                .query_row("SELECT result FROM actions WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            first
                .map(|f| {
                    serde_json::from_str(&f)
                        .map_err(|e| StorageError::Corrupt(format!("действие {id}: {e}")))
                })
                .transpose()
        })
    }

    /// See [`super::Storage::write_problems`].
    pub fn write_problems(
        &self,
        changes: &ProblemChanges,
        actor: &str,
        at: DateTime<Utc>,
        action: Option<(&Action, &ActionOutcome)>,
    ) -> Result<(), StorageError> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        for problem in &changes.problems {
            let json =
                serde_json::to_string(problem).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            let (block, municipality) = problem_scope(problem);
            tx.execute(
                "INSERT INTO problems (id, version, block_code, municipality_code, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version,
                     block_code = excluded.block_code,
                     municipality_code = excluded.municipality_code, data = excluded.data",
                params![problem.id, problem.version, block, municipality, json],
            )?;
            tx.execute(
                "INSERT INTO changes (entity, entity_id, version, block_code, municipality_code, data)
                 VALUES ('problem', ?1, ?2, ?3, ?4, ?5)",
                params![problem.id, problem.version, block, municipality, json],
            )?;
        }
        for (appeal_id, problem) in &changes.relinked {
            let title = match title_in(changes, *problem) {
                Some(title) => title.to_string(),
                None => tx
                    .query_row("SELECT data FROM problems WHERE id = ?1", [problem], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()?
                    .and_then(|d| serde_json::from_str::<Problem>(&d).ok())
                    .map(|p| p.title)
                    .unwrap_or_default(),
            };
            let data: Option<String> = tx
                .query_row("SELECT data FROM appeals WHERE id = ?1", [appeal_id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(data) = data else {
                continue; // not stored: nothing to move
            };
            let Some(appeal) = relinked_appeal(&data, *appeal_id, *problem, &title, actor, at)?
            else {
                continue;
            };
            let json = to_json(&appeal)?;
            let block = appeal.block.as_ref().map(|b| b.as_str().to_string());
            let municipality = appeal.municipality.as_ref().map(|m| m.as_str().to_string());
            tx.execute(
                "UPDATE appeals SET version = ?2, block_code = ?3, municipality_code = ?4, data = ?5
                 WHERE id = ?1",
                params![appeal.id, appeal.version, block, municipality, json],
            )?;
            tx.execute(
                "INSERT INTO changes (entity, entity_id, version, block_code, municipality_code, data)
                 VALUES ('appeal', ?1, ?2, ?3, ?4, ?5)",
                params![appeal.id, appeal.version, block, municipality, json],
            )?;
        }
        if let Some((action, outcome)) = action {
            let recorded =
                serde_json::to_string(outcome).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            tx.execute(
                "INSERT INTO actions (id, appeal_id, result, at_utc) VALUES (?1, ?2, ?3, ?4)",
                params![action.id, action.appeal_id, recorded, now_utc()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that a request returned personal data: once per request, not per record.
    pub fn audit(
        &self,
        principal: &Principal,
        endpoint: &str,
        records: usize,
    ) -> Result<(), StorageError> {
        let conn = lock(&self.writer);
        conn.execute(
            "INSERT INTO audit (at_utc, token_id, user, role, endpoint, records) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now_utc(), principal.token_id, principal.user, principal.role.code(), endpoint, records as i64],
        )?;
        Ok(())
    }

    /// Audit entries, newest last (for tests and the admin CLI).
    pub fn audit_log(&self) -> Result<Vec<(String, String, String, i64)>, StorageError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT user, role, endpoint, records FROM audit ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }
}

fn parse_list(json: &str, token_id: i64) -> Result<Vec<String>, StorageError> {
    serde_json::from_str(json).map_err(|e| StorageError::Corrupt(format!("токен {token_id}: {e}")))
}
