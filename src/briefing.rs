//! The curator's briefing, apart from drawing it on screen: what each slide says, worked out from
//! the wall's figures ([`WallData`]), and the PDF (a one-page summary with the map, then an
//! appendix with a section per sector block). The app's slides and `tsur report --kind briefing`
//! use the same words, so the paper and the screen never disagree.

use crate::format::decimal;
use crate::pdf::{A4_HEIGHT_MM, A4_WIDTH_MM, Document, Page, Rgb};
use crate::views::WallData;
use tsur_core::analytics::ranking::Ranked;
use tsur_core::analytics::report::{Headline, Report};
use tsur_core::pack::RegionPack;

/// One headline figure now and in the period before.
#[derive(Debug, Clone, PartialEq)]
pub struct Compared {
    pub name: &'static str,
    pub now: String,
    pub before: String,
    /// "+12 %", "−3 п.п.", or empty when there is nothing to compare.
    pub change: String,
    /// Whether the change is for the better (`None`: no change or nothing to compare).
    pub better: Option<bool>,
}

/// How a figure is read.
#[derive(Clone, Copy)]
enum Kind {
    Count,
    Share,
    Hours,
}

type Pick = fn(&Headline) -> Option<f64>;

/// The headline figures of the summary: name, how it is read, which way is better, and the value.
const HEADLINE: [(&str, Kind, bool, Pick); 8] = [
    (
        "Поступило обращений",
        Kind::Count,
        false,
        |h| Some(h.total as f64),
    ),
    ("Открыто", Kind::Count, false, |h| {
        Some(h.open as f64)
    }),
    (
        "Просрочено из поступивших",
        Kind::Count,
        false,
        |h| Some(h.overdue as f64),
    ),
    ("Ответы в срок", Kind::Share, true, |h| {
        h.on_time_share
    }),
    (
        "Удовлетворённость ответами",
        Kind::Share,
        true,
        |h| h.satisfaction_share,
    ),
    (
        "Среднее время ответа",
        Kind::Hours,
        false,
        |h| h.avg_answer_hours,
    ),
    (
        "Повторные обращения",
        Kind::Share,
        false,
        |h| h.repeat_share,
    ),
    (
        "Первая реакция в соцсетях",
        Kind::Hours,
        false,
        |h| h.social_first_reaction_hours,
    ),
];

fn format(kind: Kind, v: Option<f64>) -> String {
    match (kind, v) {
        (_, None) => "—".into(),
        (Kind::Count, Some(v)) => crate::format::group_digits(v.max(0.0).round() as u64),
        (Kind::Share, Some(v)) => format!("{} %", decimal(v * 100.0)),
        (Kind::Hours, Some(v)) => format!("{} ч", decimal(v)),
    }
}

/// The period against the one before, figure by figure.
pub fn summary(report: &Report) -> Vec<Compared> {
    compare(&report.headline, report.previous_period.as_ref())
}

fn compare(headline: &Headline, previous: Option<&Headline>) -> Vec<Compared> {
    HEADLINE
        .iter()
        .map(|&(name, kind, higher_is_better, pick)| {
            let now = pick(headline);
            let before = previous.and_then(pick);
            let (change, better) = match (now, before) {
                (Some(n), Some(b)) => {
                    let delta = n - b;
                    // The change as shown, and whether it shows as no change at all.
                    let (change, unchanged) = match kind {
                        Kind::Share => {
                            // `+ 0.0` turns a negative zero into zero ("0,0", not "−0,0").
                            let points = (delta * 1_000.0).round() / 10.0 + 0.0;
                            let sign = if points > 0.0 { "+" } else { "" };
                            (format!("{sign}{} п.п.", decimal(points)), points == 0.0)
                        }
                        _ if b.abs() < 1e-9 => (String::new(), delta.abs() < 1e-9),
                        _ => {
                            let percent = (delta / b * 100.0).round();
                            if percent == 0.0 {
                                ("0 %".to_string(), true)
                            } else {
                                (format!("{percent:+.0} %"), false)
                            }
                        }
                    };
                    let better = (!unchanged).then_some((delta > 0.0) == higher_is_better);
                    (change.replace('-', "−"), better)
                }
                _ => (String::new(), None),
            };
            Compared {
                name,
                now: format(kind, now),
                before: format(kind, before),
                change,
                better,
            }
        })
        .collect()
}

