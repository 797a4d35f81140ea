//! The HTTP API on a real server bound to 127.0.0.1, every test on both backends: SQLite on disk
//! and PostgreSQL in a fresh schema (`sqlite::…` and `postgres::…`; see `common` for when the
//! PostgreSQL ones skip).

mod common;

use chrono::NaiveDate;
use common::PgSchema;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;
use tsur_server::api::{self, API_VERSION_HEADER, ServerState};
use tsur_server::auth::Role;
use tsur_server::ingest::{self, IngestAppeal};
use tsur_server::storage::Storage;

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

struct TestServer {
    url: String,
    state: Arc<ServerState>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// Dropped last: the schema goes after the server stops using it.
    _schema: Option<PgSchema>,
}

impl TestServer {
    /// A server seeded with `appeals` demo appeals (ingested, like `seed-demo`).
    /// `None` when the backend is PostgreSQL and none is reachable (the reason is printed).
    async fn start(backend: Backend, appeals: u64) -> Option<TestServer> {
        let dir = tempfile::tempdir().unwrap();
        let schema = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgSchema::create("api").await?),
        };
        let url = match &schema {
            None => format!("sqlite:{}", dir.path().join("server.sqlite").display()),
            Some(schema) => schema.url.clone(),
        };
        Self::start_on(&url, dir, schema, appeals).await
    }

    async fn start_on(
        url: &str,
        dir: tempfile::TempDir,
        schema: Option<PgSchema>,
        appeals: u64,
    ) -> Option<TestServer> {
        let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
        let storage = Storage::open(url).unwrap();
        if appeals > 0 {
            let replica = dir.path().join("demo.sqlite");
            let params = DemoParams {
                appeals,
                seed: 21,
                now_utc: DemoParams::now_for_date(
                    &pack,
                    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
                ),
            };
            write_demo_replica(&pack, &params, &replica, false, &mut |_, _| true).unwrap();
            let store = Store::open_existing(&replica).unwrap();
            let engine = pack.deadline_engine();
            let items = (1..=appeals as i64)
                .map(|id| {
                    ingest::prepare(
                        &pack,
                        &engine,
                        IngestAppeal::from_appeal(store.load_appeal(id).unwrap().unwrap()),
                    )
                })
                .collect();
            storage.ingest(items).unwrap();
        }
        let state = Arc::new(ServerState::new(storage, pack).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(api::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Some(TestServer {
            url,
            state,
            http: reqwest::Client::new(),
            _dir: dir,
            _shutdown: tx,
            _schema: schema,
        })
    }

    fn token(&self, user: &str, role: Role, blocks: &[&str], municipalities: &[&str]) -> String {
        let blocks: Vec<String> = blocks.iter().map(|s| s.to_string()).collect();
        let municipalities: Vec<String> = municipalities.iter().map(|s| s.to_string()).collect();
        self.state
            .storage
            .create_token(user, role, &blocks, &municipalities)
            .unwrap()
            .1
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()[API_VERSION_HEADER],
            "2",
            "every response names the API version"
        );
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn ingest(&self, token: &str, appeals: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/ingest", self.url))
            .bearer_auth(token)
            .json(&json!({ "appeals": appeals }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Every change visible to a token, page by page.
    async fn all_changes(&self, token: &str, limit: u32) -> (Vec<Value>, Vec<usize>) {
        let (mut after, mut out, mut pages) = (0, Vec::new(), Vec::new());
        loop {
            let (status, page) = self
                .get(
                    &format!("/api/v1/changes?after={after}&limit={limit}"),
                    Some(token),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let changes = page["changes"].as_array().unwrap().clone();
            pages.push(changes.len());
            let next = page["next"].as_i64().unwrap();
            assert!(next >= after, "the cursor only moves forward");
            after = next;
            let more = page["has_more"].as_bool().unwrap();
            out.extend(changes);
            if !more {
                return (out, pages);
            }
        }
    }
}

fn demo_item(external_id: &str) -> Value {
    json!({
        "source": "pos",
        "external_id": external_id,
        "channel": "pos",
        "received_utc": "2026-03-02T04:00:00Z",
        "registered_utc": "2026-03-02T04:00:00Z",
        "text": "Нет отопления в квартире. Звоните 8 912 345-67-89, Сидоров Пётр Ильич.",
        "author": { "name": "Сидоров Пётр Ильич", "phone": "+7 912 345-67-89", "email": "sidorov@mail.ru" },
        "address": "Челябинск, ул. Кирова, д. 1",
        "point": { "lat": 55.16, "lon": 61.40 },
        "municipality": "75701000",
        "topic": "zhkh.heating"
    })
}

async fn public_endpoints_and_authentication(backend: Backend) {
    let Some(server) = TestServer::start(backend, 20).await else {
        return;
    };
    let (status, caps) = server.get("/api/v1/capabilities", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(caps["api_version"], 2);
    let (status, health) = server.get("/api/v1/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["latest_seq"], 20);

    let (status, body) = server.get("/api/v1/changes", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let (status, _) = server.get("/api/v1/changes", Some("not-a-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server.get("/api/v1/pack", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let token = server.token("kurator", Role::Curator, &[], &[]);
    let (status, pack) = server.get("/api/v1/pack", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pack["version_hash"],
        server.state.pack.version_hash.as_str()
    );
    assert!(
        pack["files"]["calendar.csv"]
            .as_str()
            .unwrap()
            .contains("2026-01-09")
    );

    let id = server.state.storage.list_tokens().unwrap()[0].id;
    assert!(server.state.storage.revoke_token(id).unwrap());
    let (status, body) = server.get("/api/v1/changes", Some(&token)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused: {body}"
    );

    let (status, body) = server.get("/api/v1/nowhere", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
}

async fn the_feed_pages_cover_every_change_once_at_exact_multiples(backend: Backend) {
    let Some(server) = TestServer::start(backend, 300).await else {
        return;
    };
    let token = server.token("kurator", Role::Curator, &[], &[]);
    for limit in [100, 300, 7, 1_000] {
        let (changes, pages) = server.all_changes(&token, limit).await;
        let seqs: Vec<i64> = changes.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=300).collect::<Vec<_>>(), "limit {limit}");
        assert!(pages.iter().all(|n| *n as u32 <= limit));
        if limit == 100 {
            assert_eq!(
                pages,
                vec![100, 100, 100],
                "exact multiples end without an extra page"
            );
        }
    }
    // Past the end: an empty page, the cursor stays.
    let (status, page) = server.get("/api/v1/changes?after=300", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["changes"].as_array().unwrap().len(), 0);
    assert_eq!(page["next"], 300);
    assert_eq!(page["has_more"], false);
    // Replaying a page gives the same page.
    let (_, a) = server
        .get("/api/v1/changes?after=50&limit=25", Some(&token))
        .await;
    let (_, b) = server
        .get("/api/v1/changes?after=50&limit=25", Some(&token))
        .await;
    assert_eq!(a, b);

    for bad in ["after=-1", "after=abc", "limit=x"] {
        let (status, body) = server
            .get(&format!("/api/v1/changes?{bad}"), Some(&token))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "bad_request");
    }
}

async fn scopes_and_personal_data_follow_the_role(backend: Backend) {
    let Some(server) = TestServer::start(backend, 400).await else {
        return;
    };
    let zhkh = server.token("op", Role::Operator, &["zhkh"], &[]);
    let (changes, _) = server.all_changes(&zhkh, 500).await;
    assert!(!changes.is_empty());
    assert!(changes.iter().all(|c| c["data"]["block"] == "zhkh"));

    let magnitogorsk = server.token("mo", Role::MunicipalOperator, &[], &["75738000"]);
    let (changes, _) = server.all_changes(&magnitogorsk, 500).await;
    assert!(!changes.is_empty());
    assert!(
        changes
            .iter()
            .all(|c| c["data"]["municipality"] == "75738000")
    );

    let curator = server.token("kurator", Role::Curator, &[], &[]);
    let (all, _) = server.all_changes(&curator, 500).await;
    assert_eq!(all.len(), 400);
    let names: HashSet<String> = all
        .iter()
        .filter_map(|c| c["data"]["author"]["name"].as_str().map(String::from))
        .collect();
    let phones: Vec<String> = all
        .iter()
        .filter_map(|c| c["data"]["author"]["phone"].as_str().map(String::from))
        .collect();
    assert!(
        names.len() > 100 && !phones.is_empty(),
        "the curator sees authors"
    );

    let wall = server.token("wall", Role::Wall, &[], &[]);
    let (shown, _) = server.all_changes(&wall, 500).await;
    assert_eq!(
        shown.len(),
        400,
        "the wall sees everything, without personal data"
    );
    let wall_json = serde_json::to_string(&shown).unwrap();
    for c in &shown {
        assert_eq!(
            c["data"]["author"],
            json!({ "name": null, "phone": null, "email": null })
        );
        assert_eq!(c["data"]["text"], "");
        assert!(c["data"]["address"].is_null());
    }
    for name in names.iter().take(50) {
        assert!(
            !wall_json.contains(name.as_str()),
            "{name} reached the wall"
        );
    }
    for phone in phones.iter().take(50) {
        assert!(
            !wall_json.contains(phone.as_str()),
            "{phone} reached the wall"
        );
    }

    let analyst = server.token("an", Role::Analyst, &[], &[]);
    let (seen, _) = server.all_changes(&analyst, 500).await;
    assert_eq!(seen.len(), 400);
    for (c, full) in seen.iter().zip(&all) {
        assert!(c["data"]["author"]["name"].is_null());
        if let Some(name) = full["data"]["author"]["name"].as_str() {
            let text = c["data"]["text"].as_str().unwrap();
            for part in name.split_whitespace() {
                assert!(!text.contains(part), "{part} in an analyst's text: {text}");
            }
        }
    }

    // Audit: once per request that returned personal data, none for the wall or the analyst.
    let log = server.state.storage.audit_log().unwrap();
    assert!(log.iter().all(|(_, role, endpoint, records)| role != "wall"
        && role != "analyst"
        && endpoint == "changes"
        && *records > 0));
    let curator_requests = log.iter().filter(|(user, ..)| user == "kurator").count();
    assert_eq!(curator_requests, 1, "one page of 400 → one audit entry");
    let curator_records: i64 = log
        .iter()
        .filter(|(user, ..)| user == "kurator")
        .map(|(.., n)| *n)
        .sum();
    assert_eq!(curator_records, 400);
}

async fn ingest_is_idempotent_and_judges_each_item(backend: Backend) {
    let Some(server) = TestServer::start(backend, 0).await else {
        return;
    };
    let token = server.token("connector", Role::Head, &[], &[]);
    let (status, body) = server
        .ingest(&token, json!([demo_item("A-1"), demo_item("A-2")]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["outcome"], "created");
    assert_eq!(body["latest_seq"], 2);

    // The same again changes nothing; new content is a new version with a change in the feed.
    let (_, body) = server.ingest(&token, json!([demo_item("A-1")])).await;
    assert_eq!(body["results"][0]["outcome"], "unchanged");
    let mut edited = demo_item("A-1");
    edited["text"] = json!("Отопление так и не дали.");
    let (_, body) = server.ingest(&token, json!([edited])).await;
    assert_eq!(
        body["results"][0],
        json!({ "outcome": "updated", "id": 1, "version": 2 })
    );
    assert_eq!(body["latest_seq"], 3);

    // The server computes the deadline: ПОС, 10 working days from Mon 02.03.2026 → 17.03.2026.
    let (_, page) = server.get("/api/v1/changes?after=2", Some(&token)).await;
    assert_eq!(
        page["changes"][0]["data"]["due_utc"],
        "2026-03-17T19:00:00Z"
    );
    assert_eq!(
        page["changes"][0]["data"]["block"], "zhkh",
        "the block follows the topic"
    );

    let mut outside = demo_item("B-1");
    outside["point"] = json!({ "lat": 55.75, "lon": 37.62 });
    let mut unknown_topic = demo_item("B-2");
    unknown_topic["topic"] = json!("zhkh.teleportation");
    let mut bad_enum = demo_item("B-3");
    bad_enum["channel"] = json!("pigeon");
    let mut huge = demo_item("B-4");
    huge["text"] = json!("а".repeat(30_000));
    let mut wrong_type = demo_item("B-5");
    wrong_type["received_utc"] = json!(12345);
    let mut nan = demo_item("B-6");
    nan["point"] = json!({ "lat": "NaN", "lon": 61.0 });
    let (status, body) = server
        .ingest(&token, json!([outside, unknown_topic, bad_enum, huge, wrong_type, nan, {"garbage": true}, demo_item("B-7")]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    for (i, expected) in [
        "вне региона",
        "неизвестная тема",
        "pigeon",
        "длиннее",
        "B-5",
        "B-6",
        "без external_id",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(results[i]["outcome"], "rejected", "{i}: {}", results[i]);
        assert!(
            results[i]["reason"].as_str().unwrap().contains(expected),
            "{i}: {}",
            results[i]
        );
    }
    assert_eq!(
        results[7]["outcome"], "created",
        "one bad record does not stop the batch"
    );

    // Roles that may not ingest, and malformed bodies.
    let operator = server.token("op", Role::Operator, &["zhkh"], &[]);
    let (status, _) = server.ingest(&operator, json!([demo_item("C-1")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let response = server
        .http
        .post(format!("{}/api/v1/ingest", server.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"appeals\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
    let response = server
        .http
        .post(format!("{}/api/v1/ingest", server.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; api::MAX_BODY_BYTES + 10])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");
}

async fn a_long_poll_returns_as_soon_as_a_change_commits(backend: Backend) {
    let Some(server) = TestServer::start(backend, 5).await else {
        return;
    };
    let server = Arc::new(server);
    let token = server.token("kurator", Role::Curator, &[], &[]);
    // Nothing new: the poll waits its full time and returns an empty page.
    let started = Instant::now();
    let (_, page) = server
        .get("/api/v1/changes?after=5&wait=1", Some(&token))
        .await;
    assert!(page["changes"].as_array().unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));

    let poller = {
        let server = server.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let (_, page) = server
                .get("/api/v1/changes?after=5&wait=20", Some(&token))
                .await;
            (page, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = server.ingest(&token, json!([demo_item("LP-1")])).await;
    assert_eq!(status, StatusCode::OK);
    let (page, waited) = poller.await.unwrap();
    assert_eq!(page["changes"][0]["data"]["external_id"], "LP-1");
    assert!(waited < Duration::from_secs(10), "woke after {waited:?}");
}

impl TestServer {
    async fn act(&self, token: &str, actions: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/actions", self.url))
            .bearer_auth(token)
            .json(&json!({ "actions": actions }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The first appeal in a block with a given status, with its version.
    async fn find(&self, token: &str, block: &str, status: &str) -> (i64, i64) {
        let (changes, _) = self.all_changes(token, 5_000).await;
        let c = changes
            .iter()
            .rev()
            .find(|c| c["data"]["block"] == block && c["data"]["status"] == status)
            .unwrap_or_else(|| panic!("no {status} appeal in {block}"));
        (c["id"].as_i64().unwrap(), c["version"].as_i64().unwrap())
    }
}

fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

async fn actions_apply_once_conflict_on_stale_versions_and_respect_scope(backend: Backend) {
    let Some(server) = TestServer::start(backend, 600).await else {
        return;
    };
    let op = server.token("Оператор ЖКХ", Role::Operator, &["zhkh"], &[]);
    let (id, version) = server.find(&op, "zhkh", "in_progress").await;

    let take = json!({ "id": uuid(), "appeal_id": id, "base_version": version, "kind": "take" });
    let (status, body) = server.act(&op, json!([take.clone()])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["outcome"], "applied");
    assert_eq!(body["results"][0]["version"], version + 1);

    // The same action again (a retry after a lost answer) is not applied twice.
    let (_, body) = server.act(&op, json!([take])).await;
    assert_eq!(body["results"][0]["outcome"], "duplicate");
    assert_eq!(body["results"][0]["first"]["outcome"], "applied");

    // A stale base version is a conflict that names the current version.
    let stale = json!({ "id": uuid(), "appeal_id": id, "base_version": version, "kind": "escalate", "to": "block_head" });
    let (_, body) = server.act(&op, json!([stale])).await;
    assert_eq!(
        body["results"][0],
        json!({ "id": body["results"][0]["id"], "outcome": "conflict", "current_version": version + 1 })
    );

    let escalate = json!({ "id": uuid(), "appeal_id": id, "base_version": version + 1, "kind": "escalate", "to": "block_head", "why": "просрочено" });
    let (_, body) = server.act(&op, json!([escalate])).await;
    assert_eq!(body["results"][0]["outcome"], "applied");

    // The feed carries the result with who did it.
    let (changes, _) = server.all_changes(&op, 5_000).await;
    let last = changes.iter().rev().find(|c| c["id"] == id).unwrap();
    assert_eq!(last["version"], version + 2);
    assert_eq!(last["data"]["status"], "escalated");
    assert_eq!(last["data"]["assignee"], "Оператор ЖКХ");
    let events = last["data"]["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["to_status"], "escalated");
    assert_eq!(events.last().unwrap()["actor"], "Оператор ЖКХ");

    // An invalid transition names both states; nothing changes.
    let closed = json!({ "id": uuid(), "appeal_id": id, "base_version": version + 2, "kind": "set_status", "status": "closed" });
    let (_, body) = server.act(&op, json!([closed])).await;
    assert_eq!(body["results"][0]["outcome"], "rejected");
    let reason = body["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("Эскалировано") && reason.contains("Закрыто"),
        "{reason}"
    );

    // Out of scope, unknown kinds, bad ids and read-only roles are refused per item.
    let curator = server.token("kurator", Role::Curator, &[], &[]);
    let (roads_id, roads_version) = server.find(&curator, "roads", "in_progress").await;
    let items = json!([
        { "id": uuid(), "appeal_id": roads_id, "base_version": roads_version, "kind": "take" },
        { "id": uuid(), "appeal_id": id, "base_version": version + 2, "kind": "teleport" },
        { "id": "not-a-uuid", "appeal_id": id, "base_version": version + 2, "kind": "take" },
        { "id": uuid(), "appeal_id": 999_999, "base_version": 1, "kind": "take" },
        { "id": uuid(), "appeal_id": id, "base_version": version + 2, "kind": "note", "text": "Позвонили в УК" }
    ]);
    let (_, body) = server.act(&op, items).await;
    let r = body["results"].as_array().unwrap();
    assert!(
        r[0]["reason"].as_str().unwrap().contains("вне вашей зоны"),
        "{}",
        r[0]
    );
    assert!(
        r[1]["reason"].as_str().unwrap().contains("teleport"),
        "{}",
        r[1]
    );
    assert!(
        r[2]["reason"].as_str().unwrap().contains("UUID"),
        "{}",
        r[2]
    );
    assert!(
        r[3]["reason"].as_str().unwrap().contains("нет обращения"),
        "{}",
        r[3]
    );
    assert_eq!(
        r[4]["outcome"], "applied",
        "the good item in a bad batch applies"
    );

    let wall = server.token("wall", Role::Wall, &[], &[]);
    let (_, body) = server
        .act(
            &wall,
            json!([{ "id": uuid(), "appeal_id": id, "base_version": version + 3, "kind": "take" }]),
        )
        .await;
    assert!(
        body["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("не может изменять")
    );
    let (status, _) = server.act("nobody", json!([])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn two_clients_editing_one_case_get_one_applied_and_one_conflict(backend: Backend) {
    let Some(server) = TestServer::start(backend, 300).await else {
        return;
    };
    let server = Arc::new(server);
    let a = server.token("a", Role::Operator, &["zhkh"], &[]);
    let b = server.token("b", Role::Operator, &["zhkh"], &[]);
    let (id, version) = server.find(&a, "zhkh", "closed").await;
    let send = |token: String| {
        let server = server.clone();
        tokio::spawn(async move {
            let action =
                json!({ "id": uuid(), "appeal_id": id, "base_version": version, "kind": "take" });
            server.act(&token, json!([action])).await.1["results"][0]["outcome"].clone()
        })
    };
    let (ra, rb) = (send(a), send(b));
    let mut outcomes = vec![ra.await.unwrap(), rb.await.unwrap()];
    outcomes.sort_by_key(|v| v.to_string());
    assert_eq!(outcomes, vec![json!("applied"), json!("conflict")]);
}

async fn a_thousand_actions_sent_twice_are_applied_exactly_once(backend: Backend) {
    let Some(server) = TestServer::start(backend, 50).await else {
        return;
    };
    let op = server.token("op", Role::Curator, &[], &[]);
    let (id, mut version) = server.find(&op, "zhkh", "closed").await;
    let ids: Vec<String> = (0..1_000).map(|_| uuid()).collect();
    let batch: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, action_id)| {
            let v = version + i as i64;
            json!({ "id": action_id, "appeal_id": id, "base_version": v, "kind": "note", "text": format!("заметка {i}") })
        })
        .collect();
    let (_, first) = server.act(&op, Value::Array(batch.clone())).await;
    assert!(
        first["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "applied")
    );
    version += 1_000;
    let (_, again) = server.act(&op, Value::Array(batch)).await;
    assert!(
        again["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["outcome"] == "duplicate")
    );
    let (changes, _) = server.all_changes(&op, 5_000).await;
    let last = changes.iter().rev().find(|c| c["id"] == id).unwrap();
    assert_eq!(last["version"], version);
    let notes = last["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .count();
    assert_eq!(notes, 1_000);
}

/// Two server processes on one PostgreSQL database: a long-poll on one returns when the other
/// commits, though the other's in-process notification never reaches it.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_a_long_poll_sees_a_commit_made_by_another_server() {
    let Some(a) = TestServer::start(Backend::Postgres, 5).await else {
        return;
    };
    let shared_url = a._schema.as_ref().unwrap().url.clone();
    let b = TestServer::start_on(&shared_url, tempfile::tempdir().unwrap(), None, 0)
        .await
        .unwrap();
    let token = a.token("kurator", Role::Curator, &[], &[]);
    let b = Arc::new(b);
    let poller = {
        let b = b.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let (_, page) = b.get("/api/v1/changes?after=5&wait=20", Some(&token)).await;
            (page, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = a.ingest(&token, json!([demo_item("MP-1")])).await;
    assert_eq!(status, StatusCode::OK);
    let (page, waited) = poller.await.unwrap();
    assert_eq!(page["changes"][0]["data"]["external_id"], "MP-1");
    assert!(waited < Duration::from_secs(10), "woke after {waited:?}");
}

async fn pages_are_gzip_compressed_for_clients_that_ask(backend: Backend) {
    let Some(server) = TestServer::start(backend, 300).await else {
        return;
    };
    let token = server.token("kurator", Role::Curator, &[], &[]);
    let url = format!("{}/api/v1/changes?limit=300", server.url);
    // A client that leaves the body as it comes (another crate in the build may turn on
    // reqwest's own gzip decoding, which would hide the encoding).
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    let plain = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let page: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(page["changes"].as_array().unwrap().len(), 300);

    let gzipped = http
        .get(&url)
        .bearer_auth(&token)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.status(), StatusCode::OK);
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let gzipped = gzipped.bytes().await.unwrap();
    assert_eq!(&gzipped[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        gzipped.len() * 3 < plain.len(),
        "compressed {} bytes of {}",
        gzipped.len(),
        plain.len()
    );
}

async fn ingest_links_repeats_and_classifies_unclassified_appeals(backend: Backend) {
    let Some(server) = TestServer::start(backend, 2_000).await else {
        return;
    };
    let token = server.token("kurator", Role::Curator, &[], &[]);
    let snapshot = |id: i64| {
        let storage = &server.state.storage;
        storage
            .appeals_after(id - 1, 1)
            .unwrap()
            .into_iter()
            .find(|a| a.id == id)
            .unwrap()
    };
    let created = |answer: &Value| -> i64 { answer["results"][0]["id"].as_i64().unwrap() };

    // Сидоров's appeal, answered on 5 March; he writes again on 20 March about something else.
    let mut first = demo_item("REP-1");
    first["status"] = json!("answered");
    first["answered_utc"] = json!("2026-03-05T04:00:00Z");
    let (status, answer) = server.ingest(&token, json!([first])).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let first_id = created(&answer);
    let mut again = demo_item("REP-2");
    again["received_utc"] = json!("2026-03-20T04:00:00Z");
    again["registered_utc"] = json!("2026-03-20T04:00:00Z");
    again["topic"] = json!("roads.potholes");
    let (_, answer) = server.ingest(&token, json!([again])).await;
    assert_eq!(
        snapshot(created(&answer)).repeat_of,
        Some(first_id),
        "the same author within 90 days of the answer"
    );

    // An unclassified appeal whose text is like those the server has seen: classified at once,
    // with an event saying so.
    let known = server.state.storage.appeals_after(0, 200).unwrap();
    let model = known
        .iter()
        .find(|a| {
            a.topic
                .as_ref()
                .is_some_and(|t| t.as_str() == "zhkh.hot_water")
        })
        .or_else(|| known.iter().find(|a| a.topic.is_some()))
        .unwrap();
    let mut item = demo_item("CLS-1");
    item.as_object_mut().unwrap().remove("topic");
    item["text"] = json!(model.text);
    item["author"] = json!({});
    let (_, answer) = server.ingest(&token, json!([item])).await;
    let classified = snapshot(created(&answer));
    assert_eq!(classified.topic, model.topic, "{classified:?}");
    assert!(classified.suggestion.is_none());
    let event = classified
        .events
        .iter()
        .find(|e| e.kind == tsur_core::domain::EventKind::Classified)
        .expect("an automatic classification is recorded");
    assert_eq!(event.actor, tsur_server::enrich::AUTO_ACTOR);
    assert!(
        classified
            .events
            .windows(2)
            .all(|w| w[0].at_utc <= w[1].at_utc),
        "the history stays in time order"
    );

    // A text unlike anything: a suggestion for an operator, nothing applied.
    let mut item = demo_item("CLS-2");
    item.as_object_mut().unwrap().remove("topic");
    item["text"] = json!("Прошу разобраться: во дворе что-то гудит по ночам и мигает.");
    item["author"] = json!({});
    let (_, answer) = server.ingest(&token, json!([item])).await;
    let unsure = snapshot(created(&answer));
    assert_eq!(unsure.topic, None, "below the threshold nothing is applied");
    let suggestion = unsure
        .suggestion
        .expect("a suggestion to accept or correct");
    assert!(suggestion.confidence < 0.95);

    // And it reaches clients through the feed.
    let (mut changes, _) = server.all_changes(&token, 5_000).await;
    let fed = changes.pop().unwrap();
    assert_eq!(fed["data"]["external_id"], "CLS-2");
    assert!(fed["data"]["suggestion"]["topic"].is_string());
}

/// A heating appeal at Kirova 1 from a different person each time; `text` says what is wrong.
fn kirova_item(external_id: &str, text: &str, day: u32) -> Value {
    let mut item = demo_item(external_id);
    item["text"] = json!(text);
    item["author"] = json!({ "name": format!("Житель {external_id}") });
    item["received_utc"] = json!(format!("2026-03-{day:02}T04:00:00Z"));
    item["registered_utc"] = item["received_utc"].clone();
    item
}

async fn ingest_groups_appeals_into_problems_that_operators_confirm_split_and_merge(
    backend: Backend,
) {
    let Some(server) = TestServer::start(backend, 0).await else {
        return;
    };
    let curator = server.token("kurator", Role::Curator, &[], &[]);
    let op = server.token("Оператор ЖКХ", Role::Operator, &["zhkh"], &[]);
    let cold = "Нет отопления, батареи холодные, в квартире холодно";
    let main = "Прорыв теплотрассы во дворе, пар и кипяток";
    for (i, text) in [cold, cold, cold, main, main, main].iter().enumerate() {
        let mut item = kirova_item(&format!("K-{i}"), text, 2 + i as u32 / 3);
        if *text == main {
            // The burst main is two kilometres north, in the yard of another street.
            item["address"] = json!("Челябинск, ул. Братьев Кашириных, д. 95");
            item["point"] = json!({ "lat": 55.178, "lon": 61.40 });
        }
        let (status, body) = server.ingest(&curator, json!([item])).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let latest_problems = |changes: &[Value]| -> Vec<Value> {
        let mut by_id = std::collections::BTreeMap::new();
        for c in changes.iter().filter(|c| c["entity"] == "problem") {
            by_id.insert(c["id"].as_i64().unwrap(), c["data"].clone());
        }
        by_id.into_values().collect()
    };
    let problem_of = |changes: &[Value], external: &str| -> Option<i64> {
        changes
            .iter()
            .rev()
            .find(|c| c["entity"] == "appeal" && c["data"]["external_id"] == external)
            .and_then(|c| c["data"]["problem"].as_i64())
    };
    let (changes, _) = server.all_changes(&op, 5_000).await;
    let problems = latest_problems(&changes);
    assert_eq!(problems.len(), 2, "{problems:?}");
    let (a, b) = (
        problems[0]["id"].as_i64().unwrap(),
        problems[1]["id"].as_i64().unwrap(),
    );
    assert_eq!(
        problems[0]["title"],
        "Отопление: Челябинск, ул. Кирова, д. 1"
    );
    assert_eq!(problems[0]["confirmed"], false);
    for (external, problem) in [("K-0", a), ("K-2", a), ("K-3", b), ("K-5", b)] {
        assert_eq!(problem_of(&changes, external), Some(problem), "{external}");
    }
    let grouped = changes
        .iter()
        .rev()
        .find(|c| c["entity"] == "appeal" && c["data"]["external_id"] == "K-0")
        .unwrap();
    let event = grouped["data"]["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(event["kind"], "grouped");
    assert_eq!(event["actor"], tsur_server::enrich::AUTO_ACTOR);

    // Confirm and rename A; again with the same id; again with a stale version.
    let confirm = json!({ "id": uuid(), "base_version": 1, "kind": "confirm_problem",
                          "problem": a, "title": "Холодно в доме Кирова, 1" });
    let (_, body) = server.act(&op, json!([confirm.clone()])).await;
    assert_eq!(body["results"][0]["outcome"], "applied", "{body}");
    assert_eq!(body["results"][0]["version"], 2);
    let (_, body) = server.act(&op, json!([confirm])).await;
    assert_eq!(body["results"][0]["outcome"], "duplicate");
    let stale = json!({ "id": uuid(), "base_version": 1, "kind": "confirm_problem", "problem": a });
    let (_, body) = server.act(&op, json!([stale])).await;
    assert_eq!(body["results"][0]["outcome"], "conflict");
    assert_eq!(body["results"][0]["current_version"], 2);

    // Out of scope, a role that may not act, an unknown problem.
    let health_op = server.token("Оператор здравоохранения", Role::Operator, &["health"], &[]);
    let (_, body) = server
        .act(
            &health_op,
            json!([{ "id": uuid(), "base_version": 2, "kind": "confirm_problem", "problem": a }]),
        )
        .await;
    assert_eq!(body["results"][0]["outcome"], "rejected");
    assert!(
        body["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("вне вашей зоны")
    );
    let wall = server.token("стена", Role::Wall, &[], &[]);
    let (_, body) = server
        .act(
            &wall,
            json!([{ "id": uuid(), "base_version": 2, "kind": "confirm_problem", "problem": a }]),
        )
        .await;
    assert_eq!(body["results"][0]["outcome"], "rejected");
    let (_, body) = server
        .act(&op, json!([{ "id": uuid(), "base_version": 1, "kind": "merge_problems", "problem": 999_999, "into": a }]))
        .await;
    assert!(
        body["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("нет проблемы 999999"),
        "{body}"
    );

    // Merge B into A: B's appeals move to A, B says where they went.
    let (_, body) = server
        .act(&op, json!([{ "id": uuid(), "base_version": 1, "kind": "merge_problems", "problem": b, "into": a }]))
        .await;
    assert_eq!(body["results"][0]["outcome"], "applied", "{body}");
    let (changes, _) = server.all_changes(&op, 5_000).await;
    assert_eq!(problem_of(&changes, "K-4"), Some(a));
    let problems = latest_problems(&changes);
    assert_eq!(problems[1]["merged_into"], a);
    assert_eq!(problems[0]["title"], "Холодно в доме Кирова, 1");

    // Split the heating-main appeals back out of A into a new problem.
    let ids: Vec<i64> = ["K-3", "K-4", "K-5"]
        .iter()
        .map(|e| {
            changes
                .iter()
                .find(|c| c["entity"] == "appeal" && c["data"]["external_id"] == *e)
                .unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let version_a = problems[0]["version"].as_i64().unwrap();
    let (_, body) = server
        .act(
            &op,
            json!([{ "id": uuid(), "base_version": version_a, "kind": "split_problem",
                          "problem": a, "appeals": ids, "title": "Прорыв теплотрассы" }]),
        )
        .await;
    assert_eq!(body["results"][0]["outcome"], "applied", "{body}");
    let (changes, _) = server.all_changes(&op, 5_000).await;
    let problems = latest_problems(&changes);
    let split = problems.last().unwrap();
    assert_eq!(
        (split["title"].as_str(), split["confirmed"].as_bool()),
        (Some("Прорыв теплотрассы"), Some(true))
    );
    let c = split["id"].as_i64().unwrap();
    assert!(c != a && c != b);
    assert_eq!(problem_of(&changes, "K-5"), Some(c));
    assert_eq!(problem_of(&changes, "K-1"), Some(a));

    // Merging one appeal into a problem that was merged away is refused.
    let (k1, v1) = changes
        .iter()
        .rev()
        .find(|c| c["entity"] == "appeal" && c["data"]["external_id"] == "K-1")
        .map(|c| (c["id"].as_i64().unwrap(), c["version"].as_i64().unwrap()))
        .unwrap();
    let (_, body) = server
        .act(&op, json!([{ "id": uuid(), "appeal_id": k1, "base_version": v1, "kind": "merge_into_problem", "problem": b }]))
        .await;
    assert!(
        body["results"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("объединена"),
        "{body}"
    );

    // A title typed by an operator reaches roles without personal data with phones taken out.
    let c_version = split["version"].as_i64().unwrap();
    let (_, body) = server
        .act(
            &op,
            json!([{ "id": uuid(), "base_version": c_version, "kind": "confirm_problem",
                     "problem": c, "title": "Прорыв, звонить Сидорову 8 912 345-67-89" }]),
        )
        .await;
    assert_eq!(body["results"][0]["outcome"], "applied", "{body}");
    for role in [Role::Analyst, Role::Wall] {
        let token = server.token("без персональных данных", role, &[], &[]);
        let (changes, _) = server.all_changes(&token, 5_000).await;
        let titles: Vec<String> = changes
            .iter()
            .filter(|ch| ch["entity"] == "problem" && ch["id"] == c)
            .map(|ch| ch["data"]["title"].as_str().unwrap().to_string())
            .collect();
        assert!(!titles.is_empty(), "{role:?}");
        assert!(
            titles.iter().all(|t| !t.contains("345-67-89")),
            "{role:?}: {titles:?}"
        );
    }

    // A restarted server knows the problems as they were left.
    let restarted =
        tsur_server::enrich::Enricher::from_storage(&server.state.storage, &server.state.pack)
            .unwrap();
    let record = restarted.problems.problem(a).unwrap();
    assert_eq!(
        (record.title.as_str(), record.confirmed),
        ("Холодно в доме Кирова, 1", true)
    );
    assert_eq!(restarted.problems.problem(b).unwrap().merged_into, Some(a));
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(restarted.problems.members(c), sorted);
    assert_eq!(restarted.problems.members(a).len(), 3);
}

/// Every test above, once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    public_endpoints_and_authentication,
    the_feed_pages_cover_every_change_once_at_exact_multiples,
    scopes_and_personal_data_follow_the_role,
    ingest_is_idempotent_and_judges_each_item,
    a_long_poll_returns_as_soon_as_a_change_commits,
    actions_apply_once_conflict_on_stale_versions_and_respect_scope,
    two_clients_editing_one_case_get_one_applied_and_one_conflict,
    a_thousand_actions_sent_twice_are_applied_exactly_once,
    pages_are_gzip_compressed_for_clients_that_ask,
    ingest_links_repeats_and_classifies_unclassified_appeals,
    ingest_groups_appeals_into_problems_that_operators_confirm_split_and_merge,
);
