//! The operator workstation driven headless with egui_kittest, as an operator would: block
//! queues, escalation and bulk routing through the outbox, the municipality filter, keyboard-only
//! triage, KPI tiles that open their queue, settings across a restart, offline actions shown as
//! pending, and an action that reaches the real embedded server and comes back applied.

use chrono::{NaiveDate, TimeZone, Utc};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tsur::app::command::{Mode, UiCommand};
use tsur::app::{AppOptions, TsurApp};
use tsur::loader::{Replica, Source};
use tsur::settings::{SettingsStore, ThemeChoice};
use tsur::views::{FigureFocus, Period, QueueTab};
use tsur_core::clock::FixedClock;
use tsur_core::deadline::SlaState;
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::domain::Status;
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

const NOW: (i32, u32, u32) = (2026, 11, 25);

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(
        Utc.with_ymd_and_hms(NOW.0, NOW.1, NOW.2, 7, 0, 0).unwrap(),
    ))
}

/// A demo replica that was synced once from a server (its cursor is past 0), so that the app
/// opens it offline when the server cannot be reached.
fn synced_replica(dir: &Path, appeals: u64) -> PathBuf {
    let path = dir.join("replica.sqlite");
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let params = DemoParams {
        appeals,
        seed: 5,
        now_utc: DemoParams::now_for_date(
            &pack,
            NaiveDate::from_ymd_opt(NOW.0, NOW.1, NOW.2).unwrap(),
        ),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    Store::open_existing(&path)
        .unwrap()
        .set_sync_value("cursor", "1")
        .unwrap();
    path
}

/// The app on `db`, with its server away (nothing listens on port 9).
fn offline_options(db: &Path, config: &Path) -> AppOptions {
    AppOptions {
        source: Source {
            replica: Replica::Remote {
                server: "http://127.0.0.1:9".into(),
                token: "token-of-the-operator".into(),
                db: db.to_path_buf(),
                ca_cert: None,
            },
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 0,
        },
        clock: clock(),
        settings: Some(SettingsStore::new(config)),
        mode: Mode::Operator,
        wall: Default::default(),
        export_dir: None,
    }
}

fn harness(options: AppOptions) -> Harness<'static, TsurApp> {
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        // Citizens' texts carry emoji no bundled font has; the app draws them as boxes (egui's
        // default outside tests) rather than failing.
        .allow_missing_glyphs()
        .build_eframe(move |cc| TsurApp::new(&cc.egui_ctx, options))
}

