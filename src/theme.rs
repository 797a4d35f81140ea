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
