//! A progress bar for long commands on a terminal (`tsur sync`, `tsur demo-data`).
//!
//! On a terminal the bar is redrawn in place at most a few times a second; when stderr is a file
//! or a pipe, a plain line is written every 10 % so logs stay readable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Width of the bar in characters.
const BAR_CHARS: usize = 24;
/// The shortest time between two redraws on a terminal.
const REDRAW_EVERY: Duration = Duration::from_millis(150);

pub struct TerminalProgress {
    label: &'static str,
    unit: &'static str,
    interactive: bool,
    started: Instant,
    last_drawn: Option<Instant>,
    last_tenth: Option<u64>,
    drew_in_place: bool,
}

impl TerminalProgress {
    /// `label` says what is going on («синхронизация»), `unit` what is counted («изменений»).
    pub fn new(label: &'static str, unit: &'static str) -> TerminalProgress {
        TerminalProgress {
            label,
            unit,
            interactive: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_drawn: None,
            last_tenth: None,
            drew_in_place: false,
        }
    }

    /// Reports `done` of `total`.
    pub fn update(&mut self, done: u64, total: u64) {
        let now = Instant::now();
        if self.interactive {
            let due = self
                .last_drawn
                .is_none_or(|at| now.duration_since(at) >= REDRAW_EVERY);
            if due || done >= total {
                self.last_drawn = Some(now);
                self.drew_in_place = true;
                let line =
                    progress_line(self.label, self.unit, done, total, self.started.elapsed());
                // Clear to the end of the line: the new text may be shorter than the old.
                eprint!("\r{line}\x1b[K");
                let _ = std::io::stderr().flush();
            }
        } else {
            let tenth = done.saturating_mul(10) / total.max(1);
            if self.last_tenth != Some(tenth) {
                self.last_tenth = Some(tenth);
                eprintln!(
                    "{}",
                    progress_line(self.label, self.unit, done, total, self.started.elapsed())
                );
            }
        }
    }

    /// Ends the bar's line so the next message starts on a new one.
    pub fn finish(&mut self) {
        if self.drew_in_place {
            eprintln!();
            self.drew_in_place = false;
        }
    }
}

impl Drop for TerminalProgress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One line of progress: bar, percentage, counts, rate and time left.
pub fn progress_line(label: &str, unit: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let total = total.max(done);
    let fraction = if total == 0 {
        1.0
    } else {
        done as f64 / total as f64
    };
    let filled = ((fraction * BAR_CHARS as f64).round() as usize).min(BAR_CHARS);
    let bar: String = "█".repeat(filled) + &"░".repeat(BAR_CHARS - filled);
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let mut line = format!(
        "{label}: {bar} {:>3} % · {} из {} {unit}",
        (fraction * 100.0).floor() as u64,
        crate::app::group_digits(done),
        crate::app::group_digits(total),
    );
    if rate >= 1.0 {
        line += &format!(" · {}/с", crate::app::group_digits(rate as u64));
        if done < total {
            let left_secs = ((total - done) as f64 / rate).ceil() as u64;
            line += &format!(" · осталось {}", human_duration(left_secs));
        }
    }
    line
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} с"),
        60..=3599 => format!("{} мин {} с", secs / 60, secs % 60),
        _ => format!("{} ч {} мин", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_bar_counts_rate_and_time_left() {
        let line = progress_line(
            "синхронизация",
            "изменений",
            250_000,
            1_000_000,
            Duration::from_secs(5),
        );
        assert!(line.starts_with("синхронизация: ██████░░░░░░"), "{line}");
        assert!(line.contains(" 25 %"), "{line}");
        // Groups are split by a narrow no-break space (U+202F).
        assert!(
            line.contains("250\u{202F}000 из 1\u{202F}000\u{202F}000 изменений"),
            "{line}"
        );
        assert!(line.contains("50\u{202F}000/с"), "{line}");
        assert!(line.contains("осталось 15 с"), "{line}");
    }

    #[test]
    fn a_finished_or_empty_job_is_full_and_says_no_time_left() {
        let done = progress_line("x", "шт.", 10, 10, Duration::from_secs(1));
        assert!(
            done.contains("100 %") && !done.contains("осталось"),
            "{done}"
        );
        assert!(done.contains(&"█".repeat(BAR_CHARS)), "{done}");
        let empty = progress_line("x", "шт.", 0, 0, Duration::ZERO);
        assert!(empty.contains("100 %"), "{empty}");
        // The server may report fewer than we already have: never more than 100 %.
        let over = progress_line("x", "шт.", 12, 10, Duration::from_secs(1));
        assert!(
            over.contains("100 %") && over.contains("12 из 12"),
            "{over}"
        );
    }

    #[test]
    fn long_waits_are_in_minutes_and_hours() {
        assert_eq!(human_duration(75), "1 мин 15 с");
        assert_eq!(human_duration(7_260), "2 ч 1 мин");
    }
}