/// Steps the app until the worker has answered everything it was asked.
fn settle(harness: &mut Harness<'_, TsurApp>) {
    let started = Instant::now();
    loop {
        harness.step();
        if harness.state().is_settled() {
            break;
        }
        assert!(
            harness.state().failure().is_none(),
            "{:?}",
            harness.state().failure()
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the app did not settle"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(3);
}

/// The outbox: (appeal, kind, base version, state), oldest first.
fn outbox(db: &Path) -> Vec<(i64, String, i64, String)> {
    let store = Store::open_existing(db).unwrap();
    let mut stmt = store
        .conn()
        .prepare("SELECT appeal_id, kind, base_version, state FROM outbox ORDER BY created_utc, id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn version_of(db: &Path, id: i64) -> i64 {
    Store::open_existing(db)
        .unwrap()
        .load_appeal(id)
        .unwrap()
        .unwrap()
        .version
}

#[test]
fn escalating_a_case_from_a_block_queue_puts_it_in_the_outbox_and_shows_it_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    // The block's tab, by its name and count.
    h.get_by_label_contains("ЖКХ (").click();
    settle(&mut h);
    assert_eq!(h.state().query().tab, QueueTab::Block("zhkh".into()));
    let rows = h.state().queue_rows();
    assert!(!rows.is_empty());
    let case = rows[0].clone();
    assert!(case.status.is_open());
    h.get_by_label(&format!("№{}", case.id)).click();
    settle(&mut h);
    h.get_by_label("Эскалировать").click();
    settle(&mut h);

    assert_eq!(
        outbox(&db),
        vec![(case.id, "escalate".into(), case.version, "pending".into())]
    );
    let row = h
        .state()
        .queue_rows()
        .into_iter()
        .find(|r| r.id == case.id)
        .unwrap();
    assert_eq!(
        row.status,
        Status::Escalated,
        "the local result shows at once"
    );
    assert_eq!(row.pending, vec!["эскалировать".to_string()]);
    h.get_by_label(&format!("⏳ {}", Status::Escalated.label_ru()));

    // The case says so too.
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    h.get_by_label(&format!("Обращение №{}", case.id));
    h.get_by_label_contains("эскалировать — ожидает отправки");
}

#[test]
fn three_marked_cases_are_routed_in_one_bulk_action() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    // Mark three with the keyboard: J moves, Space marks.
    for _ in 0..3 {
        h.key_press(egui::Key::J);
        h.run_steps(1);
        h.key_press(egui::Key::Space);
        h.run_steps(1);
    }
    let marked = h.state().selected();
    assert_eq!(marked.len(), 3, "{marked:?}");
    h.get_by_label("Направить").click();
    h.run_steps(3);
    // Enter takes the first organisation of the list.
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let first_org = pack.organisations[0].name.clone();
    let actions = outbox(&db);
    assert_eq!(actions.len(), 3, "{actions:?}");
    let mut routed: Vec<i64> = actions.iter().map(|a| a.0).collect();
    routed.sort();
    assert_eq!(routed, marked);
    assert!(actions.iter().all(|a| a.1 == "route" && a.3 == "pending"));
    for id in &marked {
        assert_eq!(
            actions.iter().find(|a| a.0 == *id).unwrap().2,
            version_of(&db, *id)
        );
    }
    let rows = h.state().queue_rows();
    for id in &marked {
        let row = rows.iter().find(|r| r.id == *id).unwrap();
        assert_eq!(row.organisation, first_org);
        assert_eq!(row.pending.len(), 1);
    }

    // Escalating the same three asks first; Escape cancels, Enter confirms.
    h.key_press(egui::Key::E);
    h.run_steps(3);
    h.get_by_label_contains("Применить к отмеченным обращениям (3)?");
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert_eq!(outbox(&db).len(), 3, "cancelled: nothing recorded");
    h.key_press(egui::Key::E);
    h.run_steps(3);
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    let actions = outbox(&db);
    assert_eq!(actions.len(), 6);
    for id in &marked {
        let on_it: Vec<_> = actions.iter().filter(|a| a.0 == *id).collect();
        assert_eq!(on_it[1].1, "escalate");
        // Queued after the route: one version further.
        assert_eq!(on_it[1].2, on_it[0].2 + 1);
    }
}

#[test]
fn the_queue_searches_cyrillic_text_whatever_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    let all = h.state().queue_len();
    // A word from an open appeal's text, typed in capitals.
    let store = Store::open_existing(&db).unwrap();
    let (id, text): (i64, String) = store
        .conn()
        .query_row(
            "SELECT id, text FROM appeals WHERE status = 'in_progress' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let word = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 7)
        .max_by_key(|w| w.chars().count())
        .unwrap()
        .to_uppercase();
    h.state_mut().run(UiCommand::FocusSearch);
    h.run_steps(2);
    h.get_by_role(egui::accesskit::Role::TextInput)
        .type_text(&word);
    settle(&mut h);
    let rows = h.state().queue_rows();
    assert!(rows.iter().any(|r| r.id == id), "№{id} has «{word}»");
    assert!(h.state().queue_len() < all);
    let lower = word.to_lowercase();
    for r in &rows {
        let a = store.load_appeal(r.id).unwrap().unwrap();
        let haystack = format!("{} {}", a.text, a.address.unwrap_or_default()).to_lowercase();
        assert!(haystack.contains(&lower), "№{} lacks «{lower}»", r.id);
    }
}

#[test]
fn picking_a_municipality_filters_the_queue_the_figures_and_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    let all = h.state().queue_len();
    h.get_by_label("Территория").click();
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Копейск")
        .click();
    settle(&mut h);
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let kopeysk = pack
        .municipalities
        .iter()
        .find(|m| m.short_name == "Копейск")
        .unwrap();
    assert_eq!(
        h.state().query().municipality.as_deref(),
        Some(kopeysk.code.as_str())
    );
    let rows = h.state().queue_rows();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.municipality == "Копейск"));
    assert!(h.state().queue_len() < all);
    // The filter shows as a chip that clears it.
    h.get_by_label("× Копейск").click();
    settle(&mut h);
    assert_eq!(h.state().query().municipality, None);
    assert_eq!(h.state().queue_len(), all);
}

