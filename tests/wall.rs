//! The video wall driven headless with egui_kittest and a clock the test moves: the playlist
//! advances, a threshold crossing takes the wall over and clearing it gives the playlist back, the
//! stale-data marker comes and goes with a real server on 127.0.0.1, no text on any scene names
//! an author, and a simulated day of rotation and syncs leaves nothing growing.

use chrono::{DateTime, Duration as Span, NaiveDate, TimeZone, Utc};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur::app::command::Mode;
use tsur::app::wall::WallShown;
use tsur::app::{AppOptions, TsurApp};
use tsur::loader::{Replica, Source};
use tsur::views::Period;
use tsur::wall::{AlarmRules, SceneKind, SceneSpec, WallConfig, WindowSpec};
use tsur_core::clock::{ManualClock, SharedClock};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;
use tsur_server::api::{self, ServerState};
use tsur_server::auth::Role;
use tsur_server::storage::Storage;

const DAY: (i32, u32, u32) = (2026, 11, 25);

/// 07:00 UTC (12:00 local), on a minute boundary so the playlist starts at its first scene.
fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(DAY.0, DAY.1, DAY.2, 7, 0, 0).unwrap()
}

fn pack() -> RegionPack {
    RegionPack::load(RegionPack::bundled_dir()).unwrap()
}

fn demo_params(appeals: u64) -> DemoParams {
    DemoParams {
        appeals,
        seed: 7,
        now_utc: DemoParams::now_for_date(
            &pack(),
            NaiveDate::from_ymd_opt(DAY.0, DAY.1, DAY.2).unwrap(),
        ),
    }
}

/// A demo replica with its authors (names, phones, e-mails), as a curator's sync would leave
/// it, opened with its server away.
fn replica_with_authors(dir: &Path, appeals: u64) -> PathBuf {
    let path = dir.join("replica.sqlite");
    write_demo_replica(&pack(), &demo_params(appeals), &path, false, &mut |_, _| {
        true
    })
    .unwrap();
    Store::open_existing(&path)
        .unwrap()
        .set_sync_value("cursor", "1")
        .unwrap();
    path
}

fn scenes(kinds: &[SceneKind], seconds: u32) -> Vec<SceneSpec> {
    kinds
        .iter()
        .map(|&kind| SceneSpec { kind, seconds })
        .collect()
}

fn wall_options(replica: Replica, clock: SharedClock, wall: WallConfig) -> AppOptions {
    AppOptions {
        source: Source {
            replica,
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 0,
        },
        clock,
        settings: None,
        mode: Mode::Wall,
        wall,
        export_dir: None,
    }
}

fn offline(db: &Path) -> Replica {
    Replica::Remote {
        server: "http://127.0.0.1:9".into(),
        token: "wall-token".into(),
        db: db.to_path_buf(),
        ca_cert: None,
    }
}

fn harness(options: AppOptions, size: egui::Vec2) -> Harness<'static, TsurApp> {
    Harness::builder()
        .with_size(size)
        .allow_missing_glyphs()
        .build_eframe(move |cc| TsurApp::new(&cc.egui_ctx, options))
}

