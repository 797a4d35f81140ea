//! HTTP API v1 (JSON, gzip, `X-Tsur-Api` version header on every response).
//!
//! - `GET  /api/v1/capabilities` and `GET /api/v1/health` — public, no data;
//! - `GET  /api/v1/pack` — the region pack's files and version hash;
//! - `GET  /api/v1/changes?after=SEQ&limit=N&wait=SECS` — the change feed, long-polling up to 30 s;
//! - `POST /api/v1/ingest` — connectors push appeals, idempotent by (source, external id);
//! - `POST /api/v1/actions` — operator actions, each applied exactly once by its UUID.
//!
//! Every endpoint with data takes a bearer token; scope and personal-data masking are applied
//! here, per token, and a request that returns personal data is audited once.

use crate::auth::{Principal, Privacy, Role};
use crate::enrich::Enricher;
use crate::storage::{IngestOutcome, Storage, StorageError};
use crate::{actions, ingest};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tsur_core::deadline::DeadlineEngine;
use tsur_core::domain::ProblemId;
use tsur_core::pack::{PACK_FILES, RegionPack};
use tsur_core::problems::ProblemChanges;
use tsur_core::sync::{Action, ActionKind, ActionOutcome, ActionResult, ActionsResponse};

/// The API version this server speaks; clients refuse a newer one politely.
/// 2: problems in the feed, `grouped` events, actions on problems.
pub const API_VERSION: u32 = 2;
/// The header that carries it.
pub const API_VERSION_HEADER: &str = "x-tsur-api";
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Largest page of the change feed.
pub const MAX_PAGE: u32 = 5_000;
/// Longest long-poll.
pub const MAX_WAIT_SECS: u64 = 30;
/// How often a long-poll looks at a database shared with other server processes.
const POLL_SHARED: Duration = Duration::from_millis(250);

/// What the handlers share.
pub struct ServerState {
    pub storage: Storage,
    pub pack: RegionPack,
    pub engine: DeadlineEngine,
    /// The pack's files as text, served to clients.
    pub pack_files: BTreeMap<String, String>,
    /// The latest sequence, so long-polls wake up when a change commits.
    pub latest_seq: watch::Sender<i64>,
    /// Repeat links and suggested classifications at ingest (see [`crate::enrich`]).
    pub enricher: std::sync::Mutex<Enricher>,
}

impl ServerState {
    /// The enricher, even if a thread panicked while holding it (its state is only a cache of
    /// what is stored).
    pub fn enricher(&self) -> std::sync::MutexGuard<'_, Enricher> {
        self.enricher
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ServerState {
    pub fn new(storage: Storage, pack: RegionPack) -> Result<ServerState, ApiError> {
        let mut pack_files = BTreeMap::new();
        for name in PACK_FILES {
            let text = std::fs::read_to_string(pack.dir.join(name))
                .map_err(|e| ApiError::internal(format!("пакет региона: {name}: {e}")))?;
            pack_files.insert((*name).to_string(), text);
        }
        let latest = storage.latest_seq()?;
        let enricher = Enricher::from_storage(&storage, &pack)?;
        Ok(ServerState {
            engine: pack.deadline_engine(),
            enricher: std::sync::Mutex::new(enricher),
            storage,
            pack,
            pack_files,
            latest_seq: watch::channel(latest).0,
        })
    }
}

/// An error as the API reports it: a status, a stable code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type Shared = Arc<ServerState>;

/// Runs blocking storage work off the async threads.
async fn blocking<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&ServerState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(&state))
        .await
        .map_err(|e| ApiError::internal(format!("фоновая задача прервана: {e}")))?
}

async fn authenticate(state: &Shared, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("нужен заголовок Authorization: Bearer <токен>"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized("заголовок Authorization должен быть вида Bearer <токен>")
        })?
        .to_string();
    blocking(state, move |s| Ok(s.storage.principal(&token)?))
        .await?
        .ok_or_else(|| ApiError::unauthorized("токен неизвестен или отозван"))
}

