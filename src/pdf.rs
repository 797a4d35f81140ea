//! A small PDF writer for A4 reports: Cyrillic text in one embedded font plus simple vector
//! graphics (rectangles, circles, polylines).
//!
//! Coordinates are millimetres from the page's top-left corner with y growing downwards, the way
//! a report is laid out; text sizes are in points. The font (`epaint_default_fonts::UBUNTU_LIGHT`)
//! is embedded whole as a Type0/CIDFontType2 font with Identity-H encoding, so the content streams
//! hold 2-byte glyph ids and a ToUnicode CMap maps them back to text for search and copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use pdf_writer::types::{CidFontType, FontFlags, LineCapStyle, LineJoinStyle, SystemInfo};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use ttf_parser::{Face, GlyphId};

/// An RGB colour, components 0..=1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0.0, 0.0, 0.0);
    pub const GREY: Rgb = Rgb(0.45, 0.45, 0.45);
    pub const RED: Rgb = Rgb(0.75, 0.1, 0.1);
    pub const GREEN: Rgb = Rgb(0.1, 0.5, 0.2);
    pub const WHITE: Rgb = Rgb(1.0, 1.0, 1.0);

    pub fn from_u8(r: u8, g: u8, b: u8) -> Rgb {
        Rgb(
            f32::from(r) / 255.0,
            f32::from(g) / 255.0,
            f32::from(b) / 255.0,
        )
    }
}

pub const A4_WIDTH_MM: f32 = 210.0;
pub const A4_HEIGHT_MM: f32 = 297.0;

/// Points per millimetre (1 pt = 1/72 inch).
const PT_PER_MM: f32 = 72.0 / 25.4;
/// Line height of [`Page::paragraph`] as a multiple of the font size.
const LINE_HEIGHT: f32 = 1.3;
/// The resource name of the single font on every page.
const FONT_NAME: Name<'static> = Name(b"F1");
/// Stands in for characters the font has no glyph for.
const REPLACEMENT: char = '?';
const ELLIPSIS: char = '…';

fn mm_to_pt(mm: f32) -> f32 {
    mm * PT_PER_MM
}

fn pt_to_mm(pt: f32) -> f32 {
    pt / PT_PER_MM
}

/// PDF user space has its origin at the bottom-left, so our top-down y is flipped here.
fn y_to_pt(y_mm: f32) -> f32 {
    mm_to_pt(A4_HEIGHT_MM - y_mm)
}

/// The parsed embedded font, shared by the document and its pages.
struct Font {
    data: &'static [u8],
    face: Face<'static>,
    units_per_em: f32,
    /// Glyph used for unsupported characters; 0 (.notdef) only if the font lacks '?' too.
    replacement: GlyphId,
}

impl Font {
    fn load(data: &'static [u8]) -> anyhow::Result<Font> {
        let face = Face::parse(data, 0).map_err(|e| anyhow!("шрифт не читается: {e}"))?;
        let units_per_em = f32::from(face.units_per_em());
        let replacement = face.glyph_index(REPLACEMENT).unwrap_or(GlyphId(0));
        Ok(Font {
            data,
            face,
            units_per_em,
            replacement,
        })
    }

    /// Glyphs for `text`, each with the char it stands for (used for the ToUnicode map).
    /// Missing characters become '?'; control characters are dropped, except that tabs and
    /// line breaks become spaces so words do not run together.
    fn glyphs(&self, text: &str) -> Vec<(GlyphId, char)> {
        text.chars()
            .filter_map(|c| {
                let c = match c {
                    c if c.is_whitespace() && c.is_control() => ' ',
                    c if c.is_control() => return None,
                    c => c,
                };
                Some(match self.face.glyph_index(c) {
                    Some(g) if g.0 != 0 => (g, c),
                    // Thin and no-break spaces (digit groups are separated by U+202F) the font
                    // lacks: a plain space, never a '?' inside a number.
                    _ if c.is_whitespace() => match self.face.glyph_index(' ') {
                        Some(g) => (g, ' '),
                        None => (self.replacement, REPLACEMENT),
                    },
                    _ => (self.replacement, REPLACEMENT),
                })
            })
            .collect()
    }