/// What is burning: surges, where the overdue appeals are, the largest open problems.
pub fn burning(data: &WallData) -> Vec<String> {
    let mut out = Vec::new();
    for s in data.report.surges.iter().take(4) {
        out.push(format!("Всплеск: {}", crate::format::surge_line(s)));
    }
    if data.totals.overdue > 0 {
        let places: Vec<String> = data
            .overdue_places
            .iter()
            .take(4)
            .map(|(name, n)| format!("{name} — {}", crate::format::group_digits(*n)))
            .collect();
        out.push(format!(
            "Просрочено сейчас: {} (больше всего: {})",
            crate::format::group_digits(data.totals.overdue),
            places.join(", ")
        ));
    }
    for p in top_problems(&data.report).into_iter().take(5) {
        out.push(problem_line(p));
    }
    if out.is_empty() {
        out.push("Всплесков, просрочек и открытых проблем нет".into());
    }
    out
}

/// Open problems, the most open appeals first.
pub fn top_problems(report: &Report) -> Vec<&tsur_core::analytics::problems::ProblemRow> {
    let mut problems: Vec<_> = report.problems.iter().filter(|p| !p.resolved).collect();
    problems.sort_by(|a, b| b.open.cmp(&a.open).then_with(|| a.id.cmp(&b.id)));
    problems
}

fn problem_line(p: &tsur_core::analytics::problems::ProblemRow) -> String {
    format!(
        "Проблема: {} ({}) — открыто {}, просрочено {}{}",
        p.title,
        p.municipality.as_deref().unwrap_or("—"),
        crate::format::group_digits(p.open),
        crate::format::group_digits(p.overdue),
        p.growth
            .map(|g| format!(", за неделю {}", crate::format::signed_percent(g)))
            .unwrap_or_default()
    )
}

/// The organisations that are late: the lowest scores of the ranking, worst first.
pub fn late(report: &Report) -> Vec<&Ranked> {
    let mut ranked: Vec<&Ranked> = report.ranking.iter().filter(|r| r.rank.is_some()).collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.rank));
    ranked.truncate(8);
    ranked
}

/// Every organisation of the ranking, most appeals first (when too few have a score).
pub fn busiest(report: &Report) -> Vec<&Ranked> {
    let mut busiest: Vec<&Ranked> = report.ranking.iter().collect();
    busiest.sort_by(|a, b| b.appeals.cmp(&a.appeals).then_with(|| a.name.cmp(&b.name)));
    busiest
}

/// A ranked organisation in one line: score, on-time share, appeals.
pub fn ranked_line(r: &Ranked) -> String {
    let on_time = r
        .components
        .iter()
        .find(|c| c.id == "timeliness")
        .and_then(|c| c.value)
        .map(|v| format!(", в срок {:.0} %", v * 100.0))
        .unwrap_or_default();
    format!(
        "{} — балл {}{on_time}, {}",
        r.name,
        r.score.map_or("—".into(), |s| format!("{s:.0}")),
        crate::format::appeals(r.appeals)
    )
}

/// What improved: the headline figures that moved for the better, and the organisations whose
/// score rose most.
pub fn improved(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = summary(report)
        .into_iter()
        .filter(|c| c.better == Some(true))
        .map(|c| format!("{}: {} (было {}, {})", c.name, c.now, c.before, c.change))
        .collect();
    let mut risers: Vec<&Ranked> = report
        .ranking
        .iter()
        .filter(|r| r.trend.is_some_and(|t| t >= 1.0))
        .collect();
    risers.sort_by(|a, b| b.trend.unwrap_or(0.0).total_cmp(&a.trend.unwrap_or(0.0)));
    for r in risers.into_iter().take(5) {
        out.push(format!(
            "{}: балл {} ({:+.0})",
            r.name,
            r.score.map_or("—".into(), |s| format!("{s:.0}")),
            r.trend.unwrap_or(0.0)
        ));
    }
    if out.is_empty() {
        out.push("Заметных улучшений за период нет".into());
    }
    out
}

