//! The tsur executable: the desktop app, and commands for scripts.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = tsur::cli::Cli::parse();
    match tsur::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ошибка: {e:#}");
            ExitCode::FAILURE
        }
    }
}
