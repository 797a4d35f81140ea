//! Structuring of free text (п. "структурирование и формализация сути"): for an appeal's text,
//! suggest the block, topic and municipality with a confidence.
//!
//! - **Words**: lowercased, «ё» → «е», split on everything that is not a letter or a digit, and
//!   stemmed with the Snowball Russian stemmer, so «батареи», «батарей», «батареям» are one word.
//! - **Topic**: a multinomial naive Bayes over the stems, trained on the appeals already
//!   classified in the replica, plus the pack's keywords. Keywords are matched as the taxonomy
//!   describes (consecutive words beginning with the keyword's stems) and add a fixed weight, so
//!   the classifier works before any training and knows colloquial words the corpus lacks.
//! - **Confidence**: the posterior of the best topic among all (a softmax of the scores, tempered:
//!   see `CONFIDENCE_TEMPERATURE`).
//! - **Municipality**: the longest settlement or municipality name found in the text (stems of
//!   consecutive words), ties to the larger population.
//!
//! A suggestion is applied automatically only at or above the pack's threshold
//! (`classifier_auto_apply_confidence` in region.toml); below it an operator accepts it.

use crate::pack::RegionPack;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap;

/// Log-score a keyword match adds to its topic.
const KEYWORD_WEIGHT: f64 = 4.0;
/// Naive Bayes is overconfident (its words are not independent): the scores are divided by this
/// before the softmax, so that a confidence of 0.95 means what it says. Chosen on the hand-written
/// appeals (tests/fixtures): at 1 the suggestions applied automatically were right 92.7 % of the
/// time, at 3 — 97.4 % (BENCHMARKS.md).
const CONFIDENCE_TEMPERATURE: f64 = 3.0;
/// Examples a topic learns from at most: naive Bayes has long stopped improving by then, and a
/// server that learns from every appeal it stores must not slow down or grow without end.
pub const MAX_EXAMPLES_PER_TOPIC: f64 = 2_000.0;
/// Laplace smoothing of word counts.
const SMOOTHING: f64 = 0.5;

/// Words that say nothing about a topic.
const STOPWORDS: &[&str] = &[
    "и",
    "в",
    "во",
    "не",
    "что",
    "он",
    "на",
    "я",
    "с",
    "со",
    "как",
    "а",
    "то",
    "все",
    "она",
    "так",
    "его",
    "но",
    "да",
    "ты",
    "к",
    "у",
    "же",
    "вы",
    "за",
    "бы",
    "по",
    "только",
    "ее",
    "мне",
    "было",
    "вот",
    "от",
    "меня",
    "еще",
    "нет",
    "о",
    "из",
    "ему",
    "теперь",
    "когда",
    "даже",
    "ну",
    "ли",
    "если",
    "уже",
    "или",
    "ни",
    "быть",
    "был",
    "него",
    "до",
    "вас",
    "нибудь",
    "опять",
    "уж",
    "вам",
    "ведь",
    "там",
    "потом",
    "себя",
    "ничего",
    "ей",
    "может",
    "они",
    "тут",
    "где",
    "есть",
    "надо",
    "ней",
    "для",
    "мы",
    "тебя",
    "их",
    "чем",
    "была",
    "сам",
    "чтоб",
    "без",
    "будто",
    "чего",
    "раз",
    "тоже",
    "себе",
    "под",
    "будет",
    "ж",
    "тогда",
    "кто",
    "этот",
    "того",
    "потому",
    "этого",
    "какой",
    "совсем",
    "ним",
    "здесь",
    "этом",
    "один",
    "почти",
    "мой",
    "тем",
    "чтобы",
    "нее",
    "были",
    "куда",
    "зачем",
    "всех",
    "никогда",
    "можно",
    "при",
    "наконец",
    "два",
    "об",
    "другой",
    "хоть",
    "после",
    "над",
    "больше",
    "тот",
    "через",
    "эти",
    "нас",
    "про",
    "всего",
    "них",
    "какая",
    "много",
    "разве",
    "три",
    "эту",
    "моя",
    "впрочем",
    "хорошо",
    "свою",
    "этой",
    "перед",
    "иногда",
    "лучше",
    "чуть",
    "том",
    "нельзя",
    "такой",
    "им",
    "более",
    "всегда",
    "конечно",
    "всю",
    "между",
    "это",
    "просим",
    "прошу",
    "помогите",
    "пожалуйста",
    "здравствуйте",
    "уважаемый",
    "уважаемые",
    "спасибо",
];

