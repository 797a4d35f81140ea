//! The client sync engine: pulls the change feed into the local replica and pushes the outbox.
//!
//! Rules (ENGINEERING §3): a page and its cursor are applied in one transaction; an older version
//! never overwrites a newer one; a malformed record is quarantined with its reason and the sync
//! goes on; a malformed page is an error and the replica stays as it was; cursors only move
//! forward; actions carry client-made UUIDs so the server applies each at most once.

use reqwest::blocking::Client;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tsur_core::analytics::{AppealFacts, ProblemInfo};
use tsur_core::domain::{Appeal, GeoPoint, Problem};
use tsur_core::pack::{BoundingBox, RegionPack};
use tsur_core::store::{Quarantined, Store, StoreError};
use tsur_core::sync::{ActionOutcome, ActionsResponse, Change, ChangeData};

/// The API version this client speaks.
/// 2: problems in the feed and `grouped` events (an older client would set those aside).
pub const CLIENT_API_VERSION: u64 = 2;
/// Changes asked for per page.
pub const PAGE_LIMIT: u32 = 1_000;
/// The longest text a record may carry before it is quarantined.
pub const MAX_RECORD_TEXT_CHARS: usize = 100_000;
/// How much of a quarantined record is kept.
const QUARANTINE_RAW_CHARS: usize = 4_000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("сервер {url} недоступен: {}", error_chain(.source))]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("сервер отказал в доступе ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("сервер ответил ошибкой {status}: {message}")]
    Server { status: u16, message: String },
    #[error(
        "сервер говорит на API версии {server}, а этот tsur — на версии {client}: обновите tsur"
    )]
    NewerServer { server: u64, client: u64 },
    #[error("повреждённая страница изменений (после {after}): {reason}; реплика не изменена")]
    MalformedPage { after: i64, reason: String },
    #[error("сертификат центра {path}: {reason}")]
    CaCertificate { path: PathBuf, reason: String },
    #[error("пакет региона с сервера не прошёл проверку: {0}")]
    BadPack(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("не удалось запустить поток синхронизации: {0}")]
    Thread(#[from] std::io::Error),
}

/// An error with its causes ("error sending request: … : invalid peer certificate: UnknownIssuer"),
/// and advice when the cause is a certificate this client does not trust.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.to_lowercase().contains("certificate") {
        text.push_str(
            " (сертификат сервера не признан: укажите сертификат центра параметром --ca-cert)",
        );
    }
    text
}

/// A page as the client accepts it: good records, quarantined ones, and the new cursor.
#[derive(Debug, Default)]
pub struct ParsedPage {
    pub appeals: Vec<Appeal>,
    pub problems: Vec<Problem>,
    pub quarantined: Vec<Quarantined>,
    pub next: i64,
    pub has_more: bool,
}

fn truncate(text: &str) -> String {
    text.chars().take(QUARANTINE_RAW_CHARS).collect()
}

/// A record of a page that passed its checks.
enum Checked {
    /// Boxed as it was decoded (an appeal is large).
    Appeal(Box<Appeal>),
    Problem(Problem),
}

fn check_point(point: Option<GeoPoint>, bbox: Option<&BoundingBox>) -> Result<(), String> {
    if let Some(p) = point {
        let inside = p.lat.is_finite()
            && p.lon.is_finite()
            && bbox.is_none_or(|b| b.contains(p.lat, p.lon))
            && (-90.0..=90.0).contains(&p.lat)
            && (-180.0..=180.0).contains(&p.lon);
        if !inside {
            return Err(format!("координаты ({}, {}) вне региона", p.lat, p.lon));
        }
    }
    Ok(())
}

/// Checks one parsed record of a page; the error is the reason to quarantine it.
fn check_change(change: Change, bbox: Option<&BoundingBox>) -> Result<Checked, String> {
    let appeal = match change.data {
        ChangeData::Appeal(appeal) => appeal,
        ChangeData::Problem(problem) => {
            if problem.id != change.id || problem.version != change.version {
                return Err(format!(
                    "номер или версия записи ({}, {}) не совпадают с проблемой ({}, {})",
                    change.id, change.version, problem.id, problem.version
                ));
            }
            check_point(problem.point, bbox)?;
            let chars = problem.title.chars().count();
            if chars > MAX_RECORD_TEXT_CHARS {
                return Err(format!(
                    "название проблемы длиннее {MAX_RECORD_TEXT_CHARS} символов ({chars})"
                ));
            }
            return Ok(Checked::Problem(problem));
        }
    };
    if appeal.id != change.id || appeal.version != change.version {
        return Err(format!(
            "номер или версия записи ({}, {}) не совпадают с обращением ({}, {})",
            change.id, change.version, appeal.id, appeal.version
        ));
    }
    check_point(appeal.point, bbox)?;
    let chars = appeal.text.chars().count();
    if chars > MAX_RECORD_TEXT_CHARS {
        return Err(format!(
            "текст длиннее {MAX_RECORD_TEXT_CHARS} символов ({chars})"
        ));
    }
    Ok(Checked::Appeal(appeal))
}

