//! tsur: the situation room of a Regional Management Centre (ЦУР).
//!
//! The library holds everything the binary does, so tests can drive the app and the commands
//! without a window: [`cli`] (commands for scripts), [`app`] (the egui app), [`map`] (the region
//! map), [`loader`] (background work that feeds the app), [`sync`] (the client sync engine),
//! [`progress`] (a terminal progress bar), [`paths`] and [`theme`].

pub mod app;
pub mod briefing;
pub mod cli;
pub mod format;
pub mod loader;
pub mod map;
pub mod paths;
pub mod pdf;
pub mod progress;
pub mod settings;
pub mod sync;
pub mod theme;
pub mod views;
pub mod wall;
