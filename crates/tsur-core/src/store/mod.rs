//! The local store: a SQLite replica (bundled SQLite, WAL) with migrations embedded in the binary.
//!
//! The schema version is SQLite's `user_version`; the file is marked as tsur's with
//! `application_id`. A database written by a newer tsur is refused before anything is written to
//! it. Instants are stored as UTC unix seconds.

mod appeals;

pub use appeals::Quarantined;

use crate::pack::RegionPack;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// `application_id` of a tsur database: "TSUR" in ASCII.
pub const APPLICATION_ID: i32 = 0x5453_5552;

/// Tables of schema version 1. Secondary indexes are separate so that a bulk load can build
/// them after the rows are in (several times faster than maintaining them row by row).
const SCHEMA_V1_TABLES: &str = r#"
CREATE TABLE municipalities (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    short_name  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    population  INTEGER NOT NULL
);
CREATE TABLE organisations (
    code              TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    block_code        TEXT,
    municipality_code TEXT,
    demo              INTEGER NOT NULL
);
CREATE TABLE problems (
    id                INTEGER PRIMARY KEY,
    version           INTEGER NOT NULL DEFAULT 1,
    title             TEXT NOT NULL,
    block_code        TEXT,
    topic_code        TEXT,
    municipality_code TEXT,
    lat               REAL,
    lon               REAL,
    opened_utc        INTEGER NOT NULL,
    resolved_utc      INTEGER,
    accelerated       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE appeals (
    id                INTEGER PRIMARY KEY,
    version           INTEGER NOT NULL DEFAULT 1,
    source            TEXT NOT NULL,
    external_id       TEXT NOT NULL,
    channel           TEXT NOT NULL,
    regime            TEXT NOT NULL,
    received_utc      INTEGER NOT NULL,
    registered_utc    INTEGER,
    text              TEXT NOT NULL,
    author_name       TEXT,
    author_phone      TEXT,
    author_email      TEXT,
    address           TEXT,
    lat               REAL,
    lon               REAL,
    municipality_code TEXT,
    block_code        TEXT,
    topic_code        TEXT,
    organisation_code TEXT,
    status            TEXT NOT NULL,
    due_utc           INTEGER,
    first_reaction_due_utc INTEGER,
    first_reaction_utc INTEGER,
    answered_utc      INTEGER,
    closed_utc        INTEGER,
    rating            INTEGER CHECK (rating BETWEEN 1 AND 5),
    problem_id        INTEGER,
    repeat_of         INTEGER,
    duplicate_of      INTEGER,
    assignee          TEXT,
    extensions        INTEGER NOT NULL DEFAULT 0,
    updated_utc       INTEGER NOT NULL,
    UNIQUE (source, external_id)
);
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    appeal_id   INTEGER NOT NULL,
    at_utc      INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    note        TEXT
);
CREATE TABLE answers (
    id                INTEGER PRIMARY KEY,
    appeal_id         INTEGER NOT NULL,
    at_utc            INTEGER NOT NULL,
    organisation_code TEXT,
    kind              TEXT NOT NULL,
    on_merits         INTEGER NOT NULL,
    text              TEXT NOT NULL
);
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE outbox (
    id            TEXT PRIMARY KEY,
    created_utc   INTEGER NOT NULL,
    appeal_id     INTEGER,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    base_version  INTEGER,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'sent', 'applied', 'duplicate', 'conflict', 'rejected')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT
);
"#;

/// Secondary indexes of schema version 1, for what the UI asks.
pub const SCHEMA_V1_INDEXES: &[&str] = &[
    // The block queue: by block, status and deadline.
    "CREATE INDEX IF NOT EXISTS appeals_queue ON appeals (block_code, status, due_utc)",
    // Overdue and at-risk across blocks.
    "CREATE INDEX IF NOT EXISTS appeals_status_due ON appeals (status, due_utc)",
    // The map by area.
    "CREATE INDEX IF NOT EXISTS appeals_area ON appeals (lat, lon)",
    // Time ranges.
    "CREATE INDEX IF NOT EXISTS appeals_received ON appeals (received_utc)",
    "CREATE INDEX IF NOT EXISTS appeals_municipality ON appeals (municipality_code, received_utc)",
    "CREATE INDEX IF NOT EXISTS appeals_organisation ON appeals (organisation_code, received_utc)",
    "CREATE INDEX IF NOT EXISTS appeals_problem ON appeals (problem_id) WHERE problem_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS events_appeal ON events (appeal_id, at_utc)",
    "CREATE INDEX IF NOT EXISTS answers_appeal ON answers (appeal_id)",
    "CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, created_utc)",
];

/// The migrations, in order: migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[fn(&Connection) -> rusqlite::Result<()>] =
    &[migrate_to_v1, migrate_to_v2, migrate_to_v3, migrate_to_v4];