/// The router with every endpoint and layer.
pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/api/v1/capabilities", get(capabilities))
        .route("/api/v1/health", get(health))
        .route("/api/v1/pack", get(pack))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/changes", get(changes))
        .route("/api/v1/ingest", post(ingest_appeals))
        .route("/api/v1/actions", post(post_actions))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestDecompressionLayer::new())
        // The fastest gzip level: feed pages are large and repetitive, so it still shrinks them
        // several times over, at a fraction of the CPU of the default level.
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(axum::middleware::map_response(with_version_header))
        .with_state(state)
}

async fn with_version_header(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from(API_VERSION));
    response
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "нет такого адреса API")
}

async fn capabilities(State(state): State<Shared>) -> Json<Value> {
    Json(json!({
        "api_version": API_VERSION,
        "min_client_api_version": 2,
        "server_version": env!("CARGO_PKG_VERSION"),
        "storage": state.storage.backend_name(),
        "endpoints": ["capabilities", "health", "pack", "changes", "ingest", "actions", "whoami"],
        "actions": ["take", "assign", "classify", "route", "set_status", "answer", "escalate", "extend",
                    "merge_into_problem", "mark_duplicate", "reopen", "note",
                    "confirm_problem", "split_problem", "merge_problems"],
        "max_page": MAX_PAGE,
        "max_wait_secs": MAX_WAIT_SECS,
        "roles": Role::ALL.iter().map(|r| r.code()).collect::<Vec<_>>(),
    }))
}

async fn health(State(state): State<Shared>) -> Result<Json<Value>, ApiError> {
    let latest = blocking(&state, |s| Ok(s.storage.latest_seq()?)).await?;
    Ok(Json(json!({
        "status": "ok",
        "storage": state.storage.backend_name(),
        "latest_seq": latest,
        "pack_version": state.pack.version_hash,
    })))
}

/// The token's own role and scope, so that a client can refuse a token it must not use (the video
/// wall syncs only with a wall token).
async fn whoami(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    Ok(Json(json!({
        "user": principal.user,
        "role": principal.role.code(),
        "blocks": principal.blocks,
        "municipalities": principal.municipalities,
    })))
}

async fn pack(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authenticate(&state, &headers).await?;
    Ok(Json(json!({
        "region": state.pack.region.id,
        "version_hash": state.pack.version_hash,
        "files": state.pack_files,
    })))
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    wait: Option<u64>,
}

