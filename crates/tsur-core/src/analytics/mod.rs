//! Analytics over the replica:
//!
//! - [`model`]: the in-memory read model, one column per aggregated field, updated by appeal;
//! - [`kpi`]: the indicators of PRODUCT §7 for any filter, against the pack's targets;
//! - [`ranking`]: the fair ranking of organisations (п.11.3);
//! - [`heat`]: the kernel-density heat grid; [`matrix`]: topic × municipality with a baseline;
//! - [`problems`]: the regional problem list; [`surges`]: municipality × topic alerts;
//! - [`report`]: all of it for one filter (what `tsur kpi` prints);
//! - [`formula`]: the pack's additional indicators, formulas over the KPIs' measures;
//! - [`live`]: the KPIs, ranking and heat grid of one filter kept current change by change;
//! - [`communication`]: formal replies, forwarding and back-and-forth per organisation (SQL).

pub mod communication;
pub mod formula;
pub mod heat;
pub mod kpi;
pub mod live;
pub mod matrix;
pub mod model;
pub mod problems;
pub mod ranking;
pub mod report;
pub mod snapshot;
pub mod surges;

pub use kpi::{Figure, Filter, Kpis, figures, is_overdue, previous_period, timeliness};
pub use model::{AppealFacts, Codes, NO_CODE, NO_ID, NO_TIME, ProblemInfo, ReadModel};
pub use ranking::{Component, Ranked, rank};