/// Steps until the wall shows figures for its newest request.
fn settle(h: &mut Harness<'_, TsurApp>) {
    let started = Instant::now();
    loop {
        h.step();
        if h.state().is_wall_settled() {
            break;
        }
        assert!(h.state().failure().is_none(), "{:?}", h.state().failure());
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the wall did not settle"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(3);
}

/// Steps (in real time) until `done` holds.
fn step_until(h: &mut Harness<'_, TsurApp>, what: &str, done: impl Fn(&TsurApp) -> bool) {
    let started = Instant::now();
    while !done(h.state()) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting: {what}"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

/// Every text of the accessibility tree: labels, values and descriptions.
fn texts(h: &Harness<'_, TsurApp>) -> Vec<String> {
    let mut out = Vec::new();
    for node in h.root().children_recursive() {
        let node = node.accesskit_node();
        out.extend(node.label());
        out.extend(node.value());
        out.extend(node.description());
    }
    out
}

/// The test clock's time in unix seconds.
fn secs(clock: &ManualClock) -> i64 {
    tsur_core::clock::Clock::now_utc(clock).timestamp()
}

fn shows(h: &Harness<'_, TsurApp>, text: &str) -> bool {
    texts(h).iter().any(|t| t.contains(text))
}

#[test]
fn the_playlist_advances_with_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica_with_authors(dir.path(), 2_000);
    let clock = Arc::new(ManualClock::new(start()));
    let config = WallConfig {
        scenes: scenes(&[SceneKind::Map, SceneKind::Kpi, SceneKind::Feed], 20),
        ..WallConfig::default()
    };
    let mut h = harness(
        wall_options(offline(&db), clock.clone(), config),
        egui::vec2(1920.0, 1080.0),
    );
    settle(&mut h);
    let now = || secs(&clock);
    assert_eq!(
        h.state().wall_shown(0, now()),
        Some(WallShown::Scene(SceneKind::Map))
    );
    assert!(h.query_by_label("Карта обращений").is_some());
    for (seconds, kind, title) in [
        (20, SceneKind::Kpi, "Показатели и цели"),
        (20, SceneKind::Feed, "Новые инциденты в соцсетях"),
        (20, SceneKind::Map, "Карта обращений"),
    ] {
        clock.advance(Span::seconds(seconds));
        settle(&mut h);
        assert_eq!(h.state().wall_shown(0, now()), Some(WallShown::Scene(kind)));
        assert!(
            h.query_by_label(title).is_some(),
            "{title} is not on the wall: {:?}",
            texts(&h)
        );
    }
    // Nothing on the wall is a control, and the top bar of the workstation is gone.
    assert!(h.query_by_label("Команды").is_none());
}

#[test]
fn overdue_crossing_the_threshold_takes_the_wall_over_until_it_clears() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica_with_authors(dir.path(), 3_000);
    // What is overdue at the start, counted the way the wall counts it.
    let before = tsur::views::briefing_data(
        db.clone(),
        pack(),
        Arc::new(tsur_core::clock::FixedClock(start())),
        Period::Week,
    )
    .unwrap()
    .totals
    .overdue;
    let clock = Arc::new(ManualClock::new(start()));
    let config = WallConfig {
        scenes: scenes(&[SceneKind::Kpi, SceneKind::Blocks], 30),
        alarm: AlarmRules {
            overdue_open: Some(before + 1),
            surge_ratio: None,
            surge_min_count: 0,
            // Cleared as soon as the count is below the threshold again (no margin).
            clear_below: 1.0,
        },
        ..WallConfig::default()
    };
    let mut h = harness(
        wall_options(offline(&db), clock.clone(), config),
        egui::vec2(1920.0, 1080.0),
    );
    settle(&mut h);
    assert_eq!(h.state().wall_data().unwrap().totals.overdue, before);
    assert_eq!(
        h.state().wall_shown(0, secs(&clock)),
        Some(WallShown::Scene(SceneKind::Kpi))
    );
    assert!(!shows(&h, "ТРЕВОГА"));

    // Three days on, nobody having answered, more deadlines have passed.
    clock.advance(Span::days(3));
    settle(&mut h);
    let overdue = h.state().wall_data().unwrap().totals.overdue;
    assert!(overdue > before, "{overdue} ≤ {before}");
    assert_eq!(
        h.state().wall_shown(0, secs(&clock)),
        Some(WallShown::Alarm)
    );
    assert!(shows(&h, "ТРЕВОГА"), "{:?}", texts(&h));
    // What, where and since when.
    assert!(
        shows(&h, &format!("(порог {})", before + 1)),
        "{:?}",
        texts(&h)
    );
    assert!(shows(&h, "Больше всего: "), "{:?}", texts(&h));
    assert!(shows(&h, "Порог превышен с 28.11 12:00"), "{:?}", texts(&h));
    // The alarm holds while the playlist would have moved on.
    clock.advance(Span::seconds(45));
    settle(&mut h);
    assert!(shows(&h, "ТРЕВОГА"));
    assert!(
        shows(&h, "Порог превышен с 28.11 12:00"),
        "the alarm keeps its start"
    );

    // Back to the first day: below the threshold again, the playlist returns.
    clock.set(start());
    settle(&mut h);
    assert_eq!(h.state().wall_data().unwrap().totals.overdue, before);
    assert!(!shows(&h, "ТРЕВОГА"), "{:?}", texts(&h));
    assert_eq!(
        h.state().wall_shown(0, secs(&clock)),
        Some(WallShown::Scene(SceneKind::Kpi))
    );
    assert!(h.query_by_label("Показатели и цели").is_some());
}

