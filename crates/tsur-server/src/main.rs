//! The tsur-server executable.

use anyhow::{Context, Result, bail};
use chrono::{NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tsur_core::demo::DemoParams;
use tsur_core::pack::RegionPack;
use tsur_server::api::{self, ServerState};
use tsur_server::auth::Role;
use tsur_server::storage::Storage;

#[derive(Debug, Parser)]
#[command(
    name = "tsur-server",
    version,
    about = "Сервер ЦУР: хранит обращения и раздаёт их приложениям tsur"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct DbArg {
    /// База сервера: sqlite:ПУТЬ (или просто путь к файлу)
    #[arg(long, value_name = "URL")]
    db: String,
}

#[derive(Debug, Args)]
struct PackArg {
    /// Каталог пакета региона (по умолчанию — Челябинская область из поставки)
    #[arg(long, value_name = "DIR")]
    pack: Option<PathBuf>,
}

impl PackArg {
    fn load(&self) -> Result<RegionPack> {
        RegionPack::load(RegionPack::locate(self.pack.as_deref())).map_err(anyhow::Error::new)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Запустить HTTP API v1
    Serve {
        #[command(flatten)]
        db: DbArg,
        /// Адрес и порт (порт 0 — любой свободный; выбранный адрес печатается в stdout)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8480")]
        listen: String,
        /// Сертификат сервера (PEM, с цепочкой): включает HTTPS; нужен вместе с --tls-key
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// Закрытый ключ сертификата (PEM)
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Заполнить базу демо-регионом через приём (ingest): ровно N обращений
    SeedDemo {
        #[command(flatten)]
        db: DbArg,
        /// Сколько обращений
        #[arg(long, value_name = "N")]
        appeals: u64,
        /// Зерно генератора
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
        /// Последний день демо-года, ГГГГ-ММ-ДД (по умолчанию — сегодня)
        #[arg(long, value_name = "DATE")]
        now: Option<NaiveDate>,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Токены доступа
    #[command(subcommand)]
    Token(TokenCommand),
    /// Проверить пакет региона и показать его сводку и хеш версии (JSON)
    CheckPack {
        /// Каталог пакета региона
        #[arg(long, value_name = "DIR")]
        pack: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Создать токен; он печатается один раз отдельной строкой в stdout, хранится только его хеш
    Create {
        #[command(flatten)]
        db: DbArg,
        /// Имя пользователя
        #[arg(long)]
        user: String,
        /// Роль: curator, head, block_head, operator, municipal_operator, analyst, wall
        #[arg(long)]
        role: String,
        /// Блоки (коды через запятую), для block_head и operator
        #[arg(long, value_delimiter = ',')]
        blocks: Vec<String>,
        /// Муниципалитеты (коды ОКТМО через запятую), для municipal_operator и operator
        #[arg(long, value_delimiter = ',')]
        municipalities: Vec<String>,
        #[command(flatten)]
        pack: PackArg,
    },
    /// Показать токены (без самих токенов)
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Отозвать токен по номеру из списка
    Revoke {
        #[command(flatten)]
        db: DbArg,
        /// Номер токена (столбец id в token list)
        #[arg(long)]
        id: i64,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ошибка: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not worth a panic.
fn print(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::CheckPack { pack } => {
            let pack = RegionPack::load(&pack)?;
            print(&format!("{:#}", tsur_server::pack_summary(&pack)));
            Ok(())
        }
        Command::Serve {
            db,
            listen,
            tls_cert,
            tls_key,
            pack,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(tsur_server::tls::server_config(&cert, &key)?),
                _ => None,
            };
            serve(&db.db, &listen, tls, &pack)
        }
        Command::SeedDemo {
            db,
            appeals,
            seed,
            now,
            pack,
        } => seed_demo(&db.db, appeals, seed, now, &pack),
        Command::Token(TokenCommand::Create {
            db,
            user,
            role,
            blocks,
            municipalities,
            pack,
        }) => {
            let role = Role::from_code(&role).with_context(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
                format!("неизвестная роль «{role}»; возможные: {}", known.join(", "))
            })?;
            let pack = pack.load()?;
            for block in &blocks {
                if pack.block(block).is_none() {
                    bail!("неизвестный блок «{block}»");
                }
            }
            for m in &municipalities {
                if pack.municipality(m).is_none() {
                    bail!("неизвестный муниципалитет «{m}»");
                }
            }
            if role.scoped_by_block() && blocks.is_empty() {
                bail!("для роли {role} нужен хотя бы один блок (--blocks)");
            }
            if role == Role::MunicipalOperator && municipalities.is_empty() {
                bail!("для роли {role} нужен хотя бы один муниципалитет (--municipalities)");
            }
            let storage = Storage::open(&db.db)?;
            let (id, token) = storage.create_token(&user, role, &blocks, &municipalities)?;
            eprintln!(
                "создан токен №{id} для {user} ({role}); сохраните его: он больше не будет показан"
            );
            print(&token);
            Ok(())
        }
        Command::Token(TokenCommand::List { db }) => {
            let storage = Storage::open(&db.db)?;
            for t in storage.list_tokens()? {
                let state = if t.revoked_utc.is_some() {
                    "отозван"
                } else {
                    "действует"
                };
                print(&format!(
                    "{}\t{}\t{}\tблоки: {}\tмуниципалитеты: {}\t{}",
                    t.id,
                    t.user,
                    t.role,
                    if t.blocks.is_empty() {
                        "все".into()
                    } else {
                        t.blocks.join(",")
                    },
                    if t.municipalities.is_empty() {
                        "все".into()
                    } else {
                        t.municipalities.join(",")
                    },
                    state
                ));
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { db, id }) => {
            let storage = Storage::open(&db.db)?;
            if !storage.revoke_token(id)? {
                bail!("нет действующего токена №{id}");
            }
            eprintln!("токен №{id} отозван");
            Ok(())
        }
    }
}

fn serve(
    db: &str,
    listen: &str,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    pack: &PackArg,
) -> Result<()> {
    let pack = pack.load()?;
    let storage = Storage::open(db)?;
    let state = Arc::new(ServerState::new(storage, pack).map_err(|e| anyhow::anyhow!(e.message))?);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("не удалось занять адрес {listen}"))?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!("tsur-server слушает {scheme}://{addr} (база {db})");
        print(&format!("{scheme}://{addr}"));
        match tls {
            Some(config) => api::serve_tls(listener, config, state, shutdown_signal()).await?,
            None => api::serve(listener, state, shutdown_signal()).await?,
        }
        eprintln!("tsur-server остановлен");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Generates the demo region and ingests it, so the server's data goes through the same checks
/// and deadline computation as a connector's.
fn seed_demo(
    db: &str,
    appeals: u64,
    seed: u64,
    now: Option<NaiveDate>,
    pack: &PackArg,
) -> Result<()> {
    let pack = pack.load()?;
    let storage = Storage::open(db)?;
    let today = Utc::now().with_timezone(&pack.offset()).date_naive();
    let params = DemoParams {
        appeals,
        seed,
        now_utc: DemoParams::now_for_date(&pack, now.unwrap_or(today)),
    };
    let report =
        tsur_server::seed::seed_demo(&storage, &pack, &params, &std::env::temp_dir(), &mut |_| {
            true
        })?;
    for reason in &report.reasons {
        eprintln!("отклонено: {reason}");
    }
    eprintln!(
        "демо-регион загружен: {} обращений, отклонено {}",
        report.created, report.rejected
    );
    if report.created != appeals {
        bail!(
            "ожидалось {appeals} новых обращений, создано {}",
            report.created
        );
    }
    Ok(())
}