/// Version 4: problems are synced from the server, and operators confirm and merge them.
fn migrate_to_v4(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "ALTER TABLE problems ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE problems ADD COLUMN merged_into INTEGER;",
    )
}

/// Version 3: the classification the server suggests for an unclassified appeal.
fn migrate_to_v3(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "ALTER TABLE appeals ADD COLUMN suggested_block TEXT;
         ALTER TABLE appeals ADD COLUMN suggested_topic TEXT;
         ALTER TABLE appeals ADD COLUMN suggested_municipality TEXT;
         ALTER TABLE appeals ADD COLUMN suggestion_confidence REAL;",
    )
}

/// Version 2: records of the change feed that could not be applied, kept with their reason.
fn migrate_to_v2(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE quarantine (
             id     INTEGER PRIMARY KEY,
             at_utc INTEGER NOT NULL,
             seq    INTEGER,
             reason TEXT NOT NULL,
             raw    TEXT NOT NULL
         );",
    )
}

fn migrate_to_v1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA_V1_TABLES)?;
    for index in SCHEMA_V1_INDEXES {
        conn.execute(index, [])?;
    }
    Ok(())
}

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// What can go wrong with the local store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "база данных {path} создана более новой версией tsur (схема {found}, эта версия понимает до {supported}); \
         файл не изменён — обновите tsur или откройте другую базу"
    )]
    NewerSchema {
        path: PathBuf,
        found: i32,
        supported: i32,
    },
    #[error("файл {path} — не база данных tsur; файл не изменён")]
    NotTsur { path: PathBuf },
    #[error("база данных {path} не найдена")]
    NotFound { path: PathBuf },
    #[error("ошибка базы данных {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// SQLite's page cache during a bulk load (negative: KiB) and otherwise (SQLite's default).
const BULK_CACHE_KIB: i64 = -131_072;
const USUAL_CACHE_KIB: i64 = -2_000;