/// The title line: region, period, when it was made.
pub fn heading(region: &str, data: &WallData, offset: chrono::FixedOffset) -> String {
    let made = chrono::DateTime::from_timestamp(data.computed_utc, 0)
        .map(|t| {
            t.with_timezone(&offset)
                .format("%d.%m.%Y %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    format!(
        "{region}: обращения граждан за {} (на {made})",
        data.period.label_ru()
    )
}

// ---------------------------------------------------------------------------------------------
// The PDF.

const MARGIN: f32 = 14.0;
const DARK: Rgb = Rgb(0.12, 0.14, 0.17);
const BLUE: Rgb = Rgb(0.13, 0.36, 0.62);
const LIGHT: Rgb = Rgb(0.93, 0.94, 0.96);

/// The briefing as a PDF: a one-page summary with the map, then a section per block.
pub fn pdf(data: &WallData, pack: &RegionPack) -> anyhow::Result<Vec<u8>> {
    let title = heading(&pack.region.name, data, pack.offset());

    let mut doc = Document::new(&format!("Брифинг: {title}"))?;
    summary_page(doc.page(), data, pack, &title);
    for block in &data.blocks {
        doc.add_page();
        block_page(doc.page(), block, &title);
    }
    let pages = doc.page_count();
    for index in 0..pages {
        if let Some(page) = doc.page_at(index) {
            page.text_right(
                A4_WIDTH_MM - MARGIN,
                A4_HEIGHT_MM - 10.0,
                8.0,
                Rgb::GREY,
                &format!("tsur · стр. {} из {pages}", index + 1),
            );
        }
    }
    Ok(doc.finish())
}

/// Where text stops on a page (the footer is below).
const PAGE_END: f32 = A4_HEIGHT_MM - 16.0;

/// A section heading, unless the page is too full for it and a line under it (then the lines
/// under it do not fit either).
fn section(page: &mut Page, y: &mut f32, text: &str) {
    let height = 3.0 + Page::line_height(12.0) + 0.5;
    if *y + height + Page::line_height(9.0) > PAGE_END {
        *y = PAGE_END;
        return;
    }
    *y += 3.0;
    page.text(MARGIN, *y, 12.0, BLUE, text);
    *y += Page::line_height(12.0) + 0.5;
}

/// Bullet lines, as many as fit above `limit` (and the page's end), each wrapped to `width`.
fn lines(page: &mut Page, y: &mut f32, lines: &[String], limit: f32, width: f32) {
    let limit = limit.min(PAGE_END);
    for line in lines {
        let text = format!("• {line}");
        let height = page.wrap(&text, width, 9.0).len() as f32 * Page::line_height(9.0);
        if *y + height > limit {
            break;
        }
        *y += page.paragraph(MARGIN + 2.0, *y, width, 9.0, DARK, &text);
    }
}

fn summary_page(page: &mut Page, data: &WallData, pack: &RegionPack, title: &str) {
    let width = A4_WIDTH_MM - 2.0 * MARGIN;
    let mut y = MARGIN;
    page.text(MARGIN, y, 17.0, DARK, "Брифинг для куратора");
    y += Page::line_height(17.0);
    y += page.paragraph(MARGIN, y, width, 10.0, Rgb::GREY, title);

    // The headline against the period before (left) and the map (right).
    section(page, &mut y, "Сводка: период против предыдущего");
    let table_top = y;
    let columns = [MARGIN, MARGIN + 50.0, MARGIN + 72.0, MARGIN + 94.0];
    for (x, head) in columns
        .iter()
        .zip(["Показатель", "Сейчас", "Было", "Изменение"])
    {
        page.text(*x, y, 8.0, Rgb::GREY, head);
    }
    y += Page::line_height(8.0);
    for (n, c) in summary(&data.report).iter().enumerate() {
        if n % 2 == 0 {
            page.rect(
                MARGIN - 1.0,
                y - 0.6,
                113.0,
                Page::line_height(9.0),
                Some(LIGHT),
                None,
            );
        }
        page.text_fitted(columns[0], y, 49.0, 9.0, DARK, c.name);
        page.text(columns[1], y, 9.0, DARK, &c.now);
        page.text(columns[2], y, 9.0, Rgb::GREY, &c.before);
        let colour = match c.better {
            Some(true) => Rgb::GREEN,
            Some(false) => Rgb::RED,
            None => Rgb::GREY,
        };
        page.text(columns[3], y, 9.0, colour, &c.change);
        y += Page::line_height(9.0);
    }
    let map_x = MARGIN + 117.0;
    draw_map(page, data, pack, (map_x, table_top, width - 117.0, 70.0));
    y = y.max(table_top + 72.0);

    section(page, &mut y, "Цели");
    for target in data.report.targets.values() {
        if y + Page::line_height(8.0) > 200.0 {
            break;
        }

        let (mark, colour) = match target.on_target {
            Some(true) => ("в цели", Rgb::GREEN),
            Some(false) => ("вне цели", Rgb::RED),
            None => ("нет данных", Rgb::GREY),
        };
        let value = crate::format::figure(target.value, &target.unit);
        let goal = crate::format::value_in_unit(target.target, &target.unit);
        page.text_fitted(
            MARGIN,
            y,
            width - 25.0,
            8.0,
            DARK,
            &format!("{}: {value} (цель {goal})", target.name),
        );
        page.text_right(MARGIN + width, y, 8.0, colour, mark);
        y += Page::line_height(8.0);
    }

    section(page, &mut y, "Что горит");
    lines(page, &mut y, &burning(data), 215.0, width - 2.0);
    section(page, &mut y, "Кто опаздывает");
    let late: Vec<String> = late(&data.report)
        .into_iter()
        .take(5)
        .map(ranked_line)
        .collect();
    lines(page, &mut y, &late, 250.0, width - 2.0);
    section(page, &mut y, "Что улучшилось");
    let improved: Vec<String> = improved(&data.report).into_iter().take(5).collect();
    lines(page, &mut y, &improved, 276.0, width - 2.0);
}

fn block_page(page: &mut Page, block: &crate::views::BlockReport, title: &str) {
    let width = A4_WIDTH_MM - 2.0 * MARGIN;
    let mut y = MARGIN;
    page.text(MARGIN, y, 9.0, Rgb::GREY, "Приложение");
    y += Page::line_height(9.0);
    page.text(MARGIN, y, 16.0, DARK, &format!("Блок «{}»", block.name));
    y += Page::line_height(16.0);
    y += page.paragraph(MARGIN, y, width, 9.0, Rgb::GREY, title);
    section(page, &mut y, "Показатели блока");
    for c in summary(&block.report) {
        page.text_fitted(MARGIN, y, 70.0, 9.0, DARK, c.name);
        page.text(MARGIN + 72.0, y, 9.0, DARK, &c.now);
        page.text(
            MARGIN + 100.0,
            y,
            9.0,
            Rgb::GREY,
            &format!("было {}", c.before),
        );
        let colour = match c.better {
            Some(true) => Rgb::GREEN,
            Some(false) => Rgb::RED,
            None => Rgb::GREY,
        };
        page.text(MARGIN + 135.0, y, 9.0, colour, &c.change);
        y += Page::line_height(9.0);
    }
    section(page, &mut y, "Проблемы блока");
    let problems: Vec<String> = top_problems(&block.report)
        .into_iter()
        .take(8)
        .map(problem_line)
        .collect();
    if problems.is_empty() {
        lines(
            page,
            &mut y,
            &["Открытых проблем нет".to_string()],
            270.0,
            width,
        );
    } else {
        lines(page, &mut y, &problems, 170.0, width - 2.0);
    }
    section(page, &mut y, "Всплески");
    let surges: Vec<String> = block
        .report
        .surges
        .iter()
        .take(5)
        .map(crate::format::surge_line)
        .collect();
    if surges.is_empty() {
        lines(page, &mut y, &["Всплесков нет".to_string()], 270.0, width);
    } else {
        lines(page, &mut y, &surges, 215.0, width - 2.0);
    }
    section(page, &mut y, "Организации, которые опаздывают");
    let late: Vec<String> = late(&block.report)
        .into_iter()
        .take(6)
        .map(ranked_line)
        .collect();
    if late.is_empty() {
        // Too few appeals for a score: the busiest organisations, with what they did on time.
        let busiest = busiest(&block.report);
        let mut text = vec!["Для рейтинга мало обращений; больше всего обращений у:".to_string()];
        text.extend(busiest.into_iter().take(5).map(ranked_line));
        lines(page, &mut y, &text, 230.0, width - 2.0);
    } else {
        lines(page, &mut y, &late, 230.0, width - 2.0);
    }
    section(page, &mut y, "Муниципалитеты с наибольшим числом обращений");
    let mut places: Vec<(&String, &tsur_core::analytics::report::Slice)> = block
        .report
        .by_municipality
        .iter()
        .filter(|(_, s)| s.total > 0)
        .collect();
    places.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(b.0)));
    let places: Vec<String> = places
        .into_iter()
        .take(8)
        .map(|(name, s)| {
            format!(
                "{name}: поступило {}, открыто {}, просрочено {}",
                crate::format::group_digits(s.total),
                crate::format::group_digits(s.open),
                crate::format::group_digits(s.overdue)
            )
        })
        .collect();
    if places.is_empty() {
        lines(
            page,
            &mut y,
            &["Обращений за период нет".to_string()],
            275.0,
            width,
        );
    } else {
        lines(page, &mut y, &places, 275.0, width - 2.0);
    }
}

