//! Additional indicators (п.6.3): formulas written in the region pack over the measures the KPIs
//! already count, so a region adds an indicator without a code change.
//!
//! A formula is arithmetic (`+ - * /`, parentheses, unary minus, decimal numbers) over the
//! names in [`MEASURES`], e.g. `overdue / open * 100`. A measure without data, or a division by
//! zero, gives no value (shown as such, never as 0).

use super::kpi::Kpis;

/// The names a formula may use, with what each is.
pub const MEASURES: &[(&str, &str)] = &[
    ("total", "обращений"),
    ("open", "открытых"),
    ("overdue", "просроченных сейчас"),
    ("at_risk_24h", "под угрозой просрочки"),
    ("on_time", "отвеченных в срок"),
    ("on_time_counted", "оценённых по сроку"),
    ("answered", "отвеченных"),
    ("rated", "оценённых заявителем"),
    ("repeats", "повторных"),
    ("answers", "ответов"),
    ("social_reacted", "инцидентов с первой реакцией"),
    ("on_time_share", "доля в срок (0–1)"),
    ("avg_answer_hours", "среднее время ответа, ч"),
    ("median_answer_hours", "медиана времени ответа, ч"),
    ("p90_answer_hours", "90-й перцентиль времени ответа, ч"),
    ("satisfaction_share", "доля оценок 4–5 (0–1)"),
    ("repeat_share", "доля повторных (0–1)"),
    ("merits_share", "доля ответов по существу (0–1)"),
    (
        "social_first_reaction_hours",
        "первая реакция в соцсетях, ч",
    ),
    (
        "accelerated_share",
        "доля проблем, решённых ускоренно (0–1)",
    ),
];

/// The value of a measure for one filter.
pub fn measure(name: &str, k: &Kpis, accelerated_share: Option<f64>) -> Option<f64> {
    let count = |n: u64| Some(n as f64);
    match name {
        "total" => count(k.total),
        "open" => count(k.open),
        "overdue" => count(k.overdue),
        "at_risk_24h" => count(k.at_risk_24h),
        "on_time" => count(k.on_time),
        "on_time_counted" => count(k.on_time_counted),
        "answered" => count(k.answered),
        "rated" => count(k.rated),
        "repeats" => count(k.repeats),
        "answers" => count(k.answers),
        "social_reacted" => count(k.social_reacted),
        "on_time_share" => k.on_time_share,
        "avg_answer_hours" => k.avg_answer_hours,
        "median_answer_hours" => k.median_answer_hours,
        "p90_answer_hours" => k.p90_answer_hours,
        "satisfaction_share" => k.satisfaction_share,
        "repeat_share" => k.repeat_share,
        "merits_share" => k.merits_share,
        "social_first_reaction_hours" => k.social_first_reaction_hours,
        "accelerated_share" => accelerated_share,
        _ => None,
    }
}

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Measure(String),
    Negate(Box<Expr>),
    Binary(Box<Expr>, char, Box<Expr>),
}

impl Expr {
    /// Parses `text`, checking every name against [`MEASURES`].
    pub fn parse(text: &str) -> Result<Expr, String> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let expr = parser.sum()?;
        match parser.tokens.get(parser.at) {
            None => Ok(expr),
            Some(t) => Err(format!("лишнее в формуле: «{t}»")),
        }
    }

    /// The value, given each measure's; `None` when a measure has no data or a divisor is 0.
    pub fn eval(&self, value_of: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        let v = match self {
            Expr::Number(n) => *n,
            Expr::Measure(name) => value_of(name)?,
            Expr::Negate(e) => -e.eval(value_of)?,
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(value_of)?, b.eval(value_of)?);
                match op {
                    '+' => a + b,
                    '-' => a - b,
                    '*' => a * b,
                    _ => {
                        if b == 0.0 {
                            return None;
                        }
                        a / b
                    }
                }
            }
        };
        v.is_finite().then_some(v)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Symbol(char),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Number(n) => write!(f, "{n}"),
            Token::Name(s) => write!(f, "{s}"),
            Token::Symbol(c) => write!(f, "{c}"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let n = s
                .parse::<f64>()
                .map_err(|_| format!("не число в формуле: «{s}»"))?;
            tokens.push(Token::Number(n));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Name(chars[start..i].iter().collect()));
        } else if "+-*/()".contains(c) {
            tokens.push(Token::Symbol(c));
            i += 1;
        } else {
            return Err(format!("недопустимый знак в формуле: «{c}»"));
        }
    }
    if tokens.is_empty() {
        return Err("пустая формула".into());
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_symbol(&self) -> Option<char> {
        match self.tokens.get(self.at) {
            Some(Token::Symbol(c)) => Some(*c),
            _ => None,
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek_symbol() {
            self.at += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.factor()?;
        while let Some(op @ ('*' | '/')) = self.peek_symbol() {
            self.at += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.factor()?));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Expr, String> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("формула обрывается")?;
        self.at += 1;
        match token {
            Token::Number(n) => Ok(Expr::Number(n)),
            Token::Name(name) => {
                if MEASURES.iter().any(|(m, _)| *m == name) {
                    Ok(Expr::Measure(name))
                } else {
                    let known: Vec<&str> = MEASURES.iter().map(|(m, _)| *m).collect();
                    Err(format!(
                        "неизвестная величина «{name}» в формуле; известны: {}",
                        known.join(", ")
                    ))
                }
            }
            Token::Symbol('-') => Ok(Expr::Negate(Box::new(self.factor()?))),
            Token::Symbol('(') => {
                let inner = self.sum()?;
                if self.peek_symbol() != Some(')') {
                    return Err("в формуле не закрыта скобка".into());
                }
                self.at += 1;
                Ok(inner)
            }
            Token::Symbol(c) => Err(format!("в формуле не ожидалось «{c}»")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, values: &[(&str, f64)]) -> Option<f64> {
        Expr::parse(text)
            .unwrap()
            .eval(&|name| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    #[test]
    fn arithmetic_by_hand() {
        assert_eq!(eval("1 + 2 * 3", &[]), Some(7.0));
        assert_eq!(eval("(1 + 2) * 3", &[]), Some(9.0));
        assert_eq!(eval("10 - 4 - 3", &[]), Some(3.0), "left to right");
        assert_eq!(eval("8 / 4 / 2", &[]), Some(1.0));
        assert_eq!(eval("-2 * -3", &[]), Some(6.0));
        assert_eq!(
            eval("overdue / open * 100", &[("overdue", 3.0), ("open", 12.0)]),
            Some(25.0)
        );
        assert_eq!(
            eval("overdue / open", &[("overdue", 3.0), ("open", 0.0)]),
            None,
            "÷ 0"
        );
        assert_eq!(
            eval("on_time_share * 100", &[]),
            None,
            "no data stays no data"
        );
        assert_eq!(eval("0.5 * 3", &[]), Some(1.5));
    }

    #[test]
    fn bad_formulas_say_what_is_wrong() {
        let err = |t: &str| Expr::parse(t).unwrap_err();
        assert!(err("overdue / opened").contains("неизвестная величина «opened»"));
        assert!(err("(total + 1").contains("скобка"));
        assert!(err("total +").contains("обрывается"));
        assert!(err("total ^ 2").contains("«^»"));
        assert!(err("total total").contains("лишнее"));
        assert!(err("   ").contains("пустая"));
        assert!(err("1.2.3").contains("не число"));
    }
}