/// A page as it comes over the wire; each record is kept as its raw text until it is checked
/// on its own, so one bad record does not spoil the page.
#[derive(serde::Deserialize)]
struct WirePage<'a> {
    #[serde(borrow)]
    changes: Vec<&'a serde_json::value::RawValue>,
    next: i64,
    has_more: bool,
}

/// Why a page that is valid JSON is not a page of the protocol.
fn page_shape_error(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return "не JSON".into();
    };
    if !value.get("changes").is_some_and(Value::is_array) {
        "нет списка changes".into()
    } else if !value.get("next").is_some_and(Value::is_i64) {
        "нет целого next".into()
    } else if !value.get("has_more").is_some_and(Value::is_boolean) {
        "нет has_more".into()
    } else {
        "страница не по протоколу".into()
    }
}

/// Parses a page body. A page that is not what the protocol says is an error as a whole; a
/// record inside a good page that is wrong is quarantined.
pub fn parse_page(
    body: &[u8],
    after: i64,
    bbox: Option<&BoundingBox>,
) -> Result<ParsedPage, SyncError> {
    let malformed = |reason: String| SyncError::MalformedPage { after, reason };
    let wire: WirePage = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            malformed(page_shape_error(body))
        } else {
            malformed(format!("не JSON: {e}"))
        }
    })?;
    if wire.next < after {
        return Err(malformed(format!(
            "курсор пошёл назад: {} < {after}",
            wire.next
        )));
    }
    let mut page = ParsedPage {
        next: wire.next,
        has_more: wire.has_more,
        appeals: Vec::with_capacity(wire.changes.len()),
        ..ParsedPage::default()
    };
    for raw in wire.changes {
        let (seq, checked) = match serde_json::from_str::<Change>(raw.get()) {
            Ok(change) => (Some(change.seq), check_change(change, bbox)),
            Err(e) => {
                // Not a change we understand: still find its place in the feed if it has one.
                let seq = serde_json::from_str::<Value>(raw.get())
                    .ok()
                    .and_then(|v| v.get("seq").and_then(Value::as_i64));
                (seq, Err(format!("запись не разобрана: {e}")))
            }
        };
        if seq.is_some_and(|s| s <= after || s > wire.next) {
            return Err(malformed(format!(
                "запись {seq:?} вне страницы ({after}, {}]",
                wire.next
            )));
        }
        match checked {
            Ok(Checked::Appeal(appeal)) => page.appeals.push(*appeal),
            Ok(Checked::Problem(problem)) => page.problems.push(problem),
            Err(reason) => page.quarantined.push(Quarantined {
                seq,
                reason,
                raw: truncate(raw.get()),
            }),
        }
    }
    Ok(page)
}

