//! Repeat appeals on hand-built histories worked out by hand.

mod common;

use common::{answer, appeal, day};
use tsur_core::domain::{AnswerKind, Author, Regime, TopicCode};
use tsur_core::repeats::{RepeatIndex, RepeatReason, address_key, author_key};

fn author(name: &str, phone: Option<&str>, email: Option<&str>) -> Author {
    Author {
        name: Some(name.into()),
        phone: phone.map(Into::into),
        email: email.map(Into::into),
    }
}

#[test]
fn keys_survive_the_usual_variations() {
    let m = Some("75728000");
    assert_eq!(
        author_key(&author("x", Some("+7 (900) 123-45-67"), None), m),
        author_key(&author("y", Some("89001234567"), None), None)
    );
    assert_eq!(
        author_key(&author("Пётр Иванов", None, Some(" Petr@Mail.RU ")), None).as_deref(),
        Some("mail:petr@mail.ru")
    );
    assert_eq!(
        author_key(&author("Семёнова  Анна   Петровна", None, None), m).as_deref(),
        Some("name:75728000:семенова анна петровна")
    );
    assert_eq!(
        author_key(&author("Семёнова Анна Петровна", None, None), None),
        None,
        "a name alone, with no place, would join namesakes across the region"
    );
    assert_ne!(
        author_key(&author("Семёнова Анна Петровна", None, None), m),
        author_key(
            &author("Семёнова Анна Петровна", None, None),
            Some("75701000")
        )
    );
    assert_eq!(
        author_key(&author("Анна", None, None), m),
        None,
        "one word is not a person"
    );
    assert_eq!(author_key(&Author::default(), m), None);

    assert_eq!(
        address_key("г. Копейск, ул. Ленина, д. 36, кв. 12", m),
        address_key("Копейск, улица Ленина, дом 36", m)
    );
    assert_eq!(
        address_key("Копейск, ул. Ленина, д. 36", m).as_deref(),
        Some("75728000:копейск ул ленина 36")
    );
    assert_ne!(
        address_key("Копейск, ул. Ленина, д. 36", m),
        address_key("Копейск, ул. Ленина, д. 38", m)
    );
    assert_ne!(
        address_key("ул. Мира, 5", m),
        address_key("пр. Мира, 5", m),
        "a street and a prospekt of one name are different places"
    );
    assert_eq!(
        address_key("пр-т Мира, 5", m),
        address_key("проспект Мира, 5", m)
    );
    assert_eq!(address_key("кв. 5", m), None);
}

#[test]
fn repeats_by_author_or_by_address_and_topic_within_90_days_of_an_answer() {
    let ivanov = author("Иванов Иван Иванович", Some("+7 900 000-00-01"), None);
    let mut index = RepeatIndex::new();

    // 1: Иванов, answered on day 2.
    let mut first = appeal(1, day(1));
    first.author = ivanov.clone();
    first.address = Some("Миасс, ул. Лихачёва, д. 10, кв. 3".into());
    index.add(&first);

    // 2: Иванов again on day 20 about something else: a repeat by author.
    let mut again = appeal(2, day(20));
    again.author = ivanov.clone();
    again.topic = Some(TopicCode::new("roads.potholes"));
    let link = index.find(&again).unwrap();
    assert_eq!((link.repeat_of, link.reason), (1, RepeatReason::SameAuthor));
    assert!(!link.art11_part5);

    // 3: a neighbour, same building, same topic, day 30: by address and topic.
    let mut neighbour = appeal(3, day(30));
    neighbour.address = Some("г. Миасс, улица Лихачева, дом 10, квартира 7".into());
    let link = index.find(&neighbour).unwrap();
    assert_eq!(
        (link.repeat_of, link.reason),
        (1, RepeatReason::SameAddressAndTopic)
    );
    // ... but another topic at that address is not a repeat.
    neighbour.topic = Some(TopicCode::new("zhkh.heating"));
    assert_eq!(index.find(&neighbour), None);

    // 4: Иванов 92 days after the answer (day 2 + 92 = day 94): too late.
    let mut late = appeal(4, day(94));
    late.author = ivanov.clone();
    assert_eq!(index.find(&late), None);
    let mut just_in = appeal(5, day(92));
    just_in.author = ivanov.clone();
    assert_eq!(
        index.find(&just_in).map(|l| l.repeat_of),
        Some(1),
        "90 days to the hour"
    );

    // An appeal not yet answered is repeated by nobody; received before the answer neither.
    let mut open = appeal(6, day(40));
    open.author = author("Петрова Анна Сергеевна", None, Some("a@b.ru"));
    open.answered_utc = None;
    index.add(&open);
    let mut nudge = appeal(7, day(41));
    nudge.author = open.author.clone();
    assert_eq!(index.find(&nudge), None);
    let mut same_day = appeal(8, day(1));
    same_day.author = ivanov.clone();
    assert_eq!(index.find(&same_day), None, "before the answer of day 2");
}

