//! The tsur-server executable.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tsur_core::pack::RegionPack;

#[derive(Debug, Parser)]
#[command(
    name = "tsur-server",
    version,
    about = "Сервер ЦУР: хранит обращения и раздаёт их приложениям tsur (синхронизация появится в следующей версии)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Проверить пакет региона и показать его сводку и хеш версии (JSON)
    CheckPack {
        /// Каталог пакета региона
        #[arg(long, value_name = "DIR")]
        pack: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckPack { pack } => match RegionPack::load(&pack) {
            Ok(pack) => {
                // A closed pipe (`| head`) is not an error worth a panic.
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{:#}",
                    tsur_server::pack_summary(&pack)
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ошибка: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
