//! The change feed on PostgreSQL under concurrent writers (ENGINEERING §3.1): a transaction that
//! took a lower sequence must never become visible after a reader has moved past it.

mod common;

use common::PgSchema;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tsur_core::pack::RegionPack;
use tsur_server::auth::Role;
use tsur_server::ingest;
use tsur_server::storage::Storage;

const WRITERS: usize = 8;
const BATCHES: usize = 50;
const PER_BATCH: usize = 3;
const READERS: usize = 4;

fn item(writer: usize, batch: usize, i: usize) -> serde_json::Value {
    json!({
        "source": "pos",
        "external_id": format!("W{writer}-B{batch}-{i}"),
        "channel": "pos",
        "received_utc": "2026-03-02T04:00:00Z",
        "registered_utc": "2026-03-02T04:00:00Z",
        "text": "Нет отопления в квартире.",
        "author": { "name": "Сидоров Пётр Ильич" },
        "address": "Челябинск, ул. Кирова, д. 1",
        "point": { "lat": 55.16, "lon": 61.40 },
        "municipality": "75701000",
        "topic": "zhkh.heating"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_make_a_reader_skip_a_change() {
    let Some(schema) = PgSchema::create("concurrent_writers").await else {
        return;
    };
    let storage = Arc::new(Storage::open(&schema.url).unwrap());
    // Writers pause 0–4 ms between taking their sequences and committing, so commits overlap.
    let counter = Arc::new(AtomicU64::new(0));
    storage
        .as_postgres()
        .unwrap()
        .set_test_write_delay(Some(Arc::new(move || {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            Duration::from_millis(n.wrapping_mul(7) % 5)
        })));
    let pack = Arc::new(RegionPack::load(RegionPack::bundled_dir()).unwrap());
    let (_, token) = storage
        .create_token("reader", Role::Curator, &[], &[])
        .unwrap();
    let principal = storage.principal(&token).unwrap().unwrap();
    let done = Arc::new(AtomicBool::new(false));

    // Readers poll exactly as the API does: storage calls inside spawn_blocking.
    let mut readers = Vec::new();
    for r in 0..READERS {
        let (storage, principal, done) = (storage.clone(), principal.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let (mut cursor, mut seen) = (0i64, Vec::new());
            loop {
                let finished = done.load(Ordering::SeqCst);
                let (s, p) = (storage.clone(), principal.clone());
                let limit = 13 + r as u32 * 17;
                let page = tokio::task::spawn_blocking(move || s.changes(&p, cursor, limit))
                    .await
                    .unwrap()
                    .unwrap();
                assert!(page.next >= cursor, "the cursor only moves forward");
                seen.extend(page.changes.iter().map(|c| c.seq));
                cursor = page.next;
                if finished && page.changes.is_empty() && !page.has_more {
                    return seen;
                }
                if page.changes.is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (storage, pack) = (storage.clone(), pack.clone());
        writers.push(tokio::spawn(async move {
            for b in 0..BATCHES {
                let (storage, pack) = (storage.clone(), pack.clone());
                let outcomes = tokio::task::spawn_blocking(move || {
                    let engine = pack.deadline_engine();
                    let items = (0..PER_BATCH)
                        .map(|i| ingest::prepare_value(&pack, &engine, item(w, b, i)))
                        .collect();
                    storage.ingest(items)
                })
                .await
                .unwrap()
                .unwrap();
                assert_eq!(outcomes.len(), PER_BATCH);
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);

    let total = (WRITERS * BATCHES * PER_BATCH) as i64;
    assert_eq!(storage.latest_seq().unwrap(), total);
    let log: Vec<i64> = {
        let page = storage.changes(&principal, 0, 5_000).unwrap();
        assert!(!page.has_more);
        page.changes.iter().map(|c| c.seq).collect()
    };
    assert_eq!(log, (1..=total).collect::<Vec<_>>(), "the log has no gaps");
    for (r, reader) in readers.into_iter().enumerate() {
        let seen = reader.await.unwrap();
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "reader {r} saw sequences out of order or twice"
        );
        let missing: Vec<i64> = log
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .difference(&seen.iter().copied().collect())
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "reader {r} skipped {} changes, first {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        assert_eq!(seen, log, "reader {r}");
    }
}