/// A tsur-server on 127.0.0.1 that can be stopped and started again on the same port.
struct Server {
    state: Arc<ServerState>,
    address: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn seeded(dir: &Path, appeals: u64) -> Server {
        let storage =
            Storage::open(&format!("sqlite:{}", dir.join("server.sqlite").display())).unwrap();
        tsur_server::seed::seed_demo(&storage, &pack(), &demo_params(appeals), dir, &mut |_| true)
            .unwrap();
        let state = Arc::new(ServerState::new(storage, pack()).unwrap());
        let mut server = Server {
            state,
            address: "127.0.0.1:0".parse().unwrap(),
            shutdown: None,
            thread: None,
        };
        server.start();
        server
    }

    /// A new token for `user` with `role`.
    fn token(&self, user: &str, role: Role) -> String {
        self.state
            .storage
            .create_token(user, role, &[], &[])
            .unwrap()
            .1
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn start(&mut self) {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let state = self.state.clone();
        let address = self.address;
        self.thread = Some(std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                // The port of the first start is taken again; a moment may pass before the
                // system lets it go.
                let mut tries = 0;
                let listener = loop {
                    match tokio::net::TcpListener::bind(address).await {
                        Ok(listener) => break listener,
                        Err(e) if tries < 50 => {
                            tries += 1;
                            eprintln!("port {address} not free yet: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("cannot bind {address}: {e}"),
                    }
                };
                bound_tx.send(listener.local_addr().unwrap()).unwrap();
                api::serve(listener, state, async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        }));
        self.address = bound_rx.recv().unwrap();
        self.shutdown = Some(tx);
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn the_stale_marker_comes_when_the_server_goes_and_leaves_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::seeded(dir.path(), 1_500);
    let token = server.token("стена", Role::Wall);
    let clock = Arc::new(ManualClock::new(start()));
    let replica = Replica::Remote {
        server: server.url(),
        token,
        db: dir.path().join("wall.sqlite"),
        ca_cert: None,
    };
    let config = WallConfig {
        scenes: scenes(&[SceneKind::Kpi], 60),
        ..WallConfig::default()
    };
    let mut h = harness(
        wall_options(replica, clock.clone(), config),
        egui::vec2(1920.0, 1080.0),
    );
    settle(&mut h);
    step_until(&mut h, "fresh data", |app| !app.is_wall_stale());
    assert!(!shows(&h, "ДАННЫЕ УСТАРЕЛИ"), "{:?}", texts(&h));
    assert!(shows(&h, "данные на 12:00"), "{:?}", texts(&h));

    // The server goes away: the wall says so, with since when, and keeps its figures.
    clock.advance(Span::minutes(1));
    server.stop();
    step_until(&mut h, "the stale marker", TsurApp::is_wall_stale);
    assert!(shows(&h, "ДАННЫЕ УСТАРЕЛИ"), "{:?}", texts(&h));
    assert!(shows(&h, "нет связи с сервером с 12:01"), "{:?}", texts(&h));
    assert!(h.state().wall_data().is_some());

    // It comes back on the same address: the wall recovers by itself, without a restart.
    clock.advance(Span::minutes(1));
    server.start();
    step_until(&mut h, "the marker to go", |app| !app.is_wall_stale());
    assert!(!shows(&h, "ДАННЫЕ УСТАРЕЛИ"), "{:?}", texts(&h));
    assert!(shows(&h, "данные на 12:02"), "{:?}", texts(&h));
}

/// The authors' names, phones and e-mails in a replica.
fn authors(db: &Path) -> Vec<String> {
    let store = Store::open_existing(db).unwrap();
    let mut stmt = store
        .conn()
        .prepare("SELECT author_name, author_phone, author_email FROM appeals")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok([
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ])
        })
        .unwrap();
    let mut out: Vec<String> = rows
        .flat_map(|r| r.unwrap())
        .flatten()
        .filter(|s| s.chars().count() >= 5)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Fails if any text on the wall contains any of `personal`.
fn assert_no_personal_data(h: &Harness<'_, TsurApp>, personal: &[String]) {
    let on_wall = texts(h);
    assert!(on_wall.len() > 5, "{on_wall:?}");
    for text in &on_wall {
        for p in personal {
            assert!(
                !text.contains(p.as_str()),
                "personal data «{p}» on the wall in «{text}»"
            );
        }
    }
}

#[test]
fn no_scene_shows_personal_data_even_from_a_replica_that_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = replica_with_authors(dir.path(), 4_000);
    let mut personal = authors(&db);
    assert!(
        personal.len() > 1_000,
        "the demo has authors: {}",
        personal.len()
    );
    // The worst case: a problem's title (which the wall does show) carrying an author's name,
    // phone and e-mail, and a flat, as a careless connector might write it.
    let (name, phone, email): (String, String, String) = Store::open_existing(&db)
        .unwrap()
        .conn()
        .query_row(
            "SELECT author_name, author_phone, author_email FROM appeals \
             WHERE author_name LIKE '% % %' AND author_phone IS NOT NULL \
             AND author_email IS NOT NULL LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let flat = "кв. 17".to_string();
    Store::open_existing(&db)
        .unwrap()
        .conn()
        .execute(
            "UPDATE problems SET title = title || ', ' || ?1 || ', тел. ' || ?2 || ', ' || ?3 || ', ' || ?4",
            [&name, &phone, &email, &flat],
        )
        .unwrap();
    personal.push(flat);

    // Every scene at once on a 3 × 2 canvas of a 4K screen (1920 × 1080 points at two pixels
    // per point), the playlist turned once round.
    let clock = Arc::new(ManualClock::new(start()));
    let quiet = AlarmRules {
        overdue_open: None,
        surge_ratio: None,
        surge_min_count: 0,
        ..Default::default()
    };
    let canvas = WindowSpec {
        columns: 3,
        rows: 2,
        ..WindowSpec::default()
    };
    // A year, so that the problems scene has many titles to show.
    let config = WallConfig {
        period: Period::Year,
        window: canvas.clone(),
        alarm: quiet,
        ..WallConfig::default()
    };

    let wall = |config: WallConfig| {
        let options = wall_options(offline(&db), clock.clone(), config);
        Harness::builder()
            .with_size(egui::vec2(1920.0, 1080.0))
            .with_pixels_per_point(2.0)
            .allow_missing_glyphs()
            .build_eframe(move |cc| TsurApp::new(&cc.egui_ctx, options))
    };
    let mut h = wall(config);
    settle(&mut h);
    assert_eq!(
        h.ctx.zoom_factor(),
        1.0,
        "a 4K screen at 2 px/pt needs no more zoom"
    );
    let problem_titles = h.state().wall_data().unwrap().report.problems.len();
    assert!(problem_titles > 0, "the problems scene has titles to show");
    let mut seen = Vec::new();
    for _ in 0..6 {
        clock.advance(Span::seconds(30));
        settle(&mut h);
        let now = secs(&clock);
        seen.extend((0..6).map(|c| h.state().wall_shown(c, now)));
        assert_no_personal_data(&h, &personal);
    }
    for kind in SceneKind::ALL {
        assert!(
            seen.contains(&Some(WallShown::Scene(kind))),
            "{kind:?} was not shown"
        );
    }
    drop(h);

    // The alarm scene over the whole canvas: a surge and the overdue appeals, with places.
    let mut h = wall(WallConfig {
        window: canvas,
        alarm: AlarmRules {
            overdue_open: Some(1),
            surge_ratio: Some(1.01),
            surge_min_count: 1,
            ..Default::default()
        },
        ..WallConfig::default()
    });
    settle(&mut h);
    let now = secs(&clock);
    assert!((0..6).all(|c| h.state().wall_shown(c, now) == Some(WallShown::Alarm)));
    assert!(shows(&h, "ТРЕВОГА"));
    assert_no_personal_data(&h, &personal);
}

impl Server {
    /// Ingests these appeals of another demo replica (as a connector would), under their own
    /// source so their external ids are new; long-polling clients are woken.
    fn ingest(&self, from: &Store, ids: std::ops::Range<i64>) {
        let pack = &self.state.pack;
        let engine = pack.deadline_engine();
        let items = ids
            .map(|id| {
                let mut item = tsur_server::ingest::IngestAppeal::from_appeal(
                    from.load_appeal(id).unwrap().unwrap(),
                );
                item.source = "day".into();
                tsur_server::ingest::prepare(pack, &engine, item)
            })
            .collect();
        self.state.storage.ingest(items).unwrap();
        let latest = self.state.storage.latest_seq().unwrap();
        self.state.latest_seq.send_replace(latest);
    }
}

/// What could grow on a wall left running: textures, egui's widget memory, the app's own lists.
#[derive(Debug, PartialEq)]
struct Footprint {
    textures: usize,
    widget_memory: usize,
    feed: usize,
}

fn footprint(h: &Harness<'_, TsurApp>) -> Footprint {
    let data = h.state().wall_data().unwrap();
    Footprint {
        textures: h.ctx.tex_manager().read().allocated().count(),
        widget_memory: h.ctx.data(|d| d.len()),

        feed: data.feed.len(),
    }
}

#[test]
fn a_simulated_day_of_rotation_and_syncs_leaves_nothing_growing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::seeded(dir.path(), 1_500);
    let token = server.token("стена", Role::Wall);
    // The day's new appeals: 48 batches of 10, one every half hour.
    let extra_path = dir.path().join("day.sqlite");
    let extra_params = DemoParams {
        appeals: 480,
        seed: 99,
        ..demo_params(480)
    };
    write_demo_replica(&pack(), &extra_params, &extra_path, false, &mut |_, _| true).unwrap();
    let extra = Store::open_existing(&extra_path).unwrap();

    let clock = Arc::new(ManualClock::new(start()));
    let replica = Replica::Remote {
        server: server.url(),
        token,
        db: dir.path().join("wall.sqlite"),
        ca_cert: None,
    };
    // Every scene, and a grid of them, so that every scene's widgets are made and dropped.
    let config = WallConfig {
        window: WindowSpec {
            columns: 2,
            rows: 1,
            ..WindowSpec::default()
        },
        ..WallConfig::default()
    };
    let mut h = harness(
        wall_options(replica, clock.clone(), config),
        egui::vec2(1920.0, 1080.0),
    );
    settle(&mut h);
    let step = Span::minutes(2);
    let mut first_hour = None;
    let mut batches = 0;
    for n in 1..=(24 * 60 / 2) {
        clock.advance(step);
        if n % 15 == 0 {
            let from = 1 + batches * 10;
            server.ingest(&extra, from..from + 10);
            batches += 1;
        }
        settle(&mut h);
        if n == 30 {
            first_hour = Some(footprint(&h));
        }
    }
    // The syncs of the day all arrived, and the wall shows them.
    step_until(&mut h, "the day's appeals", |app| {
        app.wall_data()
            .is_some_and(|d| d.totals.replica == 1_500 + 480)
    });
    let after_a_day = footprint(&h);
    let first_hour = first_hour.unwrap();
    eprintln!("first hour {first_hour:?}, after a day {after_a_day:?}");
    assert!(first_hour.textures > 1, "the heat map's texture is there");
    assert_eq!(
        after_a_day.textures, first_hour.textures,
        "{after_a_day:?} vs {first_hour:?}"
    );
    assert!(
        after_a_day.widget_memory <= first_hour.widget_memory + 16,
        "egui's memory grew: {after_a_day:?} vs {first_hour:?}"
    );
}

#[test]
fn the_wall_refuses_a_token_that_is_not_the_walls_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::seeded(dir.path(), 300);
    let operator = server.token("оператор", Role::Operator);
    let db = dir.path().join("wall.sqlite");
    let replica = Replica::Remote {
        server: server.url(),
        token: operator,
        db: db.clone(),
        ca_cert: None,
    };
    let clock = Arc::new(ManualClock::new(start()));
    let mut h = harness(
        wall_options(replica, clock, WallConfig::default()),
        egui::vec2(1920.0, 1080.0),
    );
    let started = Instant::now();
    let failure = loop {
        h.step();
        if let Some(failure) = h.state().failure() {
            break failure.to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the operator's token was not refused"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(failure.contains("токеном роли «стена»"), "{failure}");
    assert!(failure.contains("«operator»"), "{failure}");
    h.run_steps(3);
    assert!(shows(&h, "токеном роли «стена»"), "{:?}", texts(&h));
    // Not one appeal reached the wall's replica.
    let appeals: i64 = Store::open_existing(&db)
        .map(|s| {
            s.conn()
                .query_row("SELECT COUNT(*) FROM appeals", [], |r| r.get(0))
                .unwrap()
        })
        .unwrap_or(0);
    assert_eq!(appeals, 0);
}