/// The local replica.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) a replica and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if path.exists() {
            check_version(&path)?;
        }
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(sql)?;
        configure(&conn).map_err(sql)?;
        let mut store = Store { conn, path };
        store.migrate()?;
        // A bulk load that was cut off may have left indexes dropped; nothing is written when
        // all are there.
        if !store.missing_secondary_indexes()?.is_empty() {
            store.build_secondary_indexes()?;
        }
        Ok(store)
    }

    /// Opens an existing replica; a missing file is an error rather than a new empty database.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(StoreError::NotFound {
                path: path.to_path_buf(),
            });
        }
        Store::open(path)
    }

    /// Opens an existing replica read-only, without migrating it (for reading workers).
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(StoreError::NotFound { path });
        }
        check_version(&path)?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Ok(Store { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn sql_error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i32, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql_error(e))
    }

    /// The name of each secondary index, read from its `CREATE INDEX IF NOT EXISTS name ON …`.
    fn secondary_index_names() -> impl Iterator<Item = &'static str> {
        SCHEMA_V1_INDEXES
            .iter()
            .filter_map(|sql| sql.split_whitespace().nth(5))
    }

    /// Drops the indexes the UI reads appeals with before a bulk load into an empty replica:
    /// building them once afterwards ([`Store::build_secondary_indexes`]) costs a fraction of
    /// keeping them up to date row by row (ENGINEERING §6). The indexes of events and answers
    /// stay: writing a newer version of an appeal replaces its history by appeal id. A load cut
    /// off in between leaves the dropped ones missing, and the next [`Store::open`] builds them.
    pub fn drop_secondary_indexes(&mut self) -> Result<(), StoreError> {
        for name in Self::secondary_index_names().filter(|n| n.starts_with("appeals_")) {
            self.conn
                .execute(&format!("DROP INDEX IF EXISTS {name}"), [])
                .map_err(|e| self.sql_error(e))?;
        }
        Ok(())
    }

    /// The secondary indexes this replica lacks (none, unless a bulk load was cut off).
    pub fn missing_secondary_indexes(&self) -> Result<Vec<&'static str>, StoreError> {
        let mut missing = Vec::new();
        for name in Self::secondary_index_names() {
            let exists: bool = self
                .conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
                    [name],
                    |r| r.get(0),
                )
                .map_err(|e| self.sql_error(e))?;
            if !exists {
                missing.push(name);
            }
        }
        Ok(missing)
    }

    /// Whether the replica holds no appeals.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM appeals)", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.sql_error(e))
    }

    /// Starts a bulk load (an initial sync into an empty replica): secondary indexes dropped and
    /// a larger page cache. Pair with [`Store::end_bulk_load`], also when the load fails.
    pub fn begin_bulk_load(&mut self) -> Result<(), StoreError> {
        self.drop_secondary_indexes()?;
        self.conn
            .pragma_update(None, "cache_size", BULK_CACHE_KIB)
            .map_err(|e| self.sql_error(e))
    }

    /// Ends a bulk load: the indexes are built and the page cache returns to its usual size.
    pub fn end_bulk_load(&mut self) -> Result<(), StoreError> {
        self.build_secondary_indexes()?;
        self.conn
            .pragma_update(None, "cache_size", USUAL_CACHE_KIB)
            .map_err(|e| self.sql_error(e))
    }

    /// Builds every secondary index that is missing (a no-op when all are there).
    pub fn build_secondary_indexes(&mut self) -> Result<(), StoreError> {
        for index in SCHEMA_V1_INDEXES {
            self.conn
                .execute(index, [])
                .map_err(|e| self.sql_error(e))?;
        }
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let current = self.schema_version()?;
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
            let tx = self.conn.transaction().map_err(sql)?;
            migration(&tx).map_err(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i32)
                .map_err(sql)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(())
    }

    /// Writes the pack's municipalities and organisations (replacing the previous copies).
    pub fn write_reference(&mut self, pack: &RegionPack) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute("DELETE FROM municipalities", []).map_err(sql)?;
        tx.execute("DELETE FROM organisations", []).map_err(sql)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO municipalities (code, name, short_name, kind, lat, lon, population)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(sql)?;
            for m in &pack.municipalities {
                insert
                    .execute(params![
                        m.code.as_str(),
                        m.name,
                        m.short_name,
                        m.kind,
                        m.point.lat,
                        m.point.lon,
                        m.population
                    ])
                    .map_err(sql)?;
            }
            let mut insert = tx
                .prepare(
                    "INSERT INTO organisations (code, name, kind, block_code, municipality_code, demo)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql)?;
            for o in &pack.organisations {
                insert
                    .execute(params![
                        o.code.as_str(),
                        o.name,
                        o.kind,
                        o.block.as_ref().map(|b| b.as_str()),
                        o.municipality.as_ref().map(|m| m.as_str()),
                        o.demo
                    ])
                    .map_err(sql)?;
            }
        }
        tx.execute(
            "INSERT INTO sync_state (key, value) VALUES ('pack_hash', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [&pack.version_hash],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// A value of the sync state (cursor, pack hash, generator parameters…).
    pub fn sync_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.sql_error(e))
    }

    pub fn set_sync_value(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.sql_error(e))
    }

    /// Records an operator action for the sync engine to deliver (exactly once, by its id).
    pub fn enqueue_action(&self, action: &OutboxAction) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO outbox (id, created_utc, appeal_id, kind, payload, base_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    action.id,
                    action.created_utc,
                    action.appeal_id,
                    action.kind,
                    action.payload,
                    action.base_version
                ],
            )
            .map(|_| ())
            .map_err(|e| self.sql_error(e))
    }

    /// Records what the server said about a delivered action (`applied`, `duplicate`,
    /// `conflict`, `rejected`), with the reason or current version for people to see.
    pub fn mark_action(
        &self,
        id: &str,
        state: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = ?2, last_error = ?3, attempts = attempts + 1 WHERE id = ?1",
                params![id, state, detail],
            )
            .map(|_| ())
            .map_err(|e| self.sql_error(e))
    }

    /// Counts actions by outbox state.
    pub fn outbox_count(&self, state: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE state = ?1",
                [state],
                |r| r.get(0),
            )
            .map_err(|e| self.sql_error(e))
    }

    /// Actions still waiting to be delivered, oldest first.
    pub fn pending_actions(&self) -> Result<Vec<OutboxAction>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, created_utc, appeal_id, kind, payload, base_version FROM outbox
                 WHERE state = 'pending' ORDER BY created_utc, id",
            )
            .map_err(|e| self.sql_error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(OutboxAction {
                    id: r.get(0)?,
                    created_utc: r.get(1)?,
                    appeal_id: r.get(2)?,
                    kind: r.get(3)?,
                    payload: r.get(4)?,
                    base_version: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sql_error(e))?;
        Ok(rows)
    }
}

/// An operator action waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxAction {
    /// Client-made UUID (v7), the key that makes delivery exactly-once.
    pub id: String,
    pub created_utc: i64,
    pub appeal_id: Option<i64>,
    pub kind: String,
    /// The action as JSON.
    pub payload: String,
    pub base_version: Option<i64>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Reads the schema version and application id of an existing file without writing to it.
fn check_version(path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    // Read-write without CREATE: a read-only handle cannot open a WAL database whose -shm file is
    // missing, and reading pragmas writes nothing either way.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    let version: i32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                StoreError::NotTsur {
                    path: path.to_path_buf(),
                }
            }
            other => sql(other),
        })?;
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sql)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(sql)?;
    if app_id != APPLICATION_ID && (app_id != 0 || tables > 0) {
        return Err(StoreError::NotTsur {
            path: path.to_path_buf(),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
