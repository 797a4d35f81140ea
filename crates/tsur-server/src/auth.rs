//! Roles, scopes, tokens and personal-data masking (PRODUCT §6).
//!
//! A token is 32 random bytes shown once as URL-safe text; the server keeps only its SHA-256.
//! Every request resolves to a [`Principal`]; what it may see is decided here, in one place.

use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::OnceLock;
use tsur_core::domain::{Appeal, Author};

/// The roles of PRODUCT §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Curator,
    Head,
    BlockHead,
    Operator,
    MunicipalOperator,
    Analyst,
    Wall,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Curator,
        Role::Head,
        Role::BlockHead,
        Role::Operator,
        Role::MunicipalOperator,
        Role::Analyst,
        Role::Wall,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Curator => "curator",
            Role::Head => "head",
            Role::BlockHead => "block_head",
            Role::Operator => "operator",
            Role::MunicipalOperator => "municipal_operator",
            Role::Analyst => "analyst",
            Role::Wall => "wall",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// How much of an appeal's personal data this role receives.
    pub fn privacy(self) -> Privacy {
        match self {
            Role::Curator
            | Role::Head
            | Role::BlockHead
            | Role::Operator
            | Role::MunicipalOperator => Privacy::Full,
            Role::Analyst => Privacy::Redacted,
            Role::Wall => Privacy::None,
        }
    }

    /// Whether the role is limited to its blocks (and optionally municipalities).
    pub fn scoped_by_block(self) -> bool {
        matches!(self, Role::BlockHead | Role::Operator)
    }

    /// Whether the role is limited to its municipalities.
    pub fn scoped_by_municipality(self) -> bool {
        matches!(
            self,
            Role::MunicipalOperator | Role::Operator | Role::BlockHead
        )
    }

    /// Whether the role may change appeals (send actions).
    pub fn may_act(self) -> bool {
        !matches!(self, Role::Analyst | Role::Wall)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What personal data a role receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// Everything, audited.
    Full,
    /// No author fields; names, phones and e-mails inside texts redacted.
    Redacted,
    /// No author fields, no texts, no addresses.
    None,
}

/// Who is asking, with the scope of their token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub token_id: i64,
    pub user: String,
    pub role: Role,
    /// Block codes; empty means every block (for roles not scoped by block).
    pub blocks: Vec<String>,
    /// Municipality codes; empty means every municipality.
    pub municipalities: Vec<String>,
}

impl Principal {
    /// Whether an appeal with this block and municipality is in the principal's scope.
    pub fn sees(&self, block: Option<&str>, municipality: Option<&str>) -> bool {
        let block_ok = !self.role.scoped_by_block()
            || block.is_some_and(|b| self.blocks.iter().any(|x| x == b));
        let municipality_ok = !self.role.scoped_by_municipality()
            || self.municipalities.is_empty() && self.role != Role::MunicipalOperator
            || municipality.is_some_and(|m| self.municipalities.iter().any(|x| x == m));
        block_ok && municipality_ok
    }

    /// The appeal as this principal may receive it.
    /// Whether [`Principal::mask`] leaves appeals as they are for this principal.
    pub fn sees_everything_unmasked(&self) -> bool {
        self.role.privacy() == Privacy::Full
    }

    pub fn mask(&self, mut appeal: Appeal) -> Appeal {
        match self.role.privacy() {
            Privacy::Full => appeal,
            Privacy::Redacted => {
                let author = std::mem::take(&mut appeal.author);
                appeal.text = redact(&appeal.text, &author);
                for answer in &mut appeal.answers {
                    answer.text = redact(&answer.text, &author);
                }
                for event in &mut appeal.events {
                    event.note = event.note.as_deref().map(|n| redact(n, &author));
                }
                appeal
            }
            Privacy::None => {
                appeal.author = Author::default();
                appeal.text = String::new();
                appeal.address = None;
                for answer in &mut appeal.answers {
                    answer.text = String::new();
                }
                for event in &mut appeal.events {
                    event.note = None;
                    event.actor = String::new();
                }
                appeal
            }
        }
    }
}