#[test]
fn a_case_is_triaged_with_the_keyboard_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    // Down to the second case, open it, take it, escalate it, close it.
    h.key_press(egui::Key::J);
    h.key_press(egui::Key::J);
    h.run_steps(1);
    let id = h.state().queue_rows()[1].id;
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    h.get_by_label(&format!("Обращение №{id}"));
    h.key_press(egui::Key::T);
    settle(&mut h);
    h.key_press(egui::Key::E);
    settle(&mut h);
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert!(h.query_by_label(&format!("Обращение №{id}")).is_none());
    let seen = version_of(&db, id);
    assert_eq!(
        outbox(&db),
        vec![
            (id, "take".into(), seen, "pending".into()),
            // Each action the server applies moves the version on by one.
            (id, "escalate".into(), seen + 1, "pending".into()),
        ]
    );
    let row = h
        .state()
        .queue_rows()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    assert_eq!(row.assignee.as_deref(), Some("вы"));
    assert_eq!(row.status, Status::Escalated);
}

#[test]
fn a_kpi_tile_opens_the_queue_that_makes_its_figure() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    h.get_by_label_contains("Показатель Просрочено сейчас")
        .click();
    settle(&mut h);
    assert_eq!(
        h.state().query().tab,
        QueueTab::Figure(FigureFocus::Overdue, None)
    );
    let rows = h.state().queue_rows();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.sla == Some(SlaState::Overdue)));
    // As many as the tile says, and as many as an SQL query over the replica finds: open,
    // clock running, deadline passed, received in the last 30 days.
    let tile = h.state().tile_value("overdue_now").unwrap();
    assert_eq!(h.state().queue_len() as f64, tile);
    let now = clock().0.timestamp();
    let overdue: i64 = Store::open_existing(&db)
        .unwrap()
        .conn()
        .query_row(
            "SELECT count(*) FROM appeals WHERE due_utc <= ?1 AND received_utc >= ?2
             AND status NOT IN ('answered', 'closed', 'merged', 'rejected', 'awaiting_citizen')",
            [now, now - 30 * 86_400],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(h.state().queue_len() as i64, overdue);

    h.get_by_label_contains("Показатель Удовлетворённость")
        .click();
    settle(&mut h);
    let rows = h.state().queue_rows();
    assert!(!rows.is_empty());
    let store = Store::open_existing(&db).unwrap();
    for r in rows {
        let a = store.load_appeal(r.id).unwrap().unwrap();
        assert!(a.rating.unwrap().stars() <= 3, "№{} is unsatisfied", r.id);
    }
}

