//! Communication problems per organisation on a hand-built replica.

mod common;

use tsur_core::analytics::Filter;
use tsur_core::analytics::communication::{TEMPLATE_MIN_REPEATS, by_organisation};
use tsur_core::domain::{AnswerKind, Appeal, Event, EventKind, OrganisationCode, Rating, Status};
use tsur_core::pack::RegionPack;
use tsur_core::store::Store;

const LONG: &str = "Сообщаем, что работы по восстановлению горячего водоснабжения в доме выполнены \
    управляющей организацией в полном объёме, давление в системе проверено, акт подписан жителями.";

fn at(n: u32) -> chrono::DateTime<chrono::Utc> {
    common::day(n)
}

fn appeal(id: i64, org: &str, day: u32) -> Appeal {
    let mut a = common::appeal(id, at(day));
    a.organisation = Some(OrganisationCode::new(org));
    a
}

fn answer(kind: AnswerKind, text: &str, day: u32) -> tsur_core::domain::Answer {
    common::answer(kind, text, at(day))
}

fn routed(to: Status, day: u32) -> Event {
    Event {
        at_utc: at(day),
        kind: EventKind::StatusChanged,
        actor: "operator".into(),
        from_status: None,
        to_status: Some(to),
        note: None,
    }
}

#[test]
fn each_kind_of_problem_is_found_and_attributed() {
    let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("r.sqlite")).unwrap();
    // uk-1: a formal reply (1), a short answer rated 2 (2), forwarded twice and passed on four
    // times (3), a good answer that a later appeal repeats (4).
    let mut a = appeal(1, "uk-1", 1);
    a.answers = vec![answer(AnswerKind::Formal, LONG, 2)];
    store.upsert_appeal(&a).unwrap();
    let mut a = appeal(2, "uk-1", 2);
    a.answers = vec![answer(AnswerKind::Merits, "Обращение рассмотрено.", 3)];
    a.rating = Rating::new(2);
    store.upsert_appeal(&a).unwrap();
    let mut a = appeal(3, "uk-1", 3);
    a.answers = vec![
        answer(AnswerKind::Forwarded, "Направлено в МУП", 4),
        answer(AnswerKind::Forwarded, "Направлено в УК", 5),
    ];
    a.events = vec![
        routed(Status::Routed, 3),
        routed(Status::Forwarded, 4),
        routed(Status::Routed, 4),
        routed(Status::Forwarded, 5),
    ];
    store.upsert_appeal(&a).unwrap();
    let mut a = appeal(4, "uk-1", 4);
    a.answers = vec![answer(AnswerKind::Merits, LONG, 5)];
    a.rating = Rating::new(5);
    store.upsert_appeal(&a).unwrap();
    // uk-2: one good answer; its appeal repeats uk-1's.
    let mut a = appeal(5, "uk-2", 10);
    a.answers = vec![answer(AnswerKind::Merits, LONG, 11)];
    a.repeat_of = Some(4);
    store.upsert_appeal(&a).unwrap();
    // uk-3: the same long answer to many appeals — a template, nothing else wrong.
    for id in 100..100 + TEMPLATE_MIN_REPEATS {
        let mut a = appeal(id, "uk-3", 12);
        a.answers = vec![answer(AnswerKind::Merits, LONG, 13)];
        store.upsert_appeal(&a).unwrap();
    }

    let list = by_organisation(&store, &Filter::default(), &pack).unwrap();
    let orgs: Vec<&str> = list.iter().map(|c| c.organisation.as_str()).collect();
    assert_eq!(
        orgs,
        ["uk-1", "uk-3"],
        "uk-2 has none; the most problems first"
    );
    let uk1 = &list[0];
    assert_eq!((uk1.appeals, uk1.answers), (4, 5));
    assert_eq!(
        (
            uk1.formal_answers,
            uk1.short_answers,
            uk1.repeatedly_forwarded,
            uk1.back_and_forth
        ),
        (1, 1, 1, 1)
    );
    assert_eq!((uk1.low_rated, uk1.followed_by_repeat), (1, 1));
    assert_eq!(uk1.templated_answers, 0);
    assert_eq!(uk1.examples, [4, 3, 2, 1], "newest first, each once");
    assert_eq!(uk1.name, "uk-1", "not in the pack: its code");
    let uk3 = &list[1];
    assert_eq!(
        (uk3.templated_answers, uk3.weight()),
        (TEMPLATE_MIN_REPEATS as u64, 0)
    );

    // The period counts appeals received in it: from 2 March on, the formal reply is gone.
    let later = Filter {
        from_utc: Some(at(2).timestamp() - 3_600),
        ..Filter::default()
    };
    let later = by_organisation(&store, &later, &pack).unwrap();
    let uk1 = later.iter().find(|c| c.organisation == "uk-1").unwrap();
    assert_eq!(
        (uk1.appeals, uk1.formal_answers, uk1.short_answers),
        (3, 0, 1)
    );

    // Other filters narrow it too: nothing of uk-1 is about roads.
    let roads = Filter {
        block: Some("roads".into()),
        ..Filter::default()
    };
    assert!(by_organisation(&store, &roads, &pack).unwrap().is_empty());

    // An answer given by another organisation is laid at its door: uk-9 answered uk-1's case
    // with a formal reply.
    let mut a = appeal(50, "uk-1", 20);
    let mut reply = answer(AnswerKind::Formal, LONG, 21);
    reply.organisation = Some(OrganisationCode::new("uk-9"));
    a.answers = vec![reply];
    store.upsert_appeal(&a).unwrap();
    let list = by_organisation(&store, &Filter::default(), &pack).unwrap();
    let uk9 = list.iter().find(|c| c.organisation == "uk-9").unwrap();
    assert_eq!((uk9.formal_answers, uk9.answers), (1, 1));
    let uk1 = list.iter().find(|c| c.organisation == "uk-1").unwrap();
    assert_eq!(uk1.formal_answers, 1, "still only its own formal reply");

    // One forwarding and a routing back are not yet back and forth.
    let mut a = appeal(51, "uk-1", 22);
    a.events = vec![
        routed(Status::Routed, 22),
        routed(Status::Forwarded, 23),
        routed(Status::Routed, 23),
    ];
    store.upsert_appeal(&a).unwrap();
    let list = by_organisation(&store, &Filter::default(), &pack).unwrap();
    let uk1 = list.iter().find(|c| c.organisation == "uk-1").unwrap();
    assert_eq!(uk1.back_and_forth, 1);
}