/// A new token: 32 random bytes as URL-safe base64 without padding (letters, digits, `-`, `_`).
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(base64_url(&bytes))
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What replaces redacted personal data in texts.
pub const REDACTED: &str = "[скрыто]";

/// The patterns of personal data in free text. They are constants; a test checks that every one
/// compiles, since a pattern that did not would silently let data through.
const PATTERNS: &[&str] = &[
    // E-mail addresses.
    r"[\w.+-]+@[\w-]+(\.[\w-]+)+",
    // Phone numbers: +7 / 8 and ten digits with the usual separators, or 10–11 digits in a row.
    r"(\+7|\b8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b|\b\d{10,11}\b",
    // Full names with a patronymic: Фамилия Имя Отчество or Имя Отчество.
    r"(?:\p{Lu}\p{Ll}+\s+)?\p{Lu}\p{Ll}+\s+\p{Lu}\p{Ll}+(?:вич|вна|ична|чна|оглы|кызы)\b",
];

fn patterns() -> &'static [Regex] {
    static COMPILED: OnceLock<Vec<Regex>> = OnceLock::new();
    COMPILED.get_or_init(|| PATTERNS.iter().filter_map(|p| Regex::new(p).ok()).collect())
}

/// Removes names, phones and e-mails from a text: the author's own name parts wherever they stand,
/// and anything that looks like a full name with a patronymic, a phone number or an e-mail.
pub fn redact(text: &str, author: &Author) -> String {
    let mut out = text.to_string();
    for pattern in patterns() {
        out = pattern.replace_all(&out, REDACTED).into_owned();
    }
    if let Some(name) = &author.name {
        for part in name.split_whitespace().filter(|p| p.chars().count() >= 3) {
            out = out.replace(part, REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_unique() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{a}"
        );
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(base64_url(b"Man"), "TWFu");
        assert_eq!(base64_url(b"Ma"), "TWE");
    }

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(patterns().len(), PATTERNS.len());
    }

    #[test]
    fn redaction_removes_names_phones_and_emails() {
        let author = Author {
            name: Some("Петрова Анна Сергеевна".into()),
            phone: Some("+7 912 345-67-89".into()),
            email: Some("petrova@mail.ru".into()),
        };
        let text = "Я, Петрова Анна Сергеевна, прошу перезвонить по +7 (912) 345-67-89 или 89123456789, \
                    почта petrova.a@mail.ru. Соседка Иванова Мария Петровна тоже жалуется. Анна.";
        let out = redact(text, &author);
        for leaked in [
            "Петрова",
            "Анна",
            "Сергеевна",
            "912",
            "89123456789",
            "petrova",
            "Иванова",
            "Петровна",
        ] {
            assert!(!out.contains(leaked), "{leaked} leaked: {out}");
        }
        assert!(out.contains("прошу перезвонить"), "{out}");
        assert!(out.contains(REDACTED));
    }

    #[test]
    fn scopes() {
        let operator = Principal {
            token_id: 1,
            user: "op".into(),
            role: Role::Operator,
            blocks: vec!["zhkh".into()],
            municipalities: vec![],
        };
        assert!(operator.sees(Some("zhkh"), Some("75701000")));
        assert!(!operator.sees(Some("roads"), Some("75701000")));
        assert!(!operator.sees(None, Some("75701000")));
        let municipal = Principal {
            role: Role::MunicipalOperator,
            blocks: vec![],
            municipalities: vec!["75738000".into()],
            ..operator.clone()
        };
        assert!(municipal.sees(Some("roads"), Some("75738000")));
        assert!(!municipal.sees(Some("roads"), Some("75701000")));
        let no_municipality = Principal {
            municipalities: vec![],
            ..municipal
        };
        assert!(
            !no_municipality.sees(Some("roads"), Some("75738000")),
            "a municipal operator needs a municipality"
        );
        let wall = Principal {
            role: Role::Wall,
            ..operator
        };
        assert!(wall.sees(None, None));
    }
}
