//! How the wall starts: which server, token and replica it uses. The wall must never sync with an
//! operator's token saved on a workstation, and keeps a replica of its own.
//!
//! One test in its own binary: it sets the process's environment (the data and config
//! directories), which no other thread reads meanwhile.

use tsur::app::AppOptions;
use tsur::loader::Replica;
use tsur::settings::{Settings, SettingsStore};

#[test]
fn the_wall_uses_a_saved_token_only_on_a_machine_set_up_as_a_wall() {
    let dir = tempfile::tempdir().unwrap();
    let (data, config) = (dir.path().join("data"), dir.path().join("config"));
    // SAFETY: the only test in this binary; nothing else runs while the variables change.
    unsafe {
        std::env::set_var(tsur::paths::DATA_DIR_ENV, &data);
        std::env::set_var(tsur::settings::CONFIG_DIR_ENV, &config);
        std::env::remove_var(tsur::app::DEMO_APPEALS_ENV);
    }
    let store = SettingsStore::new(&config);
    let workstation = Settings {
        server_url: "https://cur.example:8443".into(),
        ..Settings::default()
    };
    store.save(&workstation).unwrap();
    store.set_token("token-of-an-operator").unwrap();

    // The workstation syncs with its saved server and token.
    let options = AppOptions::new(None, None, None, None, false).unwrap();
    match &options.source.replica {
        Replica::Remote {
            server, token, db, ..
        } => {
            assert_eq!(server, "https://cur.example:8443");
            assert_eq!(token, "token-of-an-operator");
            assert_eq!(db.parent(), Some(data.as_path()));
        }
        other => panic!("{other:?}"),
    }

    // `--wall` on that workstation: not the operator's token; the demo wall instead.
    let options = AppOptions::new(None, None, None, None, true).unwrap();
    assert!(
        matches!(&options.source.replica, Replica::DemoWall(d) if d == &data),
        "{:?}",
        options.source.replica
    );

    // With a server and a token on the command line: that token, a replica of the wall's own.
    let given = Some((
        "https://cur.example:8443".to_string(),
        "wall-token".to_string(),
    ));
    let options = AppOptions::new(None, given, None, None, true).unwrap();
    let Replica::Remote { token, db, .. } = &options.source.replica else {
        panic!("{:?}", options.source.replica);
    };
    assert_eq!(token, "wall-token");
    let name = db.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("wall-"), "{name}");

    // A machine set up as a wall in its settings: its saved token is the wall's.
    store
        .save(&Settings {
            start_as_wall: true,
            ..workstation
        })
        .unwrap();
    store.set_token("token-of-the-wall").unwrap();
    let options = AppOptions::new(None, None, None, None, true).unwrap();
    let Replica::Remote { token, db, .. } = &options.source.replica else {
        panic!("{:?}", options.source.replica);
    };
    assert_eq!(token, "token-of-the-wall");
    assert!(
        db.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("wall-")
    );
}
