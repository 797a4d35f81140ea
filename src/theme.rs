//! Design tokens: colours and sizes in one place.

use egui::Color32;

/// The map's background when no basemap is shown.
pub const MAP_BACKGROUND: Color32 = Color32::from_rgb(0xE9, 0xEC, 0xEF);
/// Region frame on the plain background.
pub const MAP_FRAME: Color32 = Color32::from_rgb(0xB0, 0xB8, 0xC0);
/// Municipality centres and their names.
pub const MUNICIPALITY_DOT: Color32 = Color32::from_rgb(0x34, 0x3A, 0x40);
pub const MUNICIPALITY_LABEL: Color32 = Color32::from_rgb(0x21, 0x25, 0x29);
/// Errors shown to the user.
pub const ERROR_TEXT: Color32 = Color32::from_rgb(0xC9, 0x2A, 0x2A);
/// Overdue counts.
pub const OVERDUE_TEXT: Color32 = Color32::from_rgb(0xC9, 0x2A, 0x2A);

/// A readable sequential ramp for appeal density (light yellow → orange → dark red), `t` in 0..=1.
pub fn heat(t: f32) -> Color32 {
    const STOPS: [(f32, [u8; 3]); 4] = [
        (0.0, [0xFF, 0xE0, 0x66]),
        (0.4, [0xFD, 0x8D, 0x3C]),
        (0.75, [0xE3, 0x1A, 0x1C]),
        (1.0, [0x80, 0x00, 0x26]),
    ];
    let t = t.clamp(0.0, 1.0);
    for pair in STOPS.windows(2) {
        let ((t0, c0), (t1, c1)) = (pair[0], pair[1]);
        if t <= t1 {
            let f = (t - t0) / (t1 - t0);
            let mix = |a: u8, b: u8| (f32::from(a) + (f32::from(b) - f32::from(a)) * f) as u8;
            return Color32::from_rgba_unmultiplied(
                mix(c0[0], c1[0]),
                mix(c0[1], c1[1]),
                mix(c0[2], c1[2]),
                220,
            );
        }
    }
    Color32::from_rgb(0x80, 0x00, 0x26)
}

/// Deadline states in the queue: on track, at risk, overdue, paused, answered.
pub const SLA_ON_TRACK: Color32 = Color32::from_rgb(0x2B, 0x8A, 0x3E);
pub const SLA_AT_RISK: Color32 = Color32::from_rgb(0xE0, 0x8E, 0x0B);
pub const SLA_OVERDUE: Color32 = Color32::from_rgb(0xC9, 0x2A, 0x2A);
pub const SLA_PAUSED: Color32 = Color32::from_rgb(0x86, 0x8E, 0x96);
/// Undelivered actions (the local result waits for the server).
pub const PENDING: Color32 = Color32::from_rgb(0x1C, 0x7E, 0xD6);
/// A KPI off its target.
pub const OFF_TARGET: Color32 = Color32::from_rgb(0xC9, 0x2A, 0x2A);
pub const ON_TARGET: Color32 = Color32::from_rgb(0x2B, 0x8A, 0x3E);
/// Problem markers on the map.
pub const PROBLEM_MARKER: Color32 = Color32::from_rgb(0x6F, 0x42, 0xC1);
/// Single appeals on the map.
pub const APPEAL_DOT: Color32 = Color32::from_rgb(0x1C, 0x7E, 0xD6);
/// The municipality picked as a filter.
pub const SELECTED_AREA: Color32 = Color32::from_rgb(0x1C, 0x7E, 0xD6);

/// The colour of a deadline state.
pub fn sla(state: tsur_core::deadline::SlaState) -> Color32 {
    use tsur_core::deadline::SlaState;
    match state {
        SlaState::OnTrack | SlaState::AnsweredOnTime => SLA_ON_TRACK,
        SlaState::AtRisk => SLA_AT_RISK,
        SlaState::Overdue | SlaState::AnsweredLate => SLA_OVERDUE,
        SlaState::Paused => SLA_PAUSED,
    }
}

/// A ramp from good (green) through amber to bad (red), `t` in 0..=1, for the area layer.
pub fn good_to_bad(t: f32) -> Color32 {
    let t = t.clamp(0.0, 1.0);
    let (a, b, f) = if t < 0.5 {
        ([0x40, 0xC0, 0x57], [0xFC, 0xC4, 0x19], t * 2.0)
    } else {
        ([0xFC, 0xC4, 0x19], [0xE0, 0x31, 0x31], (t - 0.5) * 2.0)
    };
    let mix = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * f) as u8;
    Color32::from_rgba_unmultiplied(mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2]), 150)
}

/// Applies the light or dark theme.
pub fn apply(ctx: &egui::Context, choice: crate::settings::ThemeChoice) {
    ctx.set_theme(match choice {
        crate::settings::ThemeChoice::Light => egui::Theme::Light,
        crate::settings::ThemeChoice::Dark => egui::Theme::Dark,
    });
}