/// The region drawn from the data: the heat of the period as shaded cells, municipalities as
/// circles sized by population and coloured by their overdue share, the largest names.
fn draw_map(page: &mut Page, data: &WallData, pack: &RegionPack, frame: (f32, f32, f32, f32)) {
    let (x0, y0, w, h) = frame;
    page.rect(
        x0,
        y0,
        w,
        h,
        Some(Rgb(0.96, 0.97, 0.98)),
        Some((Rgb(0.7, 0.72, 0.75), 0.3)),
    );
    let b = pack.region.bbox;
    // Equirectangular with the longitude shrunk by cos(latitude): right enough for one region.
    let k = ((b.min_lat + b.max_lat) / 2.0).to_radians().cos();
    let (span_x, span_y) = ((b.max_lon - b.min_lon) * k, b.max_lat - b.min_lat);
    let scale = ((w - 4.0) as f64 / span_x).min((h - 4.0) as f64 / span_y);
    let left = x0 as f64 + (w as f64 - span_x * scale) / 2.0;
    let top = y0 as f64 + (h as f64 - span_y * scale) / 2.0;
    let project = |lat: f64, lon: f64| {
        (
            (left + (lon - b.min_lon) * k * scale) as f32,
            (top + (b.max_lat - lat) * scale) as f32,
        )
    };

    // Heat: the grid pooled into cells about 1 mm across.
    let grid = &data.heat;
    if grid.max > 0.0 && grid.rows > 0 && grid.cols > 0 {
        let cell_mm = 1.0;
        let pool_r = ((cell_mm / scale / grid.spec.cell_deg).ceil() as usize).max(1);
        let pool_c = ((cell_mm / scale / (grid.cell_lon_deg * k)).ceil() as usize).max(1);
        for r in (0..grid.rows).step_by(pool_r) {
            for c in (0..grid.cols).step_by(pool_c) {
                let mut peak = 0.0f32;
                for rr in r..(r + pool_r).min(grid.rows) {
                    for cc in c..(c + pool_c).min(grid.cols) {
                        peak =
                            peak.max(grid.values.get(rr * grid.cols + cc).copied().unwrap_or(0.0));
                    }
                }
                let t = (peak / grid.max).sqrt();
                if t < 0.08 {
                    continue;
                }
                let south = grid.spec.south + r as f64 * grid.spec.cell_deg;
                let west = grid.spec.west + c as f64 * grid.cell_lon_deg;
                let north = south + pool_r as f64 * grid.spec.cell_deg;
                let east = west + pool_c as f64 * grid.cell_lon_deg;
                let (ax, ay) = project(north, west);
                let (bx, by) = project(south, east);
                if ax < x0 || bx > x0 + w || ay < y0 || by > y0 + h {
                    continue;
                }
                // The heat ramp over white (no transparency in this writer).
                let colour = blend(Rgb(1.0, 0.88, 0.4), Rgb(0.78, 0.1, 0.11), t);
                page.rect(ax, ay, bx - ax, by - ay, Some(colour), None);
            }
        }
    }

    let mut places: Vec<_> = pack.municipalities.iter().collect();
    places.sort_by_key(|m| std::cmp::Reverse(m.population));
    for m in &places {
        let (cx, cy) = project(m.point.lat, m.point.lon);
        let radius = ((m.population as f32).sqrt() * 0.004).clamp(0.6, 3.2);
        // An absolute scale, so that briefings of different days compare: 0 green, 20 % red.
        let fill = match data.areas.get(m.code.as_str()) {
            Some(share) => good_to_bad((*share / OVERDUE_SHARE_RED) as f32),
            None => Rgb(0.8, 0.8, 0.8),
        };
        page.circle(cx, cy, radius, Some(fill), Some((Rgb::WHITE, 0.2)));
    }
    // The largest places' names, skipping any that would overlap one already drawn.
    let mut taken: Vec<(f32, f32, f32, f32)> = Vec::new();
    for m in places.iter().take(12) {
        let (cx, cy) = project(m.point.lat, m.point.lon);
        let (x, y, width) = (cx + 2.0, cy - 1.5, page.text_width(&m.short_name, 6.0));
        let clashes = taken
            .iter()
            .any(|&(tx, ty, tw, th)| x < tx + tw && tx < x + width && y < ty + th && ty < y + 2.6);
        if clashes || x + width > x0 + w {
            continue;
        }
        taken.push((x, y, width, 2.6));
        page.text(x, y, 6.0, DARK, &m.short_name);
    }
    page.text(
        x0 + 1.5,
        y0 + h - 6.5,
        6.0,
        Rgb::GREY,
        "Тепло — плотность обращений за период;",
    );
    page.text(
        x0 + 1.5,
        y0 + h - 3.8,
        6.0,
        Rgb::GREY,
        "круги — доля просроченных, от зелёного к красному",
    );
}