async fn changes(
    State(state): State<Shared>,
    headers: HeaderMap,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("параметры запроса: {e}")))?;
    if q.after < 0 {
        return Err(ApiError::bad_request("after не может быть отрицательным"));
    }
    let limit = q.limit.unwrap_or(1_000).clamp(1, MAX_PAGE);
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    let mut receiver = state.latest_seq.subscribe();
    let fetch = |principal: Principal| {
        let state = state.clone();
        async move {
            blocking(&state, move |s| {
                Ok(s.storage.changes(&principal, q.after, limit)?)
            })
            .await
        }
    };
    let mut page = fetch(principal.clone()).await?;
    if page.changes.is_empty() && !page.has_more && !wait.is_zero() {
        // Long-poll: wait for a commit beyond what this page covered, then look again. Another
        // server process on the same database does not wake the in-process channel, so with a
        // shared backend the database itself is also checked every POLL_SHARED.
        let covered = page.next;
        let shared = state.storage.shared_between_processes();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            let slice = if shared {
                (deadline - now).min(POLL_SHARED)
            } else {
                deadline - now
            };
            // (Reduced to a bool at once: the watch guard must not live across the next await.)
            let woke = tokio::time::timeout(slice, receiver.wait_for(|seq| *seq > covered))
                .await
                .is_ok_and(|r| r.is_ok());
            if !woke && !shared {
                break;
            }
            page = fetch(principal.clone()).await?;
            if woke || !page.changes.is_empty() || page.has_more || page.next > covered {
                break;
            }
        }
    }
    if principal.role.privacy() == Privacy::Full && !page.changes.is_empty() {
        let records = page.changes.len();
        let audited = principal.clone();
        blocking(&state, move |s| {
            Ok(s.storage.audit(&audited, "changes", records)?)
        })
        .await?;
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        page.to_json(),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct IngestBody {
    appeals: Vec<Value>,
}

#[derive(Debug, Serialize)]
struct IngestResponse {
    results: Vec<IngestOutcome>,
    latest_seq: i64,
}

async fn ingest_appeals(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<IngestBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    if !matches!(principal.role, Role::Curator | Role::Head) {
        return Err(ApiError::forbidden(format!(
            "роль «{}» не может загружать обращения",
            principal.role
        )));
    }
    let Json(body) = body.map_err(json_rejection)?;
    let response = blocking(&state, move |s| {
        let prepared = body
            .appeals
            .into_iter()
            .map(|v| ingest::prepare_value(&s.pack, &s.engine, v))
            .collect();
        let results = s.enricher().ingest(&s.storage, prepared)?;
        let latest_seq = s.storage.latest_seq()?;
        Ok(IngestResponse {
            results,
            latest_seq,
        })
    })
    .await?;
    state.latest_seq.send_replace(response.latest_seq);
    Ok(Json(response))
}

/// The largest batch of actions in one request.
pub const MAX_ACTIONS: usize = 5_000;

/// `POST /api/v1/actions`: each action is judged on its own and answered in order. A malformed
/// item (unknown kind, missing field) is rejected with its reason; the others still apply.
async fn post_actions(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ActionsResponse>, ApiError> {
    let principal = authenticate(&state, &headers).await?;
    let Json(body) = body.map_err(json_rejection)?;
    let items = body
        .get("actions")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| ApiError::bad_request("ожидается {\"actions\": [...]}"))?;
    if items.len() > MAX_ACTIONS {
        return Err(ApiError::bad_request(format!(
            "не больше {MAX_ACTIONS} действий за запрос"
        )));
    }
    let (response, latest) = blocking(&state, move |s| {
        let now = chrono::Utc::now();
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let id = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let action: Action = match serde_json::from_value(item) {
                Ok(action) => action,
                Err(e) => {
                    results.push(ActionResult {
                        id,
                        outcome: ActionOutcome::Rejected {
                            reason: format!("действие: {e}"),
                        },
                    });
                    continue;
                }
            };
            if uuid::Uuid::parse_str(&action.id).is_err() {
                results.push(ActionResult {
                    id: action.id.clone(),
                    outcome: ActionOutcome::Rejected {
                        reason: "id действия должен быть UUID".into(),
                    },
                });
                continue;
            }
            if let Some(problem) = action.kind.target_problem() {
                let outcome = act_on_problem(s, &principal, &action, problem, now)?;
                results.push(ActionResult {
                    id: action.id,
                    outcome,
                });
                continue;
            }
            if action.appeal_id == 0 {
                results.push(ActionResult {
                    id: action.id,
                    outcome: ActionOutcome::Rejected {
                        reason: "действие над обращением без appeal_id".into(),
                    },
                });
                continue;
            }
            // Held through the action, so that ingest (which moves appeals into problems) and
            // operators' actions on one appeal never interleave in this process.
            let mut enricher = s.enricher();
            if let ActionKind::MergeIntoProblem { problem } = &action.kind
                && s.storage.action_outcome(&action.id)?.is_none()
                && let Err(reason) = enricher.live_problem(*problem)
            {
                // Not recorded: the same action may apply once the problem exists.
                results.push(ActionResult {
                    id: action.id,
                    outcome: ActionOutcome::Rejected { reason },
                });
                continue;
            }
            let outcome = s.storage.act(&principal, &action, |appeal| {
                actions::apply(appeal, &action.kind, &principal, &s.pack, &s.engine, now)
            })?;
            if matches!(outcome, ActionOutcome::Applied { .. }) {
                // An answer or a classification changes what later appeals are matched with.
                if let Some(changed) = s
                    .storage
                    .appeals_after(action.appeal_id - 1, 1)?
                    .into_iter()
                    .find(|a| a.id == action.appeal_id)
                {
                    enricher.remember(&changed);
                }
            }
            drop(enricher);
            results.push(ActionResult {
                id: action.id,
                outcome,
            });
        }
        Ok((ActionsResponse { results }, s.storage.latest_seq()?))
    })
    .await?;
    state.latest_seq.send_replace(latest);
    Ok(Json(response))
}