#[test]
fn settings_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 500);
    let config = dir.path().join("cfg");
    {
        let mut h = harness(offline_options(&db, &config));
        settle(&mut h);
        h.get_by_label("Период").click();
        h.run_steps(2);
        h.get_by_label("90 дней").click();
        settle(&mut h);
        h.get_by_label("Муниципалитеты").click();
        h.run_steps(2);
        h.state_mut().run(UiCommand::OpenSettings);
        // The dialog finds its size and place over a few frames.
        h.run_steps(8);
        h.get_by_label("Тёмная").click();
        h.run_steps(2);
        h.get_by_label("Сохранить").click();
        // Written by the settings thread, which then says so.
        let started = Instant::now();
        while h.query_by_label("Настройки сохранены").is_none() {
            assert!(started.elapsed() < Duration::from_secs(10), "not saved");
            h.step();
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let saved = std::fs::read_to_string(config.join("settings.toml")).unwrap();
    assert!(saved.contains("theme = \"dark\""), "{saved}");
    let mut h = harness(offline_options(&db, &config));
    settle(&mut h);
    assert_eq!(h.state().settings().theme, ThemeChoice::Dark);
    assert_eq!(h.state().query().period, Period::Quarter);
    assert!(h.state().settings().layers.areas);
    h.get_by_label("за 90 дней");
}

#[test]
fn offline_the_actions_wait_visibly_and_the_status_says_since_when() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 1_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    let started = Instant::now();
    while h
        .query_by_label_contains("нет связи с сервером с")
        .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no offline status"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let id = h.state().queue_rows()[0].id;
    h.get_by_label(&format!("№{id}")).click();
    settle(&mut h);
    h.get_by_label("Взять").click();
    settle(&mut h);
    h.get_by_label_contains("записано, будет отправлено на сервер");
    let row = &h.state().queue_rows()[0];
    assert_eq!(row.pending, vec!["взять в работу".to_string()]);
    // The top bar counts it once the sync loop has looked at the outbox again.
    let started = Instant::now();
    while h.query_by_label_contains("в очереди действий: 1").is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no pending count"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_action_reaches_the_real_server_and_comes_back_applied() {
    let dir = tempfile::tempdir().unwrap();
    let options = AppOptions {
        source: Source {
            replica: Replica::Demo(dir.path().join("data")),
            pack_dir: RegionPack::bundled_dir(),
            demo_appeals: 2_000,
        },
        clock: clock(),
        settings: None,
        mode: Mode::Operator,
        wall: Default::default(),
        export_dir: None,
    };
    let mut h = harness(options);
    settle(&mut h);
    let case = h.state().queue_rows()[0].clone();
    h.get_by_label(&format!("№{}", case.id)).click();
    settle(&mut h);
    h.get_by_label("Эскалировать").click();
    settle(&mut h);
    let db = tsur::loader::demo_replica_in(&dir.path().join("data"));
    // The sync loop delivers it and pulls the server's new version of the appeal.
    let started = Instant::now();
    loop {
        h.step();
        let row = h.state().queue_rows().into_iter().find(|r| r.id == case.id);
        let done = outbox(&db).first().is_some_and(|a| a.3 == "applied")
            && row.is_some_and(|r| r.pending.is_empty() && r.status == Status::Escalated);
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not applied: {:?}",
            outbox(&db)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(version_of(&db, case.id), case.version + 1);
}

#[test]
fn the_review_works_from_the_replica_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
    let started = Instant::now();
    while !h.state().has_review() {
        assert!(started.elapsed() < Duration::from_secs(60));
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(3);
    h.get_by_label("Поступило");
    h.get_by_label("Рейтинг организаций").click();
    h.run_steps(3);
    h.get_by_label("Место");
    h.get_by_label("Проблемы и всплески").click();
    h.run_steps(3);
    h.get_by_label("Проблемы");
}

#[test]
fn a_missing_offline_basemap_is_said_once_and_the_map_stays_plain() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 300);
    let config = dir.path().join("cfg");
    let store = SettingsStore::new(&config);
    store
        .save(&tsur::settings::Settings {
            basemap: tsur::settings::Basemap::PmTiles,
            pmtiles_path: dir.path().join("нет-такого.pmtiles").display().to_string(),
            ..Default::default()
        })
        .unwrap();
    let mut h = harness(offline_options(&db, &config));
    settle(&mut h);
    h.get_by_label_contains("нет-такого.pmtiles не найден: карта без подложки");
    assert!(h.state().is_ready());
}

