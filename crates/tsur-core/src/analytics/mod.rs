//! Analytics over the replica (issue 4, in progress): the in-memory read model that KPIs, the
//! ranking and the heat grid are computed from. So far: [`model`], the columns and how they are
//! loaded from a replica and updated by appeal.

pub mod model;

pub use model::{AppealFacts, Codes, NO_CODE, NO_TIME, ReadModel};