/// The overdue share shown fully red on the PDF's map.
const OVERDUE_SHARE_RED: f64 = 0.2;

/// Green, through yellow, to red.
fn good_to_bad(t: f32) -> Rgb {
    let (green, yellow, red) = (
        Rgb(0.25, 0.75, 0.34),
        Rgb(0.99, 0.77, 0.1),
        Rgb(0.88, 0.19, 0.19),
    );
    if t < 0.5 {
        blend(green, yellow, t * 2.0)
    } else {
        blend(yellow, red, (t - 0.5) * 2.0)
    }
}

fn blend(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    Rgb(
        a.0 + (b.0 - a.0) * t,
        a.1 + (b.1 - a.1) * t,
        a.2 + (b.2 - a.2) * t,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headline(total: u64, on_time: f64, hours: f64) -> Headline {
        Headline {
            total,
            open: 0,
            overdue: 0,
            at_risk_24h: 0,
            on_time_share: Some(on_time),
            avg_answer_hours: Some(hours),
            median_answer_hours: None,
            p90_answer_hours: None,
            satisfaction_share: None,
            repeat_share: None,
            merits_share: None,
            social_first_reaction_hours: None,
            accelerated_share: None,
        }
    }

    #[test]
    fn changes_read_as_people_say_them_and_no_change_is_neither_good_nor_bad() {
        let now = headline(110, 0.9012, 40.0);
        let before = headline(100, 0.8801, 40.1);
        let rows = compare(&now, Some(&before));
        let row = |name: &str| rows.iter().find(|c| c.name == name).unwrap().clone();
        let received = row("Поступило обращений");
        assert_eq!(
            (received.now.as_str(), received.change.as_str()),
            ("110", "+10 %")
        );
        assert_eq!(received.better, Some(false));
        let on_time = row("Ответы в срок");
        assert_eq!(on_time.now, "90,1 %");
        assert_eq!(on_time.change, "+2,1 п.п.");
        assert_eq!(on_time.better, Some(true));
        // 40.0 against 40.1 hours rounds to no change: shown as such, in neither colour.
        let hours = row("Среднее время ответа");
        assert_eq!(hours.change, "0 %");
        assert_eq!(hours.better, None);
        // Nothing to compare with: no change shown.
        let alone = compare(&now, None);
        assert!(
            alone
                .iter()
                .all(|c| c.change.is_empty() && c.better.is_none())
        );
        assert_eq!(alone[0].before, "—");
        // A share falling: a minus sign, not a hyphen.
        let worse = compare(&before, Some(&now));
        let on_time = worse.iter().find(|c| c.name == "Ответы в срок").unwrap();
        assert_eq!(on_time.change, "−2,1 п.п.");
    }
}