    /// Advance in font units per em (the PDF /W convention is 1000 units per em).
    fn advance_1000(&self, glyph: GlyphId) -> f32 {
        let adv = self.face.glyph_hor_advance(glyph).unwrap_or(0);
        f32::from(adv) * 1000.0 / self.units_per_em
    }

    fn width_mm(&self, text: &str, size_pt: f32) -> f32 {
        let units: f32 = self
            .glyphs(text)
            .iter()
            .map(|&(g, _)| self.advance_1000(g))
            .sum();
        pt_to_mm(units / 1000.0 * size_pt)
    }

    /// Distance from the top of the line box to the baseline, in mm.
    fn ascent_mm(&self, size_pt: f32) -> f32 {
        pt_to_mm(f32::from(self.face.ascender()) / self.units_per_em * size_pt)
    }

    /// Font-unit value scaled to the 1000-unit glyph space of font descriptors.
    fn scaled(&self, v: i16) -> f32 {
        f32::from(v) * 1000.0 / self.units_per_em
    }

    /// The PostScript name, reduced to characters that are safe in a PDF name.
    fn postscript_name(&self) -> String {
        let name = self
            .face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_default();
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if clean.is_empty() {
            "Embedded".to_owned()
        } else {
            clean
        }
    }
}

/// One A4 portrait page being drawn.
pub struct Page {
    font: Arc<Font>,
    content: Content,
    /// Glyphs drawn on this page and the chars they stand for.
    used: BTreeMap<u16, char>,
}

impl Page {
    fn new(font: Arc<Font>) -> Page {
        Page {
            font,
            content: Content::new(),
            used: BTreeMap::new(),
        }
    }

    /// Width of `text` at `size_pt`, in mm (same as [`Document::text_width`]).
    pub fn text_width(&self, text: &str, size_pt: f32) -> f32 {
        self.font.width_mm(text, size_pt)
    }

    /// Height of one line of [`Page::paragraph`] at `size_pt`, in mm.
    pub fn line_height(size_pt: f32) -> f32 {
        pt_to_mm(size_pt * LINE_HEIGHT)
    }

    /// Text with its line box's top at (x, y); the baseline is y + ascent. Returns the width
    /// drawn in mm.
    pub fn text(&mut self, x: f32, y: f32, size_pt: f32, color: Rgb, text: &str) -> f32 {
        let glyphs = self.font.glyphs(text);
        if glyphs.is_empty() {
            return 0.0;
        }
        let mut bytes = Vec::with_capacity(glyphs.len() * 2);
        let mut units = 0.0;
        for &(g, c) in &glyphs {
            bytes.extend_from_slice(&g.0.to_be_bytes());
            self.used.entry(g.0).or_insert(c);
            units += self.font.advance_1000(g);
        }
        let baseline = y + self.font.ascent_mm(size_pt);
        self.content
            .begin_text()
            .set_fill_rgb(color.0, color.1, color.2)
            .set_font(FONT_NAME, size_pt)
            .next_line(mm_to_pt(x), y_to_pt(baseline))
            .show(Str(&bytes))
            .end_text();
        pt_to_mm(units / 1000.0 * size_pt)
    }

    /// Right-aligned text ending at `x_right`.
    pub fn text_right(&mut self, x_right: f32, y: f32, size_pt: f32, color: Rgb, text: &str) {
        let w = self.text_width(text, size_pt);
        self.text(x_right - w, y, size_pt, color, text);
    }

    /// Text wrapped at word boundaries into `max_width` mm; a word longer than a line is broken
    /// between characters, and '\n' starts a new line. Returns the height used in mm
    /// (line height = 1.3 × size; 0 for empty text).
    pub fn paragraph(
        &mut self,
        x: f32,
        y: f32,
        max_width: f32,
        size_pt: f32,
        color: Rgb,
        text: &str,
    ) -> f32 {
        let lines = self.wrap(text, max_width, size_pt);
        let line_height = Page::line_height(size_pt);
        for (i, line) in lines.iter().enumerate() {
            self.text(x, y + i as f32 * line_height, size_pt, color, line);
        }
        lines.len() as f32 * line_height
    }

