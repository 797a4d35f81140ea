//! A saved copy of the read model, so the app shows a 1,000,000-appeal replica in well under a
//! second instead of reading every row from SQLite (ENGINEERING §6: cold start < 1 s).
//!
//! The file holds the columns as little-endian arrays, the code tables and the problems, under a
//! key that names the replica state it was made from (the app uses the sync cursor and the
//! highest appeal id: every change to a replica comes through the sync and moves the cursor). A
//! file with another key, another format version, or any damage is not used: the model is then
//! read from the replica as before. Files are written to a temporary name and renamed, so a crash
//! leaves the old file or the new one.

use super::model::{Codes, ProblemInfo, ReadModel};
use crate::domain::{Channel, Regime, Status};
use std::io::Write as _;
use std::path::Path;

const MAGIC: &[u8; 8] = b"TSURRM02";

/// Why a snapshot was not read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("снимок модели {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("снимок модели {path} повреждён или другой версии: {what}")]
    Invalid { path: String, what: &'static str },
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }

    fn string(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn column<T, const N: usize>(
        &mut self,
        rows: usize,
        f: impl Fn([u8; N]) -> T,
    ) -> Option<Vec<T>> {
        let bytes = self.take(rows.checked_mul(N)?)?;
        Some(
            bytes
                .chunks_exact(N)
                .map(|c| f(c.try_into().unwrap_or([0; N])))
                .collect(),
        )
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn enum_index<T: PartialEq + Copy>(all: &[T], v: T) -> u8 {
    all.iter().position(|x| *x == v).unwrap_or(0) as u8
}

impl ReadModel {
    /// Writes the model to `path` under `key`.
    pub fn write_snapshot(&self, path: &Path, key: &str) -> Result<(), SnapshotError> {
        let io = |source| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        };
        let rows = self.len();
        let mut out = Vec::with_capacity(rows * 90 + 4096);
        out.extend_from_slice(MAGIC);
        put_str(&mut out, key);
        out.extend_from_slice(&(rows as u64).to_le_bytes());
        for codes in [
            &self.blocks,
            &self.topics,
            &self.municipalities,
            &self.organisations,
        ] {
            out.extend_from_slice(&(codes.len() as u64).to_le_bytes());
            for i in 0..codes.len() {
                put_str(&mut out, codes.name(i as u16).unwrap_or_default());
            }
        }
        for column in [
            &self.id,
            &self.received,
            &self.registered,
            &self.due,
            &self.answered,
            &self.first_reaction,
            &self.problem,
        ] {
            for v in column {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend(self.status.iter().map(|s| enum_index(Status::ALL, *s)));
        out.extend(self.regime.iter().map(|s| enum_index(Regime::ALL, *s)));
        out.extend(self.channel.iter().map(|s| enum_index(Channel::ALL, *s)));
        for column in [
            &self.block,
            &self.topic,
            &self.municipality,
            &self.organisation,
        ] {
            for v in column {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.rating);
        out.extend(self.is_repeat.iter().map(|b| u8::from(*b)));
        out.extend_from_slice(&self.answers);
        out.extend_from_slice(&self.merits_answers);
        for column in [&self.lat, &self.lon] {
            for v in column {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut problems: Vec<&ProblemInfo> = self.problems.values().collect();
        problems.sort_by_key(|p| p.id);
        out.extend_from_slice(&(problems.len() as u64).to_le_bytes());
        for p in problems {
            out.extend_from_slice(&p.id.to_le_bytes());
            put_str(&mut out, &p.title);
            put_str(&mut out, p.municipality.as_deref().unwrap_or_default());
            out.extend_from_slice(&p.opened.to_le_bytes());
            out.extend_from_slice(&p.merged_into.unwrap_or(0).to_le_bytes());
        }
        out.extend_from_slice(MAGIC);

        let tmp = path.with_extension("model-tmp");
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&out).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads the model saved under `key`; `Ok(None)` when there is no file or it was made from
    /// another state of the replica.
    pub fn read_snapshot(path: &Path, key: &str) -> Result<Option<ReadModel>, SnapshotError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SnapshotError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let invalid = |what| SnapshotError::Invalid {
            path: path.display().to_string(),
            what,
        };
        let mut r = Reader {
            bytes: &bytes,
            at: 0,
        };
        if r.take(8) != Some(MAGIC.as_slice()) || !bytes.ends_with(MAGIC) {
            return Err(invalid("нет подписи формата"));
        }
        if r.string().as_deref() != Some(key) {
            return Ok(None);
        }
        Self::parse(&mut r)
            .map(Some)
            .ok_or_else(|| invalid("файл обрывается или не сходится"))
    }

    fn parse(r: &mut Reader<'_>) -> Option<ReadModel> {
        let rows = r.len()?;
        let mut model = ReadModel::new();
        let mut tables: Vec<Codes> = Vec::new();
        for _ in 0..4 {
            let n = r.len()?;
            let mut codes = Codes::default();
            for _ in 0..n {
                let name = r.string()?;
                codes.intern(Some(&name));
            }
            tables.push(codes);
        }
        model.organisations = tables.pop()?;
        model.municipalities = tables.pop()?;
        model.topics = tables.pop()?;
        model.blocks = tables.pop()?;
        let i64s = |r: &mut Reader<'_>| r.column(rows, i64::from_le_bytes);
        model.id = i64s(r)?;
        model.received = i64s(r)?;
        model.registered = i64s(r)?;
        model.due = i64s(r)?;
        model.answered = i64s(r)?;
        model.first_reaction = i64s(r)?;
        model.problem = i64s(r)?;
        fn pick<T: Copy>(all: &[T], b: [u8; 1]) -> Option<T> {
            all.get(usize::from(b[0])).copied()
        }
        model.status = r
            .column(rows, |b| pick(Status::ALL, b))?
            .into_iter()
            .collect::<Option<_>>()?;
        model.regime = r
            .column(rows, |b| pick(Regime::ALL, b))?
            .into_iter()
            .collect::<Option<_>>()?;
        model.channel = r
            .column(rows, |b| pick(Channel::ALL, b))?
            .into_iter()
            .collect::<Option<_>>()?;
        let u16s = |r: &mut Reader<'_>| r.column(rows, u16::from_le_bytes);
        model.block = u16s(r)?;
        model.topic = u16s(r)?;
        model.municipality = u16s(r)?;
        model.organisation = u16s(r)?;
        model.rating = r.take(rows)?.to_vec();
        model.is_repeat = r.take(rows)?.iter().map(|b| *b != 0).collect();
        model.answers = r.take(rows)?.to_vec();
        model.merits_answers = r.take(rows)?.to_vec();
        model.lat = r.column(rows, f32::from_le_bytes)?;
        model.lon = r.column(rows, f32::from_le_bytes)?;
        let problems = r.len()?;
        for _ in 0..problems {
            let id = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let title = r.string()?;
            let municipality = r.string()?;
            let opened = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
            let merged = i64::from_le_bytes(r.take(8)?.try_into().ok()?);
            model.upsert_problem(ProblemInfo {
                id,
                title,
                municipality: (!municipality.is_empty()).then_some(municipality),
                opened,
                merged_into: (merged != 0).then_some(merged),
            });
        }
        if r.take(8) != Some(MAGIC.as_slice()) || r.at != r.bytes.len() {
            return None;
        }
        model.index_rows();
        Some(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoParams, write_demo_replica};
    use crate::pack::RegionPack;
    use crate::store::Store;

    fn model(dir: &Path) -> ReadModel {
        let pack = RegionPack::load(RegionPack::bundled_dir()).unwrap();
        let params = DemoParams {
            appeals: 2_000,
            seed: 3,
            now_utc: DemoParams::now_for_date(
                &pack,
                chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            ),
        };
        let db = dir.join("demo.sqlite");
        write_demo_replica(&pack, &params, &db, false, &mut |_, _| true).unwrap();
        ReadModel::load(&Store::open_existing(&db).unwrap()).unwrap()
    }

    #[test]
    fn a_saved_model_reads_back_the_same_and_only_under_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replica.model");
        let model = model(dir.path());
        assert!(!model.problems.is_empty());
        model.write_snapshot(&path, "7/2000/4").unwrap();
        let back = ReadModel::read_snapshot(&path, "7/2000/4")
            .unwrap()
            .unwrap();
        assert_eq!(back.len(), model.len());
        assert_eq!(back.id, model.id);
        assert_eq!(back.due, model.due);
        assert_eq!(back.status, model.status);
        assert_eq!(back.channel, model.channel);
        assert_eq!(back.organisation, model.organisation);
        // Appeals without a point hold NaN, which equals nothing: compare the bits.
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.lat), bits(&model.lat));
        assert_eq!(bits(&back.lon), bits(&model.lon));
        assert!(
            model.lat.iter().any(|v| v.is_nan()),
            "the demo has appeals without a point"
        );
        assert_eq!(back.problem, model.problem);
        assert_eq!(back.is_repeat, model.is_repeat);
        assert_eq!(back.problems, model.problems);
        for i in 0..model.organisations.len() as u16 {
            assert_eq!(back.organisations.name(i), model.organisations.name(i));
        }
        assert_eq!(back.row(model.id[17]), Some(17));
        // Another state of the replica: not used.
        assert!(
            ReadModel::read_snapshot(&path, "8/2000/4")
                .unwrap()
                .is_none()
        );
        assert!(
            ReadModel::read_snapshot(&dir.path().join("none"), "k")
                .unwrap()
                .is_none()
        );
        // A damaged file is an error, never a wrong model.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(ReadModel::read_snapshot(&path, "7/2000/4").is_err());
    }
}
