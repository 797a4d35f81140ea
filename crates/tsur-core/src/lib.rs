//! tsur-core: the domain of a Regional Management Centre without UI or HTTP.
//!
//! - [`domain`]: appeals, statuses and their lifecycle, answers, ratings, problems;
//! - [`pack`]: the region pack (municipalities, taxonomy, organisations, rules, calendar);
//! - [`calendar`] and [`deadline`]: working days and statutory deadlines on local days;
//! - [`store`]: the local SQLite replica with embedded migrations;
//! - [`stats`]: counts for the CLI and the first window;
//! - [`classify`]: suggested block, topic and municipality of a free text;
//! - [`repeats`]: repeat appeals and 59-ФЗ ст.11 ч.5;
//! - [`demo`]: the deterministic demo-region generator;
//! - [`sync`]: the change feed and operator actions shared by the server and the app;
//! - [`clock`]: time that tests can fix;
//! - [`analytics`]: the read model and what dashboards draw from it (KPIs, ranking, heat grid,
//!   matrix, problem list, surges).

pub mod analytics;
pub mod calendar;
pub mod classify;
pub mod clock;
pub mod deadline;
pub mod demo;
pub mod domain;
pub mod pack;
pub mod problems;
pub mod repeats;
pub mod stats;
pub mod store;
pub mod sync;
