//! Analytics over the replica (issue 4, in progress): [`model`], the in-memory read model (one
//! column per aggregated field, updated by appeal), [`kpi`], the indicators of PRODUCT §7 for
//! any filter against the pack's targets, and [`ranking`], the fair ranking of organisations.

pub mod kpi;
pub mod model;
pub mod ranking;

pub use kpi::{Figure, Filter, Kpis, figures, previous_period};
pub use model::{AppealFacts, Codes, NO_CODE, NO_TIME, ReadModel};
pub use ranking::{Component, Ranked, rank};