#[test]
fn the_most_recent_answer_wins_and_a_newer_version_replaces_the_old() {
    let ivanov = author("Иванов Иван Иванович", None, Some("i@x.ru"));
    let mut index = RepeatIndex::new();
    for (id, received) in [(1, 1), (2, 10)] {
        let mut a = appeal(id, day(received));
        a.author = ivanov.clone();
        index.add(&a);
    }
    let mut third = appeal(3, day(20));
    third.author = ivanov.clone();
    assert_eq!(index.find(&third).unwrap().repeat_of, 2);
    // Appeal 2 reopened: its new version has no answer; 1 is the one repeated now.
    let mut reopened = appeal(2, day(10));
    reopened.author = ivanov.clone();
    reopened.answered_utc = None;
    index.add(&reopened);
    assert_eq!(index.find(&third).unwrap().repeat_of, 1);
}

#[test]
fn a_59_fz_appeal_after_two_answers_on_the_merits_meets_article_11_part_5() {
    let ivanov = author("Иванов Иван Иванович", Some("89000000001"), None);
    let mut index = RepeatIndex::new();
    for (id, received) in [(1, 1), (2, 20)] {
        let mut a = appeal(id, day(received));
        a.author = ivanov.clone();
        a.regime = Regime::Fz59;
        a.answers = vec![answer(
            AnswerKind::Merits,
            "Ответ по существу",
            day(received + 1),
        )];
        index.add(&a);
    }
    let mut third = appeal(3, day(40));
    third.author = ivanov.clone();
    third.regime = Regime::Fz59;
    let link = index.find(&third).unwrap();
    assert_eq!(link.repeat_of, 2);
    assert!(
        link.art11_part5,
        "two answers on the merits on this topic already"
    );
    // On another topic, or under ПОС, it does not.
    third.topic = Some(TopicCode::new("zhkh.heating"));
    assert!(!index.find(&third).unwrap().art11_part5);
    third.topic = Some(TopicCode::new("zhkh.hot_water"));
    third.regime = Regime::Pos;
    assert!(!index.find(&third).unwrap().art11_part5);
}

#[test]
fn the_repeats_the_demo_generator_plants_are_found() {
    use chrono::NaiveDate;
    use tsur_core::demo::{DemoParams, write_demo_replica};
    use tsur_core::pack::RegionPack;
    use tsur_core::store::Store;

    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.sqlite");
    let params = DemoParams {
        appeals: 8_000,
        seed: 23,
        now_utc: DemoParams::now_for_date(&pack, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()),
    };
    write_demo_replica(&pack, &params, &path, false, &mut |_, _| true).unwrap();
    let store = Store::open_existing(&path).unwrap();
    let mut index = RepeatIndex::new();
    let (mut planted, mut found, mut exact) = (0, 0, 0);
    // In order of receipt, as a server meets them.
    for id in 1..=8_000 {
        let appeal = store.load_appeal(id).unwrap().unwrap();
        let link = index.find(&appeal);
        if appeal.repeat_of.is_some() {
            planted += 1;
            found += usize::from(link.is_some());
            exact += usize::from(link.as_ref().map(|l| l.repeat_of) == appeal.repeat_of);
        }
        index.add(&appeal);
    }
    let recall = found as f64 / planted as f64;
    println!("planted repeats found: {found} of {planted}, linked to the planted appeal: {exact}");
    assert!(planted > 300, "{planted}");
    assert!(recall > 0.95, "{recall}");
    // The author may have written more than once: the most recently answered appeal is linked,
    // which is the planted one in most cases.
    assert!(exact as f64 / planted as f64 > 0.85, "{exact} of {planted}");
}

#[test]
fn article_11_part_5_does_not_depend_on_the_repeat_window_and_counts_only_earlier_answers() {
    let ivanov = author("Иванов Иван Иванович", Some("89000000001"), None);
    let mut index = RepeatIndex::new();
    // Two answers on the merits on hot water, long ago (days 1 and 20).
    for (id, received) in [(1, 1), (2, 20)] {
        let mut a = appeal(id, day(received));
        a.author = ivanov.clone();
        a.regime = Regime::Fz59;
        a.answers = vec![answer(
            AnswerKind::Merits,
            "Ответ по существу",
            day(received + 1),
        )];
        index.add(&a);
    }
    // Day 300: no repeat within 90 days, but the article applies.
    let mut much_later = appeal(3, day(300));
    much_later.author = ivanov.clone();
    much_later.regime = Regime::Fz59;
    assert_eq!(index.find(&much_later), None);
    assert!(index.meets_art11_part5(&much_later));
    // On day 21 only the first answer had been given (the second came on day 21 at 9:00, and
    // the appeal arrived at the same moment): not yet.
    let mut between = appeal(4, day(21));
    between.author = ivanov.clone();
    between.regime = Regime::Fz59;
    assert!(!index.meets_art11_part5(&between));
}
