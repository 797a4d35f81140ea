//! The demo corpus: texts, names and streets the generator draws from (`<pack>/demo/*.toml`).

use crate::pack::{PackError, RegionPack};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::Path;

/// Placeholders a template may use; anything else in braces is an error.
pub const PLACEHOLDERS: &[&str] = &["{address}", "{settlement}", "{days}", "{number}"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicDemo {
    pub code: String,
    /// Relative share of all appeals.
    pub weight: f64,
    /// Seasonal multiplier per month, January first.
    pub monthly: [f64; 12],
    /// Whether the topic forms hot spots (many appeals about one address in a few days).
    pub hotspot: bool,
    /// Texts in the style of a 59-ФЗ letter or a ПОС message.
    pub formal: Vec<String>,
    /// Texts in the style of a social-network post.
    pub social: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    topics: Vec<TopicDemo>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    pub male_surnames: Vec<String>,
    pub female_surnames: Vec<String>,
    pub male_first: Vec<String>,
    pub female_first: Vec<String>,
    pub male_patronymics: Vec<String>,
    pub female_patronymics: Vec<String>,
    pub email_domains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Streets {
    pub common: Vec<String>,
    #[serde(default)]
    pub cities: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerTexts {
    pub merits: Vec<String>,
    pub formal: Vec<String>,
    pub forwarded: Vec<String>,
    pub social_reaction: Vec<String>,
    /// Answers on the merits specific to a block, by block code.
    #[serde(default)]
    pub merits_by_block: BTreeMap<String, Vec<String>>,
}

/// Everything the generator draws texts from.
#[derive(Debug, Clone)]
pub struct DemoCorpus {
    /// In the pack's topic order.
    pub topics: Vec<TopicDemo>,
    pub names: Names,
    pub streets: Streets,
    pub answers: AnswerTexts,
}

fn read<T: DeserializeOwned>(path: &Path) -> Result<T, PackError> {
    let fail = |line, reason: String| PackError {
        file: path.to_path_buf(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(None, format!("не удалось прочитать файл: {e}")))?;
    toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| 1 + text[..s.start].matches('\n').count() as u64);
        fail(line, e.message().to_string())
    })
}

fn check_templates(path: &Path, what: &str, texts: &[String]) -> Result<(), PackError> {
    let fail = |reason: String| PackError {
        file: path.to_path_buf(),
        line: None,
        reason,
    };
    if texts.is_empty() {
        return Err(fail(format!("{what}: список пуст")));
    }
    for text in texts {
        let mut rest = text.as_str();
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| fail(format!("{what}: незакрытая скобка в «{text}»")))?;
            let placeholder = &rest[start..start + end + 1];
            if !PLACEHOLDERS.contains(&placeholder) {
                return Err(fail(format!(
                    "{what}: неизвестная подстановка {placeholder} в «{text}»"
                )));
            }
            rest = &rest[start + end + 1..];
        }
    }
    Ok(())
}

impl DemoCorpus {
    /// Loads `<pack>/demo/` and checks it against the pack's taxonomy.
    pub fn load(pack: &RegionPack) -> Result<DemoCorpus, PackError> {
        let dir = pack.dir.join("demo");
        let topics_path = dir.join("topics.toml");
        let file: TopicsFile = read(&topics_path)?;
        let mut by_code: BTreeMap<String, TopicDemo> = BTreeMap::new();
        for topic in file.topics {
            if pack.topic(&topic.code).is_none() {
                return Err(PackError {
                    file: topics_path.clone(),
                    line: None,
                    reason: format!("тема «{}» не найдена в taxonomy.toml", topic.code),
                });
            }
            check_templates(&topics_path, &topic.code, &topic.formal)?;
            check_templates(&topics_path, &topic.code, &topic.social)?;
            by_code.insert(topic.code.clone(), topic);
        }
        let mut topics = Vec::new();
        for block in &pack.blocks {
            for topic in &block.topics {
                let demo = by_code
                    .remove(topic.code.as_str())
                    .ok_or_else(|| PackError {
                        file: topics_path.clone(),
                        line: None,
                        reason: format!("нет демо-текстов для темы «{}»", topic.code),
                    })?;
                topics.push(demo);
            }
        }

        let names_path = dir.join("names.toml");
        let names: Names = read(&names_path)?;
        for (what, list) in [
            ("male_surnames", &names.male_surnames),
            ("female_surnames", &names.female_surnames),
            ("male_first", &names.male_first),
            ("female_first", &names.female_first),
            ("male_patronymics", &names.male_patronymics),
            ("female_patronymics", &names.female_patronymics),
            ("email_domains", &names.email_domains),
        ] {
            if list.is_empty() {
                return Err(PackError {
                    file: names_path.clone(),
                    line: None,
                    reason: format!("{what}: список пуст"),
                });
            }
        }

        let streets_path = dir.join("streets.toml");
        let streets: Streets = read(&streets_path)?;
        if streets.common.is_empty() {
            return Err(PackError {
                file: streets_path,
                line: None,
                reason: "common: список пуст".into(),
            });
        }

        let answers_path = dir.join("answers.toml");
        let answers: AnswerTexts = read(&answers_path)?;
        check_templates(&answers_path, "merits", &answers.merits)?;
        check_templates(&answers_path, "formal", &answers.formal)?;
        check_templates(&answers_path, "forwarded", &answers.forwarded)?;
        check_templates(&answers_path, "social_reaction", &answers.social_reaction)?;
        for (block, texts) in &answers.merits_by_block {
            if pack.block(block).is_none() {
                return Err(PackError {
                    file: answers_path.clone(),
                    line: None,
                    reason: format!("merits_by_block: неизвестный блок «{block}»"),
                });
            }
            check_templates(&answers_path, block, texts)?;
        }

        Ok(DemoCorpus {
            topics,
            names,
            streets,
            answers,
        })
    }
}