/// Words that make the name next to them a street, not a place.
const STREET_WORDS: &[&str] = &[
    "ул",
    "улица",
    "улице",
    "улицы",
    "пр",
    "проспект",
    "проспекте",
    "пер",
    "переулок",
    "переулке",
    "ш",
    "шоссе",
    "тракт",
    "тракте",
    "бульвар",
    "бульваре",
    "б",
    "пл",
    "площадь",
    "площади",
    "наб",
    "набережная",
    "набережной",
    "проезд",
    "мкр",
    "микрорайон",
];

/// Lowercase words of a text, «ё» → «е», split on non-alphanumerics.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A topic with its keyword phrases (each a list of stems).
#[derive(Debug, Clone)]
struct TopicEntry {
    block: String,
    topic: String,
    keywords: Vec<Vec<String>>,
}

/// A settlement or municipality name (its stems) and where it is.
#[derive(Debug, Clone)]
struct PlaceName {
    stems: Vec<String>,
    municipality: String,
    population: u32,
}

/// What the classifier suggests for one text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    pub block: String,
    pub topic: String,
    /// The posterior of the topic, in (0, 1].
    pub confidence: f64,
    pub municipality: Option<String>,
    /// Whether the confidence reaches the pack's threshold for applying it without a person.
    pub auto_apply: bool,
}

/// A trained classifier.
pub struct Classifier {
    stemmer: Stemmer,
    topics: Vec<TopicEntry>,
    /// Word counts per topic, the topic's total and its number of training texts.
    counts: Vec<HashMap<String, f64>>,
    totals: Vec<f64>,
    documents: Vec<f64>,
    /// Every stem seen in training.
    vocabulary: std::collections::HashSet<String>,
    places: Vec<PlaceName>,
    auto_apply_confidence: f64,
}

impl Classifier {
    /// A classifier that knows the pack's topics, keywords and places, and no examples yet.
    pub fn new(pack: &RegionPack) -> Classifier {
        let stemmer = Stemmer::create(Algorithm::Russian);
        let topics: Vec<TopicEntry> = pack
            .blocks
            .iter()
            .flat_map(|b| {
                b.topics.iter().map(move |t| TopicEntry {
                    block: b.code.as_str().to_string(),
                    topic: t.code.as_str().to_string(),
                    // Keywords are already prefixes ("холодн батаре"): kept as written.
                    keywords: t.keywords.iter().map(|k| words(k)).collect(),
                })
            })
            .collect();
        let mut places = Vec::new();
        let mut add_place = |name: &str, municipality: &str, population: u32| {
            let stems: Vec<String> = words(name)
                .iter()
                .map(|w| stemmer.stem(w).into_owned())
                .collect();
            // One- and two-letter stems would match everywhere.
            if stems.iter().map(|s| s.chars().count()).sum::<usize>() >= 4 {
                places.push(PlaceName {
                    stems,
                    municipality: municipality.to_string(),
                    population,
                });
            }
        };
        for m in &pack.municipalities {
            add_place(&m.short_name, m.code.as_str(), m.population);
            add_place(&m.admin_centre, m.code.as_str(), m.population);
        }
        for s in &pack.settlements {
            add_place(&s.name, s.municipality.as_str(), s.population);
        }
        let n = topics.len();
        Classifier {
            stemmer,
            topics,
            counts: vec![HashMap::new(); n],
            totals: vec![0.0; n],
            documents: vec![0.0; n],
            vocabulary: std::collections::HashSet::new(),
            places,
            auto_apply_confidence: pack.region.classifier_auto_apply_confidence,
        }
    }

