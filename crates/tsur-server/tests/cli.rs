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
    // The 300 seeded appeals, then the problems the server grouped some of them into (each a
    // problem record and new versions of its appeals).
    assert!(
        health["latest_seq"].as_i64().unwrap() >= 300,
        "every seeded appeal: {health}"
    );
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

/// A self-signed certificate for 127.0.0.1 and localhost, written as PEM files into `dir`.
fn self_signed(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

#[test]
fn serves_https_with_the_given_certificate_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("s.sqlite").display());
    let (cert, key) = self_signed(dir.path(), "server");
    let (_other_cert, other_key) = self_signed(dir.path(), "other");
    let (cert, key, other_key) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        other_key.to_str().unwrap(),
    );

    // Half a pair, a missing file and a key of another certificate are refused before serving.
    let out = server(&[
        "serve",
        "--db",
        &db,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
    ]);
    assert!(!out.status.success(), "a certificate without its key");
    let out = server(&[
        "serve",
        "--db",
        &db,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        "/nonexistent/server.key",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/server.key"),
        "the missing file is named: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server(&[
        "serve",
        "--db",
        &db,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        other_key,
    ]);
    assert!(!out.status.success(), "a key that is not the certificate's");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("не подходят"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = server(&[
        "serve",
        "--db",
        &db,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        key,
        "--tls-key",
        key,
    ]);
    assert!(!out.status.success(), "a key file given as the certificate");
    assert!(String::from_utf8_lossy(&out.stderr).contains("нет ни одного сертификата"));

    let mut child = Command::new(env!("CARGO_BIN_EXE_tsur-server"))
        .args([
            "serve",
            "--db",
            &db,
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pem = std::fs::read(cert).unwrap();
    let (trusted, untrusted, plain) = runtime.block_on(async {
        let trusting = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .build()
            .unwrap();
        let trusted = trusting
            .get(format!("{url}/api/v1/health"))
            .send()
            .await
            .map(|r| r.status());
        let untrusted = reqwest::Client::new()
            .get(format!("{url}/api/v1/health"))
            .send()
            .await
            .map(|r| r.status());
        let plain = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/health",
                url.replacen("https", "http", 1)
            ))
            .send()
            .await
            .map(|r| r.status());
        // After refusing strangers the server still answers.
        let again = trusting
            .get(format!("{url}/api/v1/capabilities"))
            .send()
            .await
            .map(|r| r.status());
        assert_eq!(again.unwrap(), reqwest::StatusCode::OK);
        (trusted, untrusted, plain)
    });
    assert_eq!(trusted.unwrap(), reqwest::StatusCode::OK);
    assert!(untrusted.is_err(), "an unknown certificate is not trusted");
    assert!(plain.is_err(), "no plain HTTP on an HTTPS port");
    child.kill().unwrap();
    let _ = child.wait();
}