/// Whether to ask the server for gzip: yes across a network, no on this machine, where
/// compressing and decompressing a million records costs far more than moving them.
pub fn wants_compression(base: &str) -> bool {
    let rest = base.split_once("://").map_or(base, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// Talks to one server with one token.
pub struct SyncClient {
    http: Client,
    base: String,
    token: String,
}

impl SyncClient {
    pub fn new(base: &str, token: &str) -> Result<SyncClient, SyncError> {
        SyncClient::with_ca_certificate(base, token, None)
    }

    /// A client that also trusts the certificates in the PEM file `ca_cert` (the centre's own
    /// certificate authority, or a server's self-signed certificate) for `https://` servers.
    pub fn with_ca_certificate(
        base: &str,
        token: &str,
        ca_cert: Option<&Path>,
    ) -> Result<SyncClient, SyncError> {
        SyncClient::with_options(base, token, ca_cert, wants_compression(base))
    }

    /// A client that asks for gzip or not as told (the others decide by the address).
    pub fn with_options(
        base: &str,
        token: &str,
        ca_cert: Option<&Path>,
        gzip: bool,
    ) -> Result<SyncClient, SyncError> {
        let mut builder = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .gzip(gzip);
        if let Some(path) = ca_cert {
            let bad = |reason: String| SyncError::CaCertificate {
                path: path.to_path_buf(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad(
                    "в файле нет ни одного сертификата PEM (BEGIN CERTIFICATE)".into(),
                ));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|source| SyncError::Unreachable {
            url: base.to_string(),
            source,
        })?;
        Ok(SyncClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
        })
    }

    fn get(&self, path: &str) -> Result<String, SyncError> {
        let body = self.get_bytes(path)?;
        String::from_utf8(body).map_err(|e| SyncError::Server {
            status: 200,
            message: format!("ответ {path} не в UTF-8: {e}"),
        })
    }

    fn get_bytes(&self, path: &str) -> Result<Vec<u8>, SyncError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .map_err(|source| SyncError::Unreachable {
                url: url.clone(),
                source,
            })?;
        read_body(response, &url)
    }

    /// The role of this client's token, as the server knows it (`None` from a server too old to
    /// say).
    pub fn role(&self) -> Result<Option<String>, SyncError> {
        match self.get("/api/v1/whoami") {
            Ok(body) => Ok(serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("role").and_then(Value::as_str).map(String::from))),
            Err(SyncError::Server { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Checks that the server speaks our API version; returns what its health says.
    pub fn handshake(&self) -> Result<ServerHealth, SyncError> {
        let caps: Value =
            serde_json::from_str(&self.get("/api/v1/capabilities")?).map_err(|e| {
                SyncError::Server {
                    status: 200,
                    message: format!("ответ capabilities не разобран: {e}"),
                }
            })?;
        let server = caps.get("api_version").and_then(Value::as_u64).unwrap_or(0);
        let min_client = caps
            .get("min_client_api_version")
            .and_then(Value::as_u64)
            .unwrap_or(server);
        if min_client > CLIENT_API_VERSION {
            return Err(SyncError::NewerServer {
                server,
                client: CLIENT_API_VERSION,
            });
        }
        let health: Value =
            serde_json::from_str(&self.get("/api/v1/health")?).unwrap_or(Value::Null);
        Ok(ServerHealth {
            latest_seq: health
                .get("latest_seq")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            pack_version: health
                .get("pack_version")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// The server's pack: the copy kept beside the replica when it is the version the server
    /// announces (no download, no rewrite of the replica's reference tables), else fetched.
    pub fn current_pack(
        &self,
        store: &mut Store,
        announced: Option<&str>,
    ) -> Result<RegionPack, SyncError> {
        if let Some(version) = announced
            && store.sync_value("pack_hash")?.as_deref() == Some(version)
            && let Ok(kept) = RegionPack::load(pack_dir_for(store.path()))
            && kept.version_hash == version
        {
            return Ok(kept);
        }
        let pack = self.fetch_pack(store)?;
        store.write_reference(&pack)?;
        Ok(pack)
    }

    /// The region pack the server computes with, kept beside the replica for offline use.
    pub fn fetch_pack(&self, store: &Store) -> Result<RegionPack, SyncError> {
        let body: Value = serde_json::from_str(&self.get("/api/v1/pack")?)
            .map_err(|e| SyncError::BadPack(format!("ответ не разобран: {e}")))?;
        let hash = body
            .get("version_hash")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let files = body
            .get("files")
            .and_then(Value::as_object)
            .ok_or_else(|| SyncError::BadPack("нет файлов".into()))?;
        let dir = pack_dir_for(store.path());
        let tmp = dir.with_extension("pack.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| SyncError::BadPack(e.to_string()))?;
        for (name, text) in files {
            // Only plain file names: a server must not write outside the pack directory.
            if name.contains('/') || name.contains('\\') || name.starts_with('.') {
                return Err(SyncError::BadPack(format!(
                    "недопустимое имя файла «{name}»"
                )));
            }
            let text = text
                .as_str()
                .ok_or_else(|| SyncError::BadPack(format!("{name}: не текст")))?;
            std::fs::write(tmp.join(name), text).map_err(|e| SyncError::BadPack(e.to_string()))?;
        }
        let pack = RegionPack::load(&tmp).map_err(|e| SyncError::BadPack(e.to_string()))?;
        if pack.version_hash != hash {
            return Err(SyncError::BadPack("хеш версии не совпал".into()));
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&tmp, &dir).map_err(|e| SyncError::BadPack(e.to_string()))?;
        store.set_sync_value("pack_hash", &hash)?;
        RegionPack::load(&dir).map_err(|e| SyncError::BadPack(e.to_string()))
    }

    /// One page after `after`, parsed; `wait_secs` long-polls when there is nothing new.
    pub fn page(
        &self,
        after: i64,
        wait_secs: u64,
        bbox: Option<&BoundingBox>,
    ) -> Result<ParsedPage, SyncError> {
        let body = self.get_bytes(&format!(
            "/api/v1/changes?after={after}&limit={PAGE_LIMIT}&wait={wait_secs}"
        ))?;
        parse_page(&body, after, bbox)
    }

    /// Delivers the outbox; every answer is recorded against its action.
    pub fn push_outbox(&self, store: &Store) -> Result<PushReport, SyncError> {
        let mut report = PushReport::default();
        let pending = store.pending_actions()?;
        for chunk in pending.chunks(500) {
            let actions: Vec<Value> = chunk
                .iter()
                .filter_map(|a| serde_json::from_str::<Value>(&a.payload).ok())
                .collect();
            let url = format!("{}/api/v1/actions", self.base);
            let response = self
                .http
                .post(&url)
                .bearer_auth(&self.token)
                .json(&serde_json::json!({ "actions": actions }))
                .send()
                .map_err(|source| SyncError::Unreachable {
                    url: url.clone(),
                    source,
                })?;
            let body = read_body(response, &url)?;
            let answer: ActionsResponse =
                serde_json::from_slice(&body).map_err(|e| SyncError::Server {
                    status: 200,
                    message: format!("ответ на действия не разобран: {e}"),
                })?;
            for result in answer.results {
                let (state, detail) = describe(&result.outcome);
                store.mark_action(&result.id, state, detail.as_deref())?;
                report.count(state);
            }
        }
        Ok(report)
    }
}

fn describe(outcome: &ActionOutcome) -> (&'static str, Option<String>) {
    match outcome {
        ActionOutcome::Applied { .. } => ("applied", None),
        ActionOutcome::Duplicate { first } => match first.as_ref() {
            ActionOutcome::Applied { .. } => ("duplicate", None),
            other => describe(other),
        },
        ActionOutcome::Conflict { current_version } => (
            "conflict",
            Some(format!(
                "обращение изменилось (версия {current_version}): проверьте и повторите"
            )),
        ),
        ActionOutcome::Rejected { reason } => ("rejected", Some(reason.clone())),
    }
}

fn read_body(response: reqwest::blocking::Response, url: &str) -> Result<Vec<u8>, SyncError> {
    let status = response.status();
    let body = response.bytes().map_err(|source| SyncError::Unreachable {
        url: url.to_string(),
        source,
    })?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
    if status.as_u16() == 401 || status.as_u16() == 403 {
        Err(SyncError::Refused {
            status: status.as_u16(),
            message,
        })
    } else {
        Err(SyncError::Server {
            status: status.as_u16(),
            message,
        })
    }
}

/// The directory where a replica keeps the server's pack: `<replica>.pack` beside it.
pub fn pack_dir_for(replica: &Path) -> PathBuf {
    let mut name = replica.file_name().unwrap_or_default().to_os_string();
    name.push(".pack");
    replica.with_file_name(name)
}

/// What a server's health endpoint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHealth {
    pub latest_seq: i64,
    /// The version hash of the region pack the server computes with.
    pub pack_version: Option<String>,
}

/// What pushing the outbox did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub applied: u64,
    pub duplicate: u64,
    pub conflict: u64,
    pub rejected: u64,
}

impl PushReport {
    fn count(&mut self, state: &str) {
        match state {
            "applied" => self.applied += 1,
            "duplicate" => self.duplicate += 1,
            "conflict" => self.conflict += 1,
            _ => self.rejected += 1,
        }
    }
}

/// What one full sync did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SyncReport {
    pub pages: u64,
    pub written: u64,
    pub quarantined: u64,
    pub cursor: i64,
    pub pushed: PushReport,
    /// Whether this was an initial bulk load (then `changed_*` are left empty: read the replica).
    pub bulk: bool,
    /// What the analytics need of every appeal and problem record the pull brought, in order,
    /// so the app's read model follows without reading the replica again.
    pub changed_appeals: Vec<AppealFacts>,
    pub changed_problems: Vec<ProblemInfo>,
}

/// Pages fetched and parsed ahead of the one being written.
const PAGES_AHEAD: usize = 2;

/// Pulls pages until the server has no more; returns the cursor reached. A fetcher thread
/// downloads and parses the next pages while this one writes the current page, so the network,
/// JSON and SQLite work overlap; pages are still applied strictly in order, each with its cursor.
fn pull_pages(
    client: &SyncClient,
    store: &mut Store,
    pack: &RegionPack,
    latest: i64,
    long_poll_secs: u64,
    report: &mut SyncReport,
    progress: &mut dyn FnMut(i64, i64),
) -> Result<i64, SyncError> {
    let start = store.cursor()?;
    let bbox = pack.region.bbox;
    std::thread::scope(|scope| {
        let (pages_tx, pages) = std::sync::mpsc::sync_channel(PAGES_AHEAD);
        let fetcher = std::thread::Builder::new().name("tsur-sync-fetch".into());
        fetcher.spawn_scoped(scope, move || {
            let (mut after, mut wait) = (start, long_poll_secs);
            loop {
                let page = client.page(after, wait, Some(&bbox));
                wait = 0;
                let more = match &page {
                    Ok(p) => {
                        after = p.next;
                        p.has_more
                    }
                    Err(_) => false,
                };
                // A closed channel means the writer stopped (it failed): stop fetching.
                if pages_tx.send(page).is_err() || !more {
                    return;
                }
            }
        })?;
        for page in pages {
            let page: ParsedPage = page?;
            report.pages += 1;
            report.written +=
                store.apply_page(&page.appeals, &page.problems, &page.quarantined, page.next)?
                    as u64;
            report.quarantined += page.quarantined.len() as u64;
            if !report.bulk {
                report
                    .changed_appeals
                    .extend(page.appeals.iter().map(AppealFacts::of));
                report
                    .changed_problems
                    .extend(page.problems.iter().map(ProblemInfo::of));
            }
            let cursor = store.cursor()?;
            progress(cursor, latest.max(cursor));
            if !page.has_more {
                return Ok(cursor);
            }
        }
        // The fetcher always ends with a last page or an error; this is only a safe answer.
        Ok(store.cursor()?)
    })
}

/// Pushes the outbox, then pulls every page until caught up. The first page long-polls up to
/// `long_poll_secs` when there is nothing new (0: answer at once). `progress(cursor, latest)` is
/// called after each page.
pub fn sync_once(
    client: &SyncClient,
    store: &mut Store,
    long_poll_secs: u64,
    progress: &mut dyn FnMut(i64, i64),
) -> Result<SyncReport, SyncError> {
    let health = client.handshake()?;
    let latest = health.latest_seq;
    let pack = client.current_pack(store, health.pack_version.as_deref())?;
    let mut report = SyncReport {
        pushed: client.push_outbox(store)?,
        ..SyncReport::default()
    };
    let mut cursor = store.cursor()?;
    // An initial sync into an empty replica loads in bulk: indexes are built once at the end.
    let bulk = cursor == 0 && latest > 0 && store.is_empty()?;
    if bulk {
        store.begin_bulk_load()?;
    }
    report.bulk = bulk;
    let pulled = pull_pages(
        client,
        store,
        &pack,
        latest,
        long_poll_secs,
        &mut report,
        progress,
    );
    // Also after a failure: the replica stays fully indexed whatever happened.
    let ended = if bulk { store.end_bulk_load() } else { Ok(()) };
    cursor = pulled?;
    ended?;
    report.cursor = cursor;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_asked_for_across_a_network_only() {
        for local in [
            "http://127.0.0.1:8480",
            "https://127.0.0.1",
            "http://localhost:8480/",
            "http://LOCALHOST",
            "http://[::1]:8480",
            "http://127.5.5.5:1/x",
        ] {
            assert!(!wants_compression(local), "{local}");
        }
        for remote in [
            "https://tsur.cur74.ru",
            "http://10.0.0.5:8480",
            "http://[2001:db8::1]:8480",
            "https://localhost.example.org",
        ] {
            assert!(wants_compression(remote), "{remote}");
        }
    }
}