    fn stems(&self, text: &str) -> Vec<String> {
        words(text)
            .into_iter()
            .filter(|w| !STOPWORDS.contains(&w.as_str()) && w.chars().count() > 1)
            .map(|w| self.stemmer.stem(&w).into_owned())
            .collect()
    }

    /// Learns from one classified text; an unknown topic code is ignored (returns false).
    pub fn learn(&mut self, text: &str, topic: &str) -> bool {
        self.learn_all([(text, topic)]) == 1
    }

    /// Learns from many classified texts (at most [`MAX_EXAMPLES_PER_TOPIC`] per topic); returns
    /// how many had a known topic.
    pub fn learn_all<'a>(
        &mut self,
        examples: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> usize {
        let mut learned = 0;
        for (text, topic) in examples {
            let Some(t) = self.topics.iter().position(|e| e.topic == topic) else {
                continue;
            };
            if self.documents[t] >= MAX_EXAMPLES_PER_TOPIC {
                learned += 1; // known topic, enough examples already
                continue;
            }
            for stem in self.stems(text) {
                *self.counts[t].entry(stem.clone()).or_insert(0.0) += 1.0;
                self.totals[t] += 1.0;
                self.vocabulary.insert(stem);
            }
            self.documents[t] += 1.0;
            learned += 1;
        }
        learned
    }

    /// How many keyword phrases of topic `t` the text's words match (prefix rule of the pack).
    fn keyword_hits(&self, t: usize, text_words: &[String]) -> usize {
        self.topics[t]
            .keywords
            .iter()
            .filter(|phrase| {
                !phrase.is_empty()
                    && text_words.windows(phrase.len()).any(|window| {
                        window
                            .iter()
                            .zip(phrase.iter())
                            .all(|(word, prefix)| word.starts_with(prefix.as_str()))
                    })
            })
            .count()
    }

    /// The municipality a text names, if any. A name used as a street («ул. Челябинская»,
    /// «Копейское шоссе») or as the region («Челябинская обл.») does not place the text.
    pub fn municipality_of(&self, text: &str) -> Option<String> {
        // Neighbours count only within a part of the text between commas: «Магнитогорск, ул.
        // Ленина» names the city; «ул. Челябинская» and «Копейское шоссе» name streets.
        let mut best: Option<&PlaceName> = None;
        for part in text.split([',', ';', '\n', '(', ')']) {
            let part_words = words(part);
            let stems: Vec<String> = part_words
                .iter()
                .map(|w| self.stemmer.stem(w).into_owned())
                .collect();
            let is_street =
                |w: Option<&String>| w.is_some_and(|w| STREET_WORDS.contains(&w.as_str()));
            let places_the_text = |start: usize, len: usize| {
                let before = start.checked_sub(1).and_then(|i| part_words.get(i));
                let after = part_words.get(start + len);
                !is_street(before)
                    && !is_street(after)
                    && !after.is_some_and(|w| w.starts_with("обл"))
            };
            for p in &self.places {
                let n = p.stems.len();
                let found = (0..stems.len().saturating_sub(n - 1))
                    .any(|i| stems[i..i + n] == p.stems[..] && places_the_text(i, n));
                let rank = |p: &PlaceName| {
                    (
                        p.stems.iter().map(|s| s.chars().count()).sum::<usize>(),
                        p.population,
                    )
                };
                if found && best.is_none_or(|b| rank(p) > rank(b)) {
                    best = Some(p);
                }
            }
        }
        best.map(|p| p.municipality.clone())
    }

    /// Suggests a classification of an appeal from its text and, when it has one, its address
    /// (the place is often only there).
    pub fn suggest_appeal(&self, text: &str, address: Option<&str>) -> Option<Suggestion> {
        let mut s = self.suggest(text)?;
        if let Some(place) = address.and_then(|a| self.municipality_of(a)) {
            s.municipality = Some(place);
        }
        Some(s)
    }

