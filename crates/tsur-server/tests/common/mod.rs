//! A fresh PostgreSQL schema per test on the machine's PostgreSQL (ENGINEERING §5).
//!
//! `TSUR_TEST_POSTGRES` overrides the server (default `postgres://postgres@127.0.0.1:5432/test`).
//! Without a reachable PostgreSQL the PostgreSQL tests print why and pass, unless
//! `TSUR_REQUIRE_POSTGRES=1` (as `.ci/run` sets it): then they fail.

#![allow(dead_code)]

use tokio_postgres::NoTls;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema of its own, dropped with everything in it when this is dropped.
pub struct PgSchema {
    base: String,
    name: String,
    /// The URL that puts the backend's tables into this schema.
    pub url: String,
}

fn base_url() -> String {
    std::env::var("TSUR_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

fn required() -> bool {
    std::env::var("TSUR_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

async fn execute(base: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(base, NoTls).await?;
    let driver = tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    drop(client);
    let _ = driver.await;
    result
}

impl PgSchema {
    /// `None` (with the reason printed) when PostgreSQL is not reachable and not required.
    pub async fn create(test: &str) -> Option<PgSchema> {
        let base = base_url();
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        match execute(&base, &format!("CREATE SCHEMA {name}")).await {
            Ok(()) => {}
            Err(e) => {
                let reason = format!("PostgreSQL недоступен ({base}): {e:?}");
                if required() {
                    panic!("{test}: {reason}; TSUR_REQUIRE_POSTGRES=1 требует PostgreSQL");
                }
                eprintln!(
                    "{test}: ПРОПУЩЕН: {reason} (TSUR_REQUIRE_POSTGRES=1 сделает это ошибкой)"
                );
                return None;
            }
        }
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{name}");
        Some(PgSchema { base, name, url })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop usually runs inside the test's runtime: do the work on a thread of its own.
        let base = self.base.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            if let Err(e) = runtime.block_on(execute(&base, &sql)) {
                eprintln!("не удалось удалить схему: {e:?}");
            }
        })
        .join();
    }
}
