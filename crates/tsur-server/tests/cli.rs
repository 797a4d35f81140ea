//! The tsur-server executable: tokens, seeding, serving.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn server(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tsur-server"))
        .args(args)
        .env_remove("TSUR_PACK_DIR")
        .output()
        .unwrap()
}

#[test]
fn tokens_seed_and_serve() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("s.sqlite").display());

    let out = server(&[
        "seed-demo",
        "--db",
        &db,
        "--appeals",
        "300",
        "--seed",
        "2",
        "--now",
        "2026-11-25",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = server(&[
        "token",
        "create",
        "--db",
        &db,
        "--user",
        "Иванова",
        "--role",
        "operator",
        "--blocks",
        "zhkh,roads",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone on one line: {stdout:?}");
    let token = lines[0];
    assert!(
        token.len() >= 32
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(token),
        "the token is not repeated in messages"
    );

    let out = server(&[
        "token", "create", "--db", &db, "--user", "x", "--role", "emperor",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("неизвестная роль"));
    let out = server(&[
        "token", "create", "--db", &db, "--user", "x", "--role", "operator",
    ]);
    assert!(!out.status.success(), "an operator needs blocks");
    let out = server(&[
        "token", "create", "--db", &db, "--user", "x", "--role", "operator", "--blocks", "cosmos",
    ]);
    assert!(!out.status.success(), "unknown block");

    let out = server(&["token", "list", "--db", &db]);
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(
        list.contains("Иванова") && list.contains("zhkh,roads") && !list.contains(token),
        "{list}"
    );

    // Serve on an ephemeral port and read from it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsur-server"))
        .args(["serve", "--db", &db, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (health, page) = runtime.block_on(async {
        let http = reqwest::Client::new();
        let health: serde_json::Value = http
            .get(format!("{url}/api/v1/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page: serde_json::Value = http
            .get(format!("{url}/api/v1/changes?limit=5000"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (health, page)
    });
    assert_eq!(health["latest_seq"], 300, "exactly the seeded appeals");
    let changes = page["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(
        changes
            .iter()
            .all(|c| c["data"]["block"] == "zhkh" || c["data"]["block"] == "roads")
    );

    let out = server(&["token", "revoke", "--db", &db, "--id", "1"]);
    assert!(out.status.success());
    let out = server(&["token", "revoke", "--db", &db, "--id", "1"]);
    assert!(!out.status.success(), "revoking twice says so");
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/api/v1/changes"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(
        status,
        reqwest::StatusCode::UNAUTHORIZED,
        "revoked while the server runs"
    );
    child.kill().unwrap();
    let _ = child.wait();

    let out = server(&["serve", "--db", "mysql://nowhere"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("неподдерживаемый адрес"));
}