    /// Suggests a classification; `None` when the text has no words at all.
    pub fn suggest(&self, text: &str) -> Option<Suggestion> {
        let text_words = words(text);
        let stems = self.stems(text);
        if text_words.is_empty() {
            return None;
        }
        let all_documents: f64 = self.documents.iter().sum();
        let n = self.topics.len() as f64;
        let vocabulary = self.vocabulary.len().max(1) as f64;
        let scores: Vec<f64> = (0..self.topics.len())
            .map(|t| {
                // A uniform prior until there are examples, then the topics' shares (smoothed).
                let prior = ((self.documents[t] + 1.0) / (all_documents + n)).ln();
                let denominator = self.totals[t] + SMOOTHING * vocabulary;
                let likelihood: f64 = if all_documents > 0.0 {
                    // A word never seen in training says nothing of any topic; counting it would
                    // penalise large topics more than small ones.
                    stems
                        .iter()
                        .filter(|s| self.vocabulary.contains(*s))
                        .map(|s| {
                            let count = self.counts[t].get(s).copied().unwrap_or(0.0);
                            ((count + SMOOTHING) / denominator).ln()
                        })
                        .sum()
                } else {
                    0.0
                };
                prior + likelihood + KEYWORD_WEIGHT * self.keyword_hits(t, &text_words) as f64
            })
            .collect();
        let best = (0..scores.len()).max_by(|&a, &b| scores[a].total_cmp(&scores[b]))?;
        let top = scores[best];
        let sum: f64 = scores
            .iter()
            .map(|s| ((s - top) / CONFIDENCE_TEMPERATURE).exp())
            .sum();
        let confidence = 1.0 / sum;
        let entry = &self.topics[best];
        Some(Suggestion {
            block: entry.block.clone(),
            topic: entry.topic.clone(),
            confidence,
            municipality: self.municipality_of(text),
            auto_apply: confidence >= self.auto_apply_confidence,
        })
    }
}

/// Classified appeals a standalone replica's classifier learns from (the newest).
const TRAINING_SAMPLE: i64 = 50_000;

/// For a standalone replica (`tsur demo-data`), what the server does at ingest: learns from the
/// replica's newest classified appeals and stores a suggestion on every unclassified one.
/// Returns how many were given one.
pub fn suggest_for_unclassified(
    store: &mut crate::store::Store,
    pack: &RegionPack,
) -> Result<usize, crate::store::StoreError> {
    let path = store.path().to_path_buf();
    fill_suggestions(store.conn_mut(), pack)
        .map_err(|source| crate::store::StoreError::Sqlite { path, source })
}

fn fill_suggestions(conn: &mut rusqlite::Connection, pack: &RegionPack) -> rusqlite::Result<usize> {
    let mut classifier = Classifier::new(pack);
    let examples: Vec<(String, String)> = conn
        .prepare(
            "SELECT text, topic_code FROM appeals WHERE topic_code IS NOT NULL
             ORDER BY id DESC LIMIT ?1",
        )?
        .query_map([TRAINING_SAMPLE], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    classifier.learn_all(
        examples
            .iter()
            .map(|(t, topic)| (t.as_str(), topic.as_str())),
    );
    let unclassified: Vec<(i64, String, Option<String>, Option<String>)> = conn
        .prepare(
            "SELECT id, text, address, municipality_code FROM appeals WHERE topic_code IS NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let tx = conn.transaction()?;
    let mut suggested = 0;
    {
        let mut update = tx.prepare(
            "UPDATE appeals SET suggested_block = ?2, suggested_topic = ?3,
                 suggested_municipality = ?4, suggestion_confidence = ?5 WHERE id = ?1",
        )?;
        for (id, text, address, municipality) in unclassified {
            if let Some(s) = classifier.suggest_appeal(&text, address.as_deref()) {
                let place = s.municipality.or(municipality);
                update.execute(rusqlite::params![id, s.block, s.topic, place, s.confidence])?;
                suggested += 1;
            }
        }
    }
    tx.commit()?;
    Ok(suggested)
}
