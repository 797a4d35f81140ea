//! The client sync engine against a real tsur-server on 127.0.0.1, and against a fault-injecting
//! server that sends broken pages.

use chrono::NaiveDate;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use tsur::sync::{SyncClient, SyncError, sync_once};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::domain::Appeal;
use tsur_core::pack::RegionPack;
use tsur_core::store::{OutboxAction, Store};
use tsur_server::api::{self, ServerState};
use tsur_server::auth::Role;
use tsur_server::ingest::{self, IngestAppeal};
use tsur_server::storage::Storage;

/// A tsur-server on its own runtime thread, seeded with demo appeals.
struct LiveServer {
    url: String,
    state: Arc<ServerState>,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveServer {
    fn start(appeals: u64) -> LiveServer {
        let dir = tempfile::tempdir().unwrap();
        let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
        let storage = Storage::open(&format!(
            "sqlite:{}",
            dir.path().join("server.sqlite").display()
        ))
        .unwrap();
        let state = Arc::new(ServerState::new(storage, pack).unwrap());
        let mut server = LiveServer::serve(state, dir);
        server.seed(appeals, 31);
        server
    }

    fn serve(state: Arc<ServerState>, dir: tempfile::TempDir) -> LiveServer {
        LiveServer::serve_with(state, dir, None)
    }

    /// Serves over HTTPS with the certificate and key in these PEM files.
    fn serve_tls(
        state: Arc<ServerState>,
        dir: tempfile::TempDir,
        cert: &Path,
        key: &Path,
    ) -> LiveServer {
        let config = tsur_server::tls::server_config(cert, key).unwrap();
        LiveServer::serve_with(state, dir, Some(config))
    }

    fn serve_with(
        state: Arc<ServerState>,
        dir: tempfile::TempDir,
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> LiveServer {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let scheme = if tls.is_some() { "https" } else { "http" };
                url_tx
                    .send(format!("{scheme}://{}", listener.local_addr().unwrap()))
                    .unwrap();
                let shutdown = async move {
                    let _ = rx.await;
                };
                match tls {
                    Some(config) => api::serve_tls(listener, config, served, shutdown).await,
                    None => api::serve(listener, served, shutdown).await,
                }
                .unwrap();
            });
        });
        LiveServer {
            url: url_rx.recv().unwrap(),
            state,
            _dir: dir,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Ingests `n` more demo appeals (a different seed gives new external ids only if the
    /// generator's ids differ, so the source is renamed per call).
    fn seed(&mut self, n: u64, seed: u64) {
        if n == 0 {
            return;
        }
        let pack = &self.state.pack;
        let replica = self._dir.path().join(format!("demo-{seed}.sqlite"));
        let params = DemoParams {
            appeals: n,
            seed,
            now_utc: DemoParams::now_for_date(pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
        };
        write_demo_replica(pack, &params, &replica, true, &mut |_, _| true).unwrap();
        let store = Store::open_existing(&replica).unwrap();
        let engine = pack.deadline_engine();
        let items = (1..=n as i64)
            .map(|id| {
                let mut item = IngestAppeal::from_appeal(store.load_appeal(id).unwrap().unwrap());
                item.source = format!("demo-{seed}");
                ingest::prepare(pack, &engine, item)
            })
            .collect();
        self.state.storage.ingest(items).unwrap();
        let latest = self.state.storage.latest_seq().unwrap();
        self.state.latest_seq.send_replace(latest);
    }

    /// Ingests a newer version (a changed text) of these appeals of an earlier `seed` call.
    fn touch(&mut self, seed: u64, ids: std::ops::RangeInclusive<i64>) {
        let pack = &self.state.pack;
        let replica = self._dir.path().join(format!("demo-{seed}.sqlite"));
        let store = Store::open_existing(&replica).unwrap();
        let engine = pack.deadline_engine();
        let items = ids
            .map(|id| {
                let mut appeal = store.load_appeal(id).unwrap().unwrap();
                appeal.text.push_str(" (дополнено)");
                let mut item = IngestAppeal::from_appeal(appeal);
                item.source = format!("demo-{seed}");
                ingest::prepare(pack, &engine, item)
            })
            .collect();
        self.state.storage.ingest(items).unwrap();
        let latest = self.state.storage.latest_seq().unwrap();
        self.state.latest_seq.send_replace(latest);
    }

    fn token(&self, role: Role, blocks: &[&str]) -> String {
        let blocks: Vec<String> = blocks.iter().map(|s| s.to_string()).collect();
        self.state
            .storage
            .create_token("tester", role, &blocks, &[])
            .unwrap()
            .1
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every appeal of the replica as JSON, in id order: the checksum of a sync.
fn replica_rows(path: &Path) -> Vec<Value> {
    let store = Store::open_existing(path).unwrap();
    let ids: Vec<i64> = store
        .conn()
        .prepare("SELECT id FROM appeals ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    ids.into_iter()
        .map(|id| serde_json::to_value(store.load_appeal(id).unwrap().unwrap()).unwrap())
        .collect()
}

/// Every appeal the server holds, as JSON, in id order.
fn server_rows(server: &LiveServer) -> Vec<Value> {
    let conn = rusqlite::Connection::open(server._dir.path().join("server.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT data FROM appeals ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

fn sync(url: &str, token: &str, db: &Path) -> Result<tsur::sync::SyncReport, SyncError> {
    let client = SyncClient::new(url, token).unwrap();
    let mut store = Store::open(db).unwrap();
    sync_once(&client, &mut store, 0, &mut |_, _| {})
}

#[test]
fn an_initial_and_an_incremental_sync_equal_the_server() {
    let mut server = LiveServer::start(2_500);
    let token = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");

    let report = sync(&server.url, &token, &db).unwrap();
    assert_eq!(report.written, 2_500);
    assert_eq!(report.pages, 3, "1000 + 1000 + 500");
    assert_eq!(report.cursor, 2_500);
    assert_eq!(
        replica_rows(&db),
        server_rows(&server),
        "the replica equals the server"
    );
    let kept = tsur::sync::pack_dir_for(&db).join("calendar.csv");
    assert!(kept.exists(), "the pack is kept for offline use");
    let written = std::fs::metadata(&kept).unwrap().modified().unwrap();

    // Exactly a multiple of the page size more: the loop ends without an extra page.
    server.seed(1_000, 32);
    let report = sync(&server.url, &token, &db).unwrap();
    assert_eq!(report.written, 1_000);
    assert_eq!(report.pages, 1);
    assert_eq!(replica_rows(&db), server_rows(&server));

    // Nothing new: one empty page, nothing written.
    let report = sync(&server.url, &token, &db).unwrap();
    assert_eq!((report.written, report.pages, report.cursor), (0, 1, 3_500));
    assert_eq!(
        std::fs::metadata(&kept).unwrap().modified().unwrap(),
        written,
        "the same pack version is not downloaded and written again on every pass"
    );
    // A pack copy that is gone (or damaged) is fetched again.
    std::fs::remove_dir_all(tsur::sync::pack_dir_for(&db)).unwrap();
    sync(&server.url, &token, &db).unwrap();
    assert!(kept.exists());
}

/// A checksum over every appeal (as its JSON, in id order) of a replica and of the server.
fn checksums(replica: &Path, server: &LiveServer) -> ((usize, u64), (usize, u64)) {
    use std::hash::{Hash, Hasher};
    let digest = |rows: &mut dyn Iterator<Item = Appeal>| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let mut count = 0;
        for appeal in rows {
            serde_json::to_string(&appeal).unwrap().hash(&mut hasher);
            count += 1;
        }
        (count, hasher.finish())
    };
    let store = Store::open_existing(replica).unwrap();
    let ids: Vec<i64> = store
        .conn()
        .prepare("SELECT id FROM appeals ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let ours = digest(
        &mut ids
            .iter()
            .map(|&id| store.load_appeal(id).unwrap().unwrap()),
    );
    let conn = rusqlite::Connection::open(server._dir.path().join("server.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT data FROM appeals ORDER BY id")
        .unwrap();
    let theirs = digest(
        &mut stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|d| serde_json::from_str::<Appeal>(&d.unwrap()).unwrap()),
    );
    (ours, theirs)
}

#[test]
fn an_initial_sync_of_100_000_appeals_equals_the_server() {
    let mut server = LiveServer::start(100_000);
    // Newer versions of 2,000 appeals in the same feed: the initial load replaces histories.
    server.touch(31, 1..=2_000);
    let token = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");
    let report = sync(&server.url, &token, &db).unwrap();
    assert_eq!(report.cursor, 102_000);
    assert_eq!(report.written, 102_000, "each version once, in order");
    let (ours, theirs) = checksums(&db, &server);
    assert_eq!(ours.0, 100_000);
    assert_eq!(ours, theirs, "the replica's checksum equals the server's");
    let store = Store::open_existing(&db).unwrap();
    assert_eq!(
        store.missing_secondary_indexes().unwrap(),
        Vec::<&str>::new(),
        "the bulk load built its indexes"
    );
    let check: String = store
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_sync_that_asks_for_gzip_equals_the_server() {
    let mut server = LiveServer::start(3_000);
    server.touch(31, 1..=100);
    let token = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");
    let client = SyncClient::with_options(&server.url, &token, None, true).unwrap();
    let mut store = Store::open(&db).unwrap();
    let report = sync_once(&client, &mut store, 0, &mut |_, _| {}).unwrap();
    assert_eq!(report.cursor, 3_100);
    drop(store);
    assert_eq!(replica_rows(&db), server_rows(&server));
}

#[test]
fn a_block_operator_replica_holds_only_its_block() {
    let server = LiveServer::start(800);
    let token = server.token(Role::Operator, &["roads"]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");
    let report = sync(&server.url, &token, &db).unwrap();
    assert!(report.written > 0);
    let rows = replica_rows(&db);
    assert!(rows.iter().all(|a| a["block"] == "roads"));
    assert_eq!(
        report.cursor, 800,
        "the cursor covers changes the token may not see"
    );
}

#[test]
fn actions_made_offline_are_delivered_exactly_once_after_reconnect() {
    let server = LiveServer::start(100);
    let token = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");
    sync(&server.url, &token, &db).unwrap();

    // Offline: the server is not where the client looks.
    let store = Store::open(&db).unwrap();
    let appeal = store.load_appeal(3).unwrap().unwrap();
    let mut ids = Vec::new();
    for i in 0..1_000 {
        let id = uuid::Uuid::now_v7().to_string();
        let payload = json!({
            "id": id, "appeal_id": 3, "base_version": appeal.version + i, "kind": "note",
            "text": format!("офлайн-заметка {i}")
        });
        store
            .enqueue_action(&OutboxAction {
                id: id.clone(),
                created_utc: 1_780_000_000 + i,
                appeal_id: Some(3),
                kind: "note".into(),
                payload: payload.to_string(),
                base_version: Some(appeal.version + i),
            })
            .unwrap();
        ids.push(id);
    }
    drop(store);
    let offline = sync("http://127.0.0.1:9", &token, &db).unwrap_err();
    assert!(
        matches!(offline, SyncError::Unreachable { .. }),
        "{offline}"
    );
    assert!(offline.to_string().contains("недоступен"));
    assert_eq!(
        Store::open(&db).unwrap().pending_actions().unwrap().len(),
        1_000,
        "nothing lost offline"
    );

    let report = sync(&server.url, &token, &db).unwrap();
    assert_eq!(report.pushed.applied, 1_000);
    let store = Store::open(&db).unwrap();
    assert!(store.pending_actions().unwrap().is_empty());
    let synced = store.load_appeal(3).unwrap().unwrap();
    assert_eq!(
        synced.version,
        appeal.version + 1_000,
        "the replica got the server's result"
    );
    let notes = synced
        .events
        .iter()
        .filter(|e| e.kind == tsur_core::domain::EventKind::Note)
        .count();
    assert_eq!(notes, 1_000, "each applied exactly once");

    // A second pass sends nothing again.
    let report = sync(&server.url, &token, &db).unwrap();
    assert_eq!(report.pushed, tsur::sync::PushReport::default());
}

#[test]
fn a_conflicting_offline_action_is_recorded_for_the_operator() {
    let server = LiveServer::start(100);
    let a = server.token(Role::Curator, &[]);
    let b = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (db_a, db_b) = (dir.path().join("a.sqlite"), dir.path().join("b.sqlite"));
    sync(&server.url, &a, &db_a).unwrap();
    sync(&server.url, &b, &db_b).unwrap();
    let version = Store::open(&db_a)
        .unwrap()
        .load_appeal(5)
        .unwrap()
        .unwrap()
        .version;
    for (db, who) in [(&db_a, "a"), (&db_b, "b")] {
        let id = uuid::Uuid::now_v7().to_string();
        let payload = json!({ "id": id, "appeal_id": 5, "base_version": version, "kind": "assign", "to": who });
        Store::open(db)
            .unwrap()
            .enqueue_action(&OutboxAction {
                id,
                created_utc: 1,
                appeal_id: Some(5),
                kind: "assign".into(),
                payload: payload.to_string(),
                base_version: Some(version),
            })
            .unwrap();
    }
    assert_eq!(sync(&server.url, &a, &db_a).unwrap().pushed.applied, 1);
    assert_eq!(sync(&server.url, &b, &db_b).unwrap().pushed.conflict, 1);
    let store = Store::open(&db_b).unwrap();
    assert_eq!(
        store.outbox_count("conflict").unwrap(),
        1,
        "the conflict is kept for the operator"
    );
    assert_eq!(
        store.load_appeal(5).unwrap().unwrap().assignee.as_deref(),
        Some("a"),
        "b sees a's result"
    );
}

/// A server that answers every request with fixed bodies, to inject faults.
fn fault_server(
    changes_body: String,
) -> (String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    fault_server_with(
        r#"{"api_version":2,"min_client_api_version":2}"#,
        changes_body,
    )
}

fn fault_server_with(
    capabilities: &'static str,
    changes_body: String,
) -> (String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    use axum::routing::get;
    let real = LiveServer::start(0);
    let pack = serde_json::to_string(&json!({
        "version_hash": real.state.pack.version_hash,
        "files": real.state.pack_files,
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new()
                .route(
                    "/api/v1/capabilities",
                    get(move || async move { capabilities }),
                )
                .route("/api/v1/health", get(|| async { r#"{"latest_seq":3}"# }))
                .route("/api/v1/pack", get(move || async move { pack }))
                .route("/api/v1/changes", get(move || async move { changes_body }));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            url_tx
                .send(format!("http://{}", listener.local_addr().unwrap()))
                .unwrap();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
    });
    (url_rx.recv().unwrap(), tx, dir)
}

fn good_change(seq: i64, id: i64) -> Value {
    let server = LiveServer::start(3);
    let conn = rusqlite::Connection::open(server._dir.path().join("server.sqlite")).unwrap();
    let data: String = conn
        .query_row("SELECT data FROM appeals WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    let mut data: Value = serde_json::from_str(&data).unwrap();
    data["id"] = json!(id);
    json!({ "seq": seq, "entity": "appeal", "id": id, "version": 1, "data": data })
}

#[test]
fn malformed_records_are_quarantined_and_the_sync_goes_on() {
    let good = good_change(1, 1);
    let mut bad_status = good_change(2, 2);
    bad_status["data"]["status"] = json!("lost_in_space");
    let mut bad_point = good_change(3, 3);
    bad_point["data"]["point"] = json!({ "lat": 91.5, "lon": 200.0 });
    let mut huge = good_change(4, 4);
    huge["data"]["text"] = json!("я".repeat(150_000));
    let mut wrong_type = good_change(5, 5);
    wrong_type["data"]["received_utc"] = json!(12);
    let body = json!({ "changes": [good, bad_status, bad_point, huge, wrong_type], "next": 5, "has_more": false }).to_string();
    let (url, _stop, dir) = fault_server(body);
    let db = dir.path().join("replica.sqlite");
    let report = sync(&url, "any", &db).unwrap();
    assert_eq!(
        (report.written, report.quarantined, report.cursor),
        (1, 4, 5)
    );
    let store = Store::open(&db).unwrap();
    assert_eq!(store.quarantined_count().unwrap(), 4);
    let reasons: Vec<String> = store
        .conn()
        .prepare("SELECT reason FROM quarantine ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(reasons[0].contains("lost_in_space"), "{reasons:?}");
    assert!(reasons[1].contains("вне региона"), "{reasons:?}");
    assert!(reasons[2].contains("длиннее"), "{reasons:?}");
    assert!(reasons[3].contains("запись не разобрана"), "{reasons:?}");
}

#[test]
fn a_malformed_page_is_an_error_and_the_replica_stays_as_it_was() {
    let cases = [
        (
            r#"{"changes": [{"seq": 1, "entity": "appeal""#.to_string(),
            "не JSON",
        ),
        (r#"{"changes": [], "has_more": false}"#.to_string(), "next"),
        (
            r#"{"changes": "many", "next": 4, "has_more": false}"#.to_string(),
            "changes",
        ),
        (
            json!({ "changes": [good_change(9, 9)], "next": 4, "has_more": false }).to_string(),
            "вне страницы",
        ),
    ];
    for (body, expected) in cases {
        let (url, _stop, dir) = fault_server(body);
        let db = dir.path().join("replica.sqlite");
        let err = sync(&url, "any", &db).unwrap_err();
        assert!(matches!(err, SyncError::MalformedPage { .. }), "{err}");
        assert!(
            err.to_string().contains(expected) && err.to_string().contains("не изменена"),
            "{err}"
        );
        let store = Store::open(&db).unwrap();
        assert_eq!(store.cursor().unwrap(), 0);
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM appeals", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0);
    }
}

#[test]
fn a_refused_token_and_a_newer_server_are_clear_errors() {
    let server = LiveServer::start(10);
    let dir = tempfile::tempdir().unwrap();
    let err = sync(&server.url, "wrong", &dir.path().join("r.sqlite")).unwrap_err();
    assert!(
        matches!(err, SyncError::Refused { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("отказал в доступе"));

    let (url, _stop, dir) = fault_server_with(
        r#"{"api_version":3,"min_client_api_version":3}"#,
        "{}".into(),
    );
    let err = sync(&url, "any", &dir.path().join("r.sqlite")).unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::NewerServer {
                server: 3,
                client: 2
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("обновите tsur"));
}

#[test]
fn tsur_sync_once_from_the_command_line() {
    let server = LiveServer::start(300);
    let token = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsur"))
        .args([
            "sync",
            "--server",
            &server.url,
            "--token",
            &token,
            "--db",
            db.to_str().unwrap(),
            "--once",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("догнала сервер"));
    assert_eq!(replica_rows(&db).len(), 300);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&token),
        "the token is never printed"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsur"))
        .args([
            "sync",
            "--server",
            "http://127.0.0.1:9",
            "--token",
            &token,
            "--db",
            db.to_str().unwrap(),
            "--once",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("недоступен"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl LiveServer {
    /// The server goes away and comes back on another port with the same database.
    fn restart(&mut self) {
        self.stop();
        let dir = tempfile::tempdir().unwrap();
        let moved = std::mem::replace(&mut self._dir, dir);
        let restarted = LiveServer::serve(self.state.clone(), moved);
        let old = std::mem::replace(self, restarted);
        std::mem::forget(old); // its parts were taken over or already stopped
    }
}

#[test]
fn a_server_that_goes_away_mid_sync_is_caught_up_with_after_it_returns() {
    // Many pages: the fetcher runs up to three pages ahead of the writer, and the server must
    // still have some left to send when it goes away.
    let mut server = LiveServer::start(20_000);
    let token = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");

    // The server goes away as soon as the first page is in.
    let client = SyncClient::new(&server.url, &token).unwrap();
    let mut store = Store::open(&db).unwrap();
    let mut shutdown = server.shutdown.take();
    let result = sync_once(&client, &mut store, 0, &mut |_, _| {
        if let Some(tx) = shutdown.take() {
            let _ = tx.send(());
        }
    });
    let err = result.expect_err("the server left mid-sync");
    assert!(matches!(err, SyncError::Unreachable { .. }), "{err}");
    let partial = store.cursor().unwrap();
    assert!(
        (1..20_000).contains(&partial),
        "the pages before it left are kept: {partial}"
    );
    drop(store);

    server.restart();
    let report = sync(&server.url, &token, &db).unwrap();
    assert_eq!(report.cursor, 20_000);
    assert_eq!(
        replica_rows(&db),
        server_rows(&server),
        "converged after the server came back"
    );
}

#[test]
fn a_client_killed_while_applying_pages_keeps_a_sound_replica_and_converges() {
    let server = LiveServer::start(15_000);
    let token = server.token(Role::Curator, &[]);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tsur"))
            .args([
                "sync",
                "--server",
                &server.url,
                "--token",
                &token,
                "--db",
                db.to_str().unwrap(),
                "--once",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut cursors = Vec::new();
    for delay_ms in [300, 700, 1_100, 1_500, 1_900] {
        let mut child = run();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        if !db.exists() {
            continue;
        }
        let conn = rusqlite::Connection::open(&db).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let store = Store::open(&db).unwrap();
        let cursor = store.cursor().unwrap();
        let rows: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM appeals", [], |r| r.get(0))
            .unwrap();
        // A page and its cursor go together: the replica holds exactly the appeals up to the cursor.
        assert_eq!(rows, cursor, "rows and cursor agree after a kill");
        cursors.push(cursor);
    }
    assert!(
        cursors.windows(2).all(|w| w[0] <= w[1]),
        "the cursor never went back: {cursors:?}"
    );
    assert!(
        cursors.iter().any(|c| (1..15_000).contains(c)),
        "a kill landed mid-sync: {cursors:?}"
    );
    eprintln!("cursors after kills: {cursors:?}");
    let status = run().wait().unwrap();
    assert!(status.success());
    assert_eq!(replica_rows(&db), server_rows(&server));
    assert!(
        Store::open_existing(&db)
            .unwrap()
            .missing_secondary_indexes()
            .unwrap()
            .is_empty(),
        "indexes dropped by a killed bulk load are back"
    );
}

#[test]
fn tsur_sync_over_https_trusts_the_given_certificate_only() {
    let plain = LiveServer::start(200);
    let token = plain.token(Role::Curator, &[]);
    let certs = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = certs.path().join("server.crt");
    let key = certs.path().join("server.key");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let mut plain = plain;
    plain.stop();
    let server = LiveServer::serve_tls(
        plain.state.clone(),
        tempfile::tempdir().unwrap(),
        &cert,
        &key,
    );
    assert!(server.url.starts_with("https://"), "{}", server.url);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.sqlite");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tsur"))
            .args([
                "sync",
                "--server",
                &server.url,
                "--token",
                &token,
                "--db",
                db.to_str().unwrap(),
                "--once",
            ])
            .args(extra)
            .output()
            .unwrap()
    };

    let out = run(&[]);
    assert!(
        !out.status.success(),
        "a self-signed server is not trusted by default"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("недоступен"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&["--ca-cert", "/nonexistent/ca.pem"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.pem"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&["--ca-cert", cert.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(replica_rows(&db), server_rows(&plain));
}
