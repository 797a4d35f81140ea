//! tsur-server: the centre's appeal server.
//!
//! - [`storage`]: versioned appeals, the change log, tokens and the audit log (SQLite today);
//! - [`auth`]: roles, scopes, tokens and personal-data masking;
//! - [`ingest`]: checking connectors' appeals against the pack and computing their deadlines;
//! - [`enrich`]: repeat links and suggested classifications worked out at ingest;
//! - [`actions`]: operator actions on an appeal (lifecycle, pack, deadline rules);
//! - [`api`]: HTTP API v1 (axum); [`tls`]: HTTPS for it;
//! - [`seed`]: the demo region through ingest; [`embedded`]: a server inside the app for demo mode.

pub mod actions;
pub mod api;
pub mod auth;
pub mod embedded;
pub mod enrich;
pub mod ingest;
pub mod seed;
pub mod storage;
pub mod tls;

use serde_json::{Value, json};
use tsur_core::pack::RegionPack;

/// A summary of a region pack: what `GET /api/v1/pack` will announce (name, version hash, sizes).
pub fn pack_summary(pack: &RegionPack) -> Value {
    json!({
        "region": pack.region.id,
        "name": pack.region.name,
        "timezone": pack.region.timezone,
        "version_hash": pack.version_hash,
        "municipalities": pack.municipalities.len(),
        "settlements": pack.settlements.len(),
        "blocks": pack.blocks.len(),
        "topics": pack.blocks.iter().map(|b| b.topics.len()).sum::<usize>(),
        "organisations": pack.organisations.len(),
        "deadline_rules": pack.deadline_rules.len(),
        "kpi_targets": pack.kpi_targets.len(),
        "calendar_years": pack.calendar.covered_years().map(|(a, b)| json!([a, b])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_describes_the_bundled_pack() {
        let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
        let summary = pack_summary(&pack);
        assert_eq!(summary["municipalities"], 43);
        assert_eq!(summary["blocks"], 8);
        assert_eq!(summary["version_hash"].as_str().unwrap().len(), 64);
        assert_eq!(summary["calendar_years"], json!([2020, 2027]));
    }
}