#[test]
fn the_saved_read_model_is_used_only_for_the_replica_state_it_was_made_from() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 800);
    let config = dir.path().join("cfg");
    let store = Store::open_existing(&db).unwrap();
    let open: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM appeals
             WHERE status NOT IN ('answered', 'closed', 'merged', 'rejected')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(open > 0);
    let shown = |n: i64| format!("Открыто: {}", tsur::app::group_digits(n as u64));
    {
        let mut h = harness(offline_options(&db, &config));
        settle(&mut h);
        h.get_by_label(&shown(open));
    } // closing saves the model beside the replica
    assert!(PathBuf::from(format!("{}.model", db.display())).exists());

    // The rows change behind the app's back while the cursor stays: the saved model (made from
    // this cursor) is what the app shows, which proves it is read instead of the replica.
    store
        .conn()
        .execute("UPDATE appeals SET status = 'closed'", [])
        .unwrap();
    {
        let mut h = harness(offline_options(&db, &config));
        settle(&mut h);
        h.get_by_label(&shown(open));
    }
    // A sync moves the cursor: the saved model is not for this state, the replica is read.
    store.set_sync_value("cursor", "2").unwrap();
    let mut h = harness(offline_options(&db, &config));
    settle(&mut h);
    h.get_by_label(&shown(0));
}

#[test]
fn a_social_incident_shows_its_first_reaction_clock_beside_the_answer_clock() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let id: i64 = Store::open_existing(&db)
        .unwrap()
        .conn()
        .query_row(
            "SELECT id FROM appeals WHERE regime = 'social'
             AND status NOT IN ('answered', 'closed', 'merged', 'rejected') ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    // Found by its number, opened with the keyboard.
    h.state_mut().run(UiCommand::FocusSearch);
    h.run_steps(2);
    h.get_by_role(egui::accesskit::Role::TextInput)
        .type_text(&id.to_string());
    settle(&mut h);
    h.get_by_label(&format!("№{id}")).click();
    settle(&mut h);
    h.key_press(egui::Key::Enter);
    settle(&mut h);
    let case = h.state().case_view().unwrap();
    assert_eq!(case.appeal.id, id);
    assert!(
        case.deadlines
            .iter()
            .any(|d| d.starts_with("первая реакция:")),
        "{:?}",
        case.deadlines
    );
    assert!(case.deadlines.iter().any(|d| d.starts_with("ответ:")));
}

#[test]
fn an_answer_from_a_template_is_recorded_once_and_the_composer_empties() {
    let dir = tempfile::tempdir().unwrap();
    let db = synced_replica(dir.path(), 3_000);
    let mut h = harness(offline_options(&db, &dir.path().join("cfg")));
    settle(&mut h);
    // An open case of a block with templates (every block has them in the pack).
    let id = h
        .state()
        .queue_rows()
        .into_iter()
        .find(|r| !r.topic.is_empty())
        .unwrap()
        .id;
    h.get_by_label(&format!("№{id}")).click();
    settle(&mut h);
    h.key_press(egui::Key::O);
    settle(&mut h);
    h.get_by_label("Принято в работу").click();
    h.run_steps(2);
    // Sent twice in a row: the second press finds the button waiting for the first.
    h.get_by_label("Отправить ответ").click();
    h.run_steps(1);
    h.get_by_label("Отправить ответ").click();
    settle(&mut h);
    let answers: Vec<_> = outbox(&db)
        .into_iter()
        .filter(|a| a.1 == "answer")
        .collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, id);
    let payload: String = Store::open_existing(&db)
        .unwrap()
        .conn()
        .query_row(
            "SELECT payload FROM outbox WHERE kind = 'answer'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(payload.contains("Центром управления регионом"), "{payload}");
    assert!(
        !payload.contains("{тема}"),
        "the topic is filled in: {payload}"
    );
    assert!(h.state().composer_text().is_empty());
}
