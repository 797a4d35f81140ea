//! Numbers and phrases as Russian readers expect them, shared by the screens, the wall and the
//! briefing's PDF (which has no window, so none of this may depend on the UI).

use tsur_core::analytics::surges::Surge;

/// "1 234 567" with narrow no-break spaces between groups, as Russian typography has it.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(c);
    }
    out
}

/// A number with one decimal and a decimal comma: "12,7".
pub fn decimal(v: f64) -> String {
    format!("{v:.1}").replace('.', ",")
}

/// A value in its unit: "87,5 %", "12,3 дн.", "42" (pieces go without their unit).
pub fn value_in_unit(v: f64, unit: &str) -> String {
    let number = if v.fract().abs() < 1e-9 && v.abs() < 1e12 {
        format!("{}", v as i64)
    } else {
        decimal(v)
    };
    match unit {
        "" | "шт" | "шт." => number,
        other => format!("{number} {other}"),
    }
}

/// As [`value_in_unit`], or "нет данных" without a value (never 0).
pub fn figure(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| "нет данных".into(), |v| value_in_unit(v, unit))
}

/// The Russian plural of a count: 1 обращение, 2 обращения, 5 обращений, 21 обращение.
pub fn plural<'a>(n: u64, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    match (n % 10, n % 100) {
        (_, 11..=14) => many,
        (1, _) => one,
        (2..=4, _) => few,
        _ => many,
    }
}

/// "N обращений" with the count grouped and the noun agreeing.
pub fn appeals(n: u64) -> String {
    format!(
        "{} {}",
        group_digits(n),
        plural(n, "обращение", "обращения", "обращений")
    )
}

/// A change in per cent with a sign, a real minus and no "−0": "+12 %", "−3 %".
pub fn signed_percent(fraction: f64) -> String {
    let percent = (fraction * 100.0).round() + 0.0;
    if percent == 0.0 {
        "0 %".into()
    } else {
        format!("{percent:+.0} %").replace('-', "−")
    }
}

/// A surge in words: "Уборка снега — Миасский городской округ: 54 обращения, в 30,9 раза выше
/// обычного".
pub fn surge_line(s: &Surge) -> String {
    format!(
        "{} — {}: {}, в {} раза выше обычного",
        s.topic_name,
        s.municipality_name,
        appeals(s.count),
        decimal(s.ratio)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_russian_has_them() {
        assert_eq!(group_digits(1_234_567), "1\u{202F}234\u{202F}567");
        assert_eq!(group_digits(999), "999");
        assert_eq!(decimal(12.66), "12,7");
        assert_eq!(value_in_unit(87.0, "%"), "87 %");
        assert_eq!(value_in_unit(4.25, "дн."), "4,2 дн.");
        assert_eq!(value_in_unit(3.0, "шт."), "3");
        assert_eq!(figure(None, "%"), "нет данных");
        assert_eq!(signed_percent(0.123), "+12 %");
        assert_eq!(signed_percent(-0.031), "−3 %");
        assert_eq!(signed_percent(-0.001), "0 %");
        for (n, word) in [
            (1, "обращение"),
            (2, "обращения"),
            (4, "обращения"),
            (5, "обращений"),
            (11, "обращений"),
            (12, "обращений"),
            (21, "обращение"),
            (22, "обращения"),
            (111, "обращений"),
            (1_001, "обращение"),
        ] {
            assert_eq!(
                plural(n, "обращение", "обращения", "обращений"),
                word,
                "{n}"
            );
        }
    }
}