    /// Splits `text` into lines no wider than `max_width` (except a single character that is
    /// wider on its own, which still gets a line so no text is lost).
    pub fn wrap(&self, text: &str, max_width: f32, size_pt: f32) -> Vec<String> {
        if text.is_empty() {
            return Vec::new();
        }
        let fits = |s: &str| self.text_width(s, size_pt) <= max_width;
        let mut lines = Vec::new();
        for hard_line in text.split('\n') {
            let mut line = String::new();
            for word in hard_line.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if fits(&candidate) {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                if fits(word) {
                    line = word.to_owned();
                    continue;
                }
                // Too long for any line: break it between characters.
                for c in word.chars() {
                    let mut candidate = line.clone();
                    candidate.push(c);
                    if line.is_empty() || fits(&candidate) {
                        line = candidate;
                    } else {
                        lines.push(std::mem::replace(&mut line, c.to_string()));
                    }
                }
            }
            lines.push(line);
        }
        lines
    }

    /// Text cut with "…" to fit `max_width` (drawn unchanged if it already fits; nothing is
    /// drawn if not even "…" fits).
    pub fn text_fitted(
        &mut self,
        x: f32,
        y: f32,
        max_width: f32,
        size_pt: f32,
        color: Rgb,
        text: &str,
    ) {
        let fitted = self.fit(text, max_width, size_pt);
        self.text(x, y, size_pt, color, &fitted);
    }

    /// `text`, shortened with a trailing "…" if needed, so that it fits `max_width` mm.
    pub fn fit(&self, text: &str, max_width: f32, size_pt: f32) -> String {
        if self.text_width(text, size_pt) <= max_width {
            return text.to_owned();
        }
        let mut chars: Vec<char> = text.chars().collect();
        while !chars.is_empty() {
            chars.pop();
            let mut s: String = chars.iter().collect::<String>().trim_end().to_owned();
            s.push(ELLIPSIS);
            if self.text_width(&s, size_pt) <= max_width {
                return s;
            }
        }
        String::new()
    }

    fn set_stroke(&mut self, color: Rgb, width_mm: f32) {
        self.content
            .set_stroke_rgb(color.0, color.1, color.2)
            .set_line_width(mm_to_pt(width_mm));
    }

    /// Fills and/or strokes the path just built; with neither it discards the path.
    fn paint(&mut self, fill: Option<Rgb>, stroke: Option<(Rgb, f32)>) {
        if let Some(c) = fill {
            self.content.set_fill_rgb(c.0, c.1, c.2);
        }
        if let Some((c, w)) = stroke {
            self.set_stroke(c, w);
        }
        match (fill.is_some(), stroke.is_some()) {
            (true, true) => self.content.fill_nonzero_and_stroke(),
            (true, false) => self.content.fill_nonzero(),
            (false, true) => self.content.stroke(),
            (false, false) => self.content.end_path(),
        };
    }

    /// A rectangle with its top-left corner at (x, y).
    pub fn rect(
        &mut self,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
    ) {
        self.content
            .rect(mm_to_pt(x), y_to_pt(y + h), mm_to_pt(w), mm_to_pt(h));
        self.paint(fill, stroke);
    }

    /// A circle drawn as four cubic Bézier arcs.
    pub fn circle(
        &mut self,
        cx: f32,
        cy: f32,
        r: f32,
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
    ) {
        // Control-point distance that makes a quarter arc from one cubic (error < 0.03 %).
        const KAPPA: f32 = 0.552_284_8;
        let (x, y, r) = (mm_to_pt(cx), y_to_pt(cy), mm_to_pt(r));
        let k = r * KAPPA;
        self.content
            .move_to(x + r, y)
            .cubic_to(x + r, y + k, x + k, y + r, x, y + r)
            .cubic_to(x - k, y + r, x - r, y + k, x - r, y)
            .cubic_to(x - r, y - k, x - k, y - r, x, y - r)
            .cubic_to(x + k, y - r, x + r, y - k, x + r, y)
            .close_path();
        self.paint(fill, stroke);
    }

    /// An open line through `points` with round joins and caps (nothing for fewer than 2).
    pub fn polyline(&mut self, points: &[(f32, f32)], color: Rgb, width: f32) {
        let [(x0, y0), rest @ ..] = points else {
            return;
        };
        if rest.is_empty() {
            return;
        }
        self.content.save_state();
        self.set_stroke(color, width);
        self.content
            .set_line_join(LineJoinStyle::RoundJoin)
            .set_line_cap(LineCapStyle::RoundCap)
            .move_to(mm_to_pt(*x0), y_to_pt(*y0));
        for &(x, y) in rest {
            self.content.line_to(mm_to_pt(x), y_to_pt(y));
        }
        self.content.stroke().restore_state();
    }
}