/// An operator's action on a problem (confirm, split, merge), exactly once by its id. The
/// problem's version is the one the clustering holds; the enricher's lock keeps two actions on one
/// problem in order.
fn act_on_problem(
    s: &ServerState,
    principal: &Principal,
    action: &Action,
    problem: ProblemId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ActionOutcome, ApiError> {
    let mut enricher = s.enricher();
    if let Some(first) = s.storage.action_outcome(&action.id)? {
        return Ok(ActionOutcome::Duplicate {
            first: Box::new(first),
        });
    }
    let record = |outcome: ActionOutcome, changes: &ProblemChanges| {
        s.storage
            .write_problems(changes, &principal.user, now, Some((action, &outcome)))
            .map(|()| outcome)
    };
    // The clustering changes in memory before the write: if the write fails, it is learnt
    // again from what is stored, so memory never holds what storage does not.
    let relearn = |enricher: &mut Enricher, error: StorageError| -> ApiError {
        match Enricher::from_storage(&s.storage, &s.pack) {
            Ok(fresh) => *enricher = fresh,
            Err(e) => return e.into(),
        }
        error.into()
    };
    let rejected = |reason: String| {
        record(
            ActionOutcome::Rejected { reason },
            &ProblemChanges::default(),
        )
    };
    if !principal.role.may_act() {
        return Ok(rejected(format!(
            "роль «{}» не может изменять проблемы",
            principal.role
        ))?);
    }
    let mut targets = vec![problem];
    if let ActionKind::MergeProblems { into, .. } = &action.kind {
        targets.push(*into);
    }
    for target in &targets {
        let Some(p) = enricher.problems.problem(*target) else {
            return Ok(rejected(format!("нет проблемы {target}"))?);
        };
        let visible = principal.sees(
            p.block.as_ref().map(|b| b.as_str()),
            p.municipality.as_ref().map(|m| m.as_str()),
        );
        if !visible {
            return Ok(rejected(format!("проблема {target} вне вашей зоны"))?);
        }
    }
    let current = enricher.problems.problem(problem).map_or(0, |p| p.version);
    if current != action.base_version {
        return Ok(record(
            ActionOutcome::Conflict {
                current_version: current,
            },
            &ProblemChanges::default(),
        )?);
    }
    let result = match &action.kind {
        ActionKind::ConfirmProblem { title, .. } => {
            enricher.problems.confirm(problem, title.as_deref())
        }
        ActionKind::SplitProblem { appeals, title, .. } => {
            let new = s.storage.reserve_problem_id()?;
            enricher
                .problems
                .split(problem, appeals, title.as_deref(), &mut || new)
        }
        ActionKind::MergeProblems { into, .. } => enricher.problems.merge(problem, *into),
        _ => Err("не действие над проблемой".to_string()),
    };
    Ok(match result {
        Err(reason) => rejected(reason)?,
        Ok(changes) => {
            let version = changes
                .problems
                .iter()
                .find(|p| p.id == problem)
                .map_or(current, |p| p.version);
            record(ActionOutcome::Applied { version }, &changes)
                .map_err(|e| relearn(&mut enricher, e))?
        }
    })
}

fn json_rejection(e: axum::extract::rejection::JsonRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "тело запроса больше {} МБ: разбейте пакет на части",
                MAX_BODY_BYTES / (1024 * 1024)
            ),
        )
    } else {
        ApiError::bad_request(format!("тело запроса: {}", e.body_text()))
    }
}

/// Serves the API on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ServerState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves the API over HTTPS with `config` (see [`crate::tls::server_config`]) until `shutdown`.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    config: Arc<tokio_rustls::rustls::ServerConfig>,
    state: Arc<ServerState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = crate::tls::TlsListener::new(listener, config)?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