/// A PDF document of A4 portrait pages sharing one embedded font.
pub struct Document {
    title: String,
    font: Arc<Font>,
    pages: Vec<Page>,
}

impl Document {
    /// An empty document with the embedded font; `title` goes into the document info (Title),
    /// and the Producer is "tsur".
    pub fn new(title: &str) -> anyhow::Result<Document> {
        let font =
            Font::load(epaint_default_fonts::UBUNTU_LIGHT).context("встроенный шрифт для PDF")?;
        Ok(Document {
            title: title.to_owned(),
            font: Arc::new(font),
            pages: Vec::new(),
        })
    }

    /// Starts a new A4 portrait page and makes it current; returns its index (0-based).
    pub fn add_page(&mut self) -> usize {
        self.pages.push(Page::new(Arc::clone(&self.font)));
        self.pages.len() - 1
    }

    /// The current page (adds the first page if there is none).
    pub fn page(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            self.add_page();
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// An earlier page by index, e.g. to add "page N of M" footers once all pages exist.
    pub fn page_at(&mut self, index: usize) -> Option<&mut Page> {
        self.pages.get_mut(index)
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Width of `text` at `size_pt`, in mm (from the font's advances).
    pub fn text_width(&self, text: &str, size_pt: f32) -> f32 {
        self.font.width_mm(text, size_pt)
    }

    /// Serialises the PDF. A document without pages gets one blank page, since a PDF must
    /// have at least one.
    pub fn finish(mut self) -> Vec<u8> {
        if self.pages.is_empty() {
            self.add_page();
        }
        let mut next = 1;
        let mut alloc = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let catalog_id = alloc();
        let tree_id = alloc();
        let info_id = alloc();
        let type0_id = alloc();
        let page_ids: Vec<(Ref, Ref)> = self.pages.iter().map(|_| (alloc(), alloc())).collect();

        let mut pdf = Pdf::new();
        pdf.catalog(catalog_id).pages(tree_id);
        pdf.pages(tree_id)
            .kids(page_ids.iter().map(|&(page, _)| page))
            .count(page_ids.len() as i32);
        pdf.document_info(info_id)
            .title(TextStr(&self.title))
            .producer(TextStr("tsur"));

        let media_box = Rect::new(0.0, 0.0, mm_to_pt(A4_WIDTH_MM), mm_to_pt(A4_HEIGHT_MM));
        let mut used = BTreeMap::new();
        for (page, &(page_id, content_id)) in self.pages.into_iter().zip(&page_ids) {
            let mut writer = pdf.page(page_id);
            writer
                .media_box(media_box)
                .parent(tree_id)
                .contents(content_id);
            writer.resources().fonts().pair(FONT_NAME, type0_id);
            writer.finish();
            pdf.stream(content_id, &page.content.finish());
            for (g, c) in page.used {
                used.entry(g).or_insert(c);
            }
        }
        write_font(&mut pdf, &self.font, &used, type0_id, &mut alloc);
        pdf.finish()
    }
}

/// Writes the Type0 font at `type0_id` with its CID font, descriptor, font file and ToUnicode
/// map, giving /W widths only for the glyphs in `used`.
fn write_font(
    pdf: &mut Pdf,
    font: &Font,
    used: &BTreeMap<u16, char>,
    type0_id: Ref,
    alloc: &mut impl FnMut() -> Ref,
) {
    let cid_id = alloc();
    let descriptor_id = alloc();
    let file_id = alloc();
    let cmap_id = alloc();
    let base_font = font.postscript_name();
    let base_name = Name(base_font.as_bytes());
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(type0_id)
        .base_font(base_name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_id)
        .to_unicode(cmap_id);

    let mut cid = pdf.cid_font(cid_id);
    cid.subtype(CidFontType::Type2)
        .base_font(base_name)
        .system_info(system_info)
        .font_descriptor(descriptor_id)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    {
        // Runs of consecutive glyph ids share one entry: `first [w1 w2 ...]`.
        let mut widths = cid.widths();
        let mut run: Option<(u16, Vec<f32>)> = None;
        for &g in used.keys() {
            let w = font.advance_1000(GlyphId(g));
            match &mut run {
                Some((start, ws)) if usize::from(*start) + ws.len() == usize::from(g) => ws.push(w),
                _ => {
                    if let Some((start, ws)) = run.replace((g, vec![w])) {
                        widths.consecutive(start, ws);
                    }
                }
            }
        }
        if let Some((start, ws)) = run {
            widths.consecutive(start, ws);
        }
    }
    cid.finish();

    let face = &font.face;
    let bbox = face.global_bounding_box();
    let ascent = font.scaled(face.ascender());
    let cap_height = face.capital_height().map_or(ascent, |h| font.scaled(h));
    // The usual approximation of the dominant stem width from the weight class.
    let stem_v = 10.0 + 0.244 * (f32::from(face.weight().to_number()) - 50.0);
    // SYMBOLIC because the font's glyphs go beyond the standard Latin character set.
    let mut flags = FontFlags::SYMBOLIC;
    if face.is_monospaced() {
        flags |= FontFlags::FIXED_PITCH;
    }
    if face.is_italic() {
        flags |= FontFlags::ITALIC;
    }
    pdf.font_descriptor(descriptor_id)
        .name(base_name)
        .flags(flags)
        .bbox(Rect::new(
            font.scaled(bbox.x_min),
            font.scaled(bbox.y_min),
            font.scaled(bbox.x_max),
            font.scaled(bbox.y_max),
        ))
        .italic_angle(face.italic_angle())
        .ascent(ascent)
        .descent(font.scaled(face.descender()))
        .cap_height(cap_height)
        .stem_v(stem_v)
        .font_file2(file_id);

    // Length1 is the uncompressed length of the TrueType file.
    pdf.stream(file_id, font.data)
        .pair(Name(b"Length1"), font.data.len() as i32);

    let mut cmap = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), system_info);
    for (&g, &c) in used {
        cmap.pair(g, c);
    }
    pdf.cmap(cmap_id, &cmap.finish());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    const SUMMARY: &str = "Сводка по обращениям граждан: 1 234, просрочено 12 %";

    /// Runs a poppler tool; fails loudly (never skips) if poppler-utils is not installed.
    fn poppler(tool: &str, args: &[&str], pdf: &Path, extra: &[&str]) -> String {
        let out = Command::new(tool)
            .args(args)
            .arg(pdf)
            .args(extra)
            .output()
            .unwrap_or_else(|e| {
                panic!("не удалось запустить `{tool}` ({e}); установите пакет poppler-utils")
            });
        assert!(
            out.status.success(),
            "{tool} завершился с ошибкой: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("вывод poppler не в UTF-8")
    }

    fn write_pdf(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("запись PDF");
        path
    }

    fn pdftotext(pdf: &Path) -> String {
        poppler("pdftotext", &["-layout"], pdf, &["-"])
    }

    #[test]
    fn two_pages_with_russian_text_and_shapes() {
        let mut doc = Document::new("Сводка").expect("документ");
        assert_eq!(doc.add_page(), 0);
        let page = doc.page();
        let w = page.text(20.0, 20.0, 14.0, Rgb::BLACK, SUMMARY);
        assert!(w > 50.0 && w < 170.0, "ширина {w}");
        page.rect(
            20.0,
            40.0,
            80.0,
            10.0,
            Some(Rgb::GREEN),
            Some((Rgb::BLACK, 0.3)),
        );
        page.circle(60.0, 90.0, 15.0, Some(Rgb::RED), None);
        page.polyline(
            &[(20.0, 120.0), (60.0, 110.0), (100.0, 130.0)],
            Rgb::GREY,
            0.5,
        );
        assert_eq!(doc.add_page(), 1);
        doc.page()
            .text_right(190.0, 20.0, 10.0, Rgb::GREY, "Страница 2");
        assert_eq!(doc.page_count(), 2);
        let bytes = doc.finish();
        assert!(bytes.starts_with(b"%PDF-"));

        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_pdf(&dir, "two.pdf", &bytes);
        let text = pdftotext(&path);
        assert!(text.contains(SUMMARY), "извлечено: {text:?}");
        assert!(text.contains("Страница 2"), "извлечено: {text:?}");
        let info = poppler("pdfinfo", &[], &path, &[]);
        assert!(info.contains("Pages:           2"), "pdfinfo: {info}");
        assert!(info.contains("Title:           Сводка"), "pdfinfo: {info}");
        assert!(info.contains("Producer:        tsur"), "pdfinfo: {info}");
    }

    #[test]
    fn text_width_grows_with_text_and_size() {
        let doc = Document::new("t").expect("документ");
        let a = doc.text_width("Обра", 12.0);
        let b = doc.text_width("Обращения", 12.0);
        assert!(0.0 < a && a < b);
        let big = doc.text_width("Обращения", 24.0);
        assert!((big / b - 2.0).abs() < 1e-3, "{big} против {b}");
        assert_eq!(doc.text_width("", 12.0), 0.0);
    }

    #[test]
    fn paragraph_wraps_and_keeps_every_word() {
        let sentence = "Количество обращений граждан в региональные органы власти выросло \
                        за квартал, при этом доля просроченных ответов заметно снизилась \
                        благодаря новому порядку контроля сроков";
        let mut doc = Document::new("t").expect("документ");
        let page = doc.page();
        let one_line = Page::line_height(11.0);
        let h = page.paragraph(20.0, 20.0, 80.0, 11.0, Rgb::BLACK, sentence);
        assert!(h > 2.0 * one_line, "высота {h}, строка {one_line}");
        let lines = page.wrap(sentence, 80.0, 11.0);
        assert!(lines.iter().all(|l| page.text_width(l, 11.0) <= 80.0));
        // A word longer than a line is broken rather than overflowing.
        let long = "Сверхдлинноеслово".repeat(5);
        let parts = page.wrap(&long, 40.0, 11.0);
        assert!(parts.len() > 1);
        assert_eq!(parts.concat(), long);
        page.paragraph(20.0, 100.0, 40.0, 11.0, Rgb::BLACK, &long);

        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_pdf(&dir, "para.pdf", &doc.finish());
        let text = pdftotext(&path);
        for word in sentence.split_whitespace() {
            assert!(text.contains(word), "нет слова {word:?} в {text:?}");
        }
    }

    #[test]
    fn fitted_text_gets_an_ellipsis() {
        let mut doc = Document::new("t").expect("документ");
        let page = doc.page();
        let text = "Министерство социального развития области";
        let fitted = page.fit(text, 30.0, 10.0);
        assert!(fitted.ends_with('…'), "{fitted}");
        assert!(page.text_width(&fitted, 10.0) <= 30.0);
        assert_eq!(page.fit("Кратко", 30.0, 10.0), "Кратко");
        assert_eq!(page.fit(text, 0.1, 10.0), "");
        page.text_fitted(20.0, 20.0, 30.0, 10.0, Rgb::BLACK, text);

        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_pdf(&dir, "fit.pdf", &doc.finish());
        assert!(pdftotext(&path).contains(&fitted));
    }

    #[test]
    fn emoji_becomes_question_mark() {
        let mut doc = Document::new("t").expect("документ");
        doc.page()
            .text(20.0, 20.0, 12.0, Rgb::BLACK, "Рост 📈 обращений");
        let bytes = doc.finish();
        assert!(bytes.starts_with(b"%PDF-"));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_pdf(&dir, "emoji.pdf", &bytes);
        let text = pdftotext(&path);
        assert!(text.contains("Рост ? обращений"), "извлечено: {text:?}");
    }

    #[test]
    fn thin_spaces_in_numbers_are_spaces_not_question_marks() {
        let mut doc = Document::new("t").expect("документ");
        doc.page().text(
            20.0,
            20.0,
            12.0,
            Rgb::BLACK,
            "Всего 1\u{202F}234\u{202F}567 и 8\u{a0}%",
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_pdf(&dir, "thin.pdf", &doc.finish());
        let text = pdftotext(&path);
        assert!(
            text.contains("Всего 1 234 567 и 8 %"),
            "извлечено: {text:?}"
        );
    }

    #[test]
    fn document_can_be_built_on_a_worker_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Document>();
    }

    #[test]
    fn empty_document_is_still_a_valid_pdf() {
        let doc = Document::new("пусто").expect("документ");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_pdf(&dir, "empty.pdf", &doc.finish());
        let info = poppler("pdfinfo", &[], &path, &[]);
        assert!(info.contains("Pages:           1"), "pdfinfo: {info}");
    }
}
