//! The series registry: `<db>/series`, an append-only file mapping series
//! ids to label sets, plus metric metadata.
//!
//! Blocks and WAL records name series by id only, so labels are stored once
//! for the life of the database instead of once per block; that is a large
//! part of how small blocks stay. The registry is small (one record per
//! series ever seen) and is loaded whole into memory, where the label
//! postings used to answer matchers are built.
//!
//! Crash rule: new series records are fsynced before any WAL record that
//! uses their ids, so a torn tail can only hold series that nothing durable
//! references, and is cut on a writable open.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::codec::varint::{put_str, put_uvarint, Cursor};
use crate::error::{Error, Result};
use crate::frame::{check_frame, put_frame, resync, BadFrame};
use crate::labels::{Label, Labels};

pub(crate) const MAGIC: &[u8; 8] = b"MTSDBSER";
pub(crate) const VERSION: u32 = 1;
pub(crate) const HEADER_LEN: usize = 16;

const REC_SERIES: u8 = 1;
const REC_METADATA: u8 = 2;

/// A series' internal id: dense, assigned in order of first appearance.
pub(crate) type SeriesId = u32;

/// The kind of a metric, as in Prometheus' `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum MetricType {
    /// No type given.
    #[default]
    Unknown,
    /// Monotonic counter (resets on restart).
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Prometheus histogram (stored as its `_bucket`/`_sum`/`_count` series).
    Histogram,
    /// Prometheus summary.
    Summary,
    /// OpenMetrics info.
    Info,
    /// OpenMetrics stateset.
    StateSet,
}

impl MetricType {
    fn code(self) -> u8 {
        match self {
            MetricType::Unknown => 0,
            MetricType::Counter => 1,
            MetricType::Gauge => 2,
            MetricType::Histogram => 3,
            MetricType::Summary => 4,
            MetricType::Info => 5,
            MetricType::StateSet => 6,
        }
    }
    fn from_code(c: u8) -> Option<MetricType> {
        Some(match c {
            0 => MetricType::Unknown,
            1 => MetricType::Counter,
            2 => MetricType::Gauge,
            3 => MetricType::Histogram,
            4 => MetricType::Summary,
            5 => MetricType::Info,
            6 => MetricType::StateSet,
            _ => return None,
        })
    }
    /// The name Prometheus uses (`counter`, `gauge`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

/// What is known about a metric name: type, unit, help text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    /// Counter, gauge, ...
    pub metric_type: MetricType,
    /// Unit, e.g. `watts` (may be empty).
    pub unit: String,
    /// Help text (may be empty).
    pub help: String,
}

/// Damage found while loading the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The file.
    pub file: PathBuf,
    /// Offset of the damaged bytes.
    pub offset: u64,
    /// How many bytes were cut or skipped.
    pub len: u64,
    /// What was wrong.
    pub what: String,
}

pub(crate) struct Registry {
    path: PathBuf,
    file: Option<File>,
    /// Bytes of the file consumed so far (readers resume from here).
    read_off: u64,
    series: Vec<Option<Labels>>,
    by_labels: HashMap<Labels, SeriesId>,
    /// label name -> value -> ids (ascending).
    postings: BTreeMap<String, BTreeMap<String, Vec<SeriesId>>>,
    metadata: BTreeMap<String, Metadata>,
    pending: Vec<u8>,
    pub(crate) damage: Vec<Damage>,
}

impl Registry {
    /// Loads `path`. Writable: creates the file if missing and cuts a torn
    /// tail; read-only: never touches the file.
    pub(crate) fn open(path: &Path, writable: bool) -> Result<Registry> {
        let mut r = Registry {
            path: path.to_path_buf(),
            file: None,
            read_off: 0,
            series: Vec::new(),
            by_labels: HashMap::new(),
            postings: BTreeMap::new(),
            metadata: BTreeMap::new(),
            pending: Vec::new(),
            damage: Vec::new(),
        };
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        let good_end = r.load(&data, !writable)?;
        if writable {
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| Error::io("open", path, e))?;
            if data.len() < HEADER_LEN {
                // New file, or a crash while creating it: nothing in it can
                // be referenced yet.
                f.set_len(0).map_err(|e| Error::io("truncate", path, e))?;
                let mut h = Vec::with_capacity(HEADER_LEN);
                h.extend_from_slice(MAGIC);
                h.extend_from_slice(&VERSION.to_le_bytes());
                h.extend_from_slice(&0u32.to_le_bytes());
                f.write_all(&h).map_err(|e| Error::io("write", path, e))?;
                f.sync_all().map_err(|e| Error::io("fsync", path, e))?;
                if let Some(dir) = path.parent() {
                    crate::fs::sync_dir(dir)?;
                }
                r.read_off = HEADER_LEN as u64;
            } else if (good_end as usize) < data.len() {
                f.set_len(good_end)
                    .map_err(|e| Error::io("truncate", path, e))?;
                f.sync_all().map_err(|e| Error::io("fsync", path, e))?;
            }
            use std::io::Seek;
            f.seek(std::io::SeekFrom::End(0))
                .map_err(|e| Error::io("seek", path, e))?;
            r.file = Some(f);
        }
        Ok(r)
    }

    /// Parses `data` from `self.read_off`; returns the offset of the end of
    /// the last good record. `tolerate_partial_tail`: a reader racing the
    /// writer sees a half-written last record, which is not damage.
    fn load(&mut self, data: &[u8], tolerate_partial_tail: bool) -> Result<u64> {
        if data.is_empty() {
            return Ok(0);
        }
        let mut off = self.read_off as usize;
        if off == 0 {
            if data.len() < HEADER_LEN {
                if !tolerate_partial_tail {
                    self.damage.push(Damage {
                        file: self.path.clone(),
                        offset: 0,
                        len: data.len() as u64,
                        what: "header cut short".into(),
                    });
                }
                return Ok(0);
            }
            if &data[..8] != MAGIC {
                return Err(Error::corrupt(
                    &self.path,
                    0,
                    "bad magic, not a series registry",
                ));
            }
            let v = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
            if v != VERSION {
                return Err(Error::UnsupportedVersion {
                    file: self.path.clone(),
                    found: v,
                    supported: VERSION.to_string(),
                });
            }
            off = HEADER_LEN;
        }
        let mut good_end = off;
        while off < data.len() {
            match check_frame(data, off) {
                Ok(range) => {
                    let next = range.end;
                    if let Err(what) = self.apply(&data[range]) {
                        self.damage.push(Damage {
                            file: self.path.clone(),
                            offset: off as u64,
                            len: (next - off) as u64,
                            what,
                        });
                    }
                    off = next;
                    good_end = next;
                }
                // A frame cut short by the end of the file is a torn write.
                Err(BadFrame::ShortHeader { .. } | BadFrame::PastEnd { .. }) => {
                    if !tolerate_partial_tail {
                        self.damage.push(Damage {
                            file: self.path.clone(),
                            offset: off as u64,
                            len: (data.len() - off) as u64,
                            what: "torn record at end of file (cut)".into(),
                        });
                    }
                    break;
                }
                Err(what) => match resync(data, off) {
                    Some(n) => {
                        self.damage.push(Damage {
                            file: self.path.clone(),
                            offset: off as u64,
                            len: (n - off) as u64,
                            what: format!("{what}; skipped to next good record"),
                        });
                        off = n;
                    }
                    None => {
                        // A whole record that fails its checksum was
                        // written and fsynced, so something may reference
                        // its id: keep its bytes (never cut them) and
                        // append after it; the next load skips it again.
                        self.damage.push(Damage {
                            file: self.path.clone(),
                            offset: off as u64,
                            len: (data.len() - off) as u64,
                            what: format!("{what} in last record (kept, not read)"),
                        });
                        good_end = data.len();
                        break;
                    }
                },
            }
        }
        self.read_off = good_end as u64;
        Ok(good_end as u64)
    }

    fn apply(&mut self, payload: &[u8]) -> std::result::Result<(), String> {
        let mut c = Cursor::new(payload);
        match c.u8() {
            Some(REC_SERIES) => {
                let id = c.uvarint().ok_or("series id")?;
                let id = SeriesId::try_from(id).map_err(|_| "series id out of range")?;
                let n = c.uvarint().ok_or("label count")? as usize;
                if n > c.remaining() {
                    return Err("label count larger than record".into());
                }
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = c.str().ok_or("label name")?.to_string();
                    let value = c.str().ok_or("label value")?.to_string();
                    v.push(Label { name, value });
                }
                if !c.is_empty() {
                    return Err("trailing bytes in series record".into());
                }
                self.insert(id, Labels::from_trusted(v));
                Ok(())
            }
            Some(REC_METADATA) => {
                let name = c.str().ok_or("metric name")?.to_string();
                let t = c.u8().ok_or("metric type")?;
                let metric_type = MetricType::from_code(t).ok_or("unknown metric type")?;
                let unit = c.str().ok_or("unit")?.to_string();
                let help = c.str().ok_or("help")?.to_string();
                self.metadata.insert(
                    name,
                    Metadata {
                        metric_type,
                        unit,
                        help,
                    },
                );
                Ok(())
            }
            Some(t) => Err(format!("unknown record type {t}")),
            None => Err("empty record".into()),
        }
    }

    fn insert(&mut self, id: SeriesId, labels: Labels) {
        let i = id as usize;
        if self.series.len() <= i {
            self.series.resize(i + 1, None);
        }
        for l in labels.iter() {
            let ids = self
                .postings
                .entry(l.name.clone())
                .or_default()
                .entry(l.value.clone())
                .or_default();
            // Ids arrive ascending from the file; keep sorted regardless.
            match ids.last() {
                Some(&last) if last >= id => {
                    if let Err(p) = ids.binary_search(&id) {
                        ids.insert(p, id);
                    }
                }
                _ => ids.push(id),
            }
        }
        self.by_labels.insert(labels.clone(), id);
        self.series[i] = Some(labels);
    }

    /// Makes sure `id` is never handed to a new series: blocks or the WAL
    /// reference it even though its record was lost to damage.
    pub(crate) fn reserve(&mut self, id: SeriesId) {
        let i = id as usize;
        if self.series.len() <= i {
            self.series.resize(i + 1, None);
        }
    }

    /// The id of `labels`, registering it (buffered until `commit`) if new.
    pub(crate) fn get_or_create(&mut self, labels: &Labels) -> Result<SeriesId> {
        if let Some(id) = self.by_labels.get(labels) {
            return Ok(*id);
        }
        if self.file.is_none() {
            return Err(Error::ReadOnly);
        }
        let id = SeriesId::try_from(self.series.len())
            .map_err(|_| Error::InvalidArgument("more than 2^32 series".into()))?;
        let mut p = Vec::with_capacity(64);
        p.push(REC_SERIES);
        put_uvarint(&mut p, u64::from(id));
        put_uvarint(&mut p, labels.len() as u64);
        for l in labels.iter() {
            put_str(&mut p, &l.name);
            put_str(&mut p, &l.value);
        }
        put_frame(&mut self.pending, &p);
        self.insert(id, labels.clone());
        Ok(id)
    }

    /// Records metadata for a metric name (latest wins); buffered until `commit`.
    pub(crate) fn set_metadata(&mut self, name: &str, md: &Metadata) -> Result<()> {
        if self.file.is_none() {
            return Err(Error::ReadOnly);
        }
        if self.metadata.get(name) == Some(md) {
            return Ok(());
        }
        let mut p = Vec::new();
        p.push(REC_METADATA);
        put_str(&mut p, name);
        p.push(md.metric_type.code());
        put_str(&mut p, &md.unit);
        put_str(&mut p, &md.help);
        put_frame(&mut self.pending, &p);
        self.metadata.insert(name.to_string(), md.clone());
        Ok(())
    }

    /// Makes buffered records durable. Must run before WAL records that
    /// use the new ids are committed.
    pub(crate) fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let f = self.file.as_mut().ok_or(Error::ReadOnly)?;
        f.write_all(&self.pending)
            .map_err(|e| Error::io("write", &self.path, e))?;
        f.sync_data()
            .map_err(|e| Error::io("fsync", &self.path, e))?;
        self.read_off += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    pub(crate) fn labels(&self, id: SeriesId) -> Option<&Labels> {
        self.series.get(id as usize).and_then(|l| l.as_ref())
    }

    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }

    pub(crate) fn metadata(&self, name: &str) -> Option<&Metadata> {
        self.metadata.get(name)
    }

    pub(crate) fn all_metadata(&self) -> &BTreeMap<String, Metadata> {
        &self.metadata
    }

    pub(crate) fn label_names(&self) -> impl Iterator<Item = &str> {
        self.postings.keys().map(|s| s.as_str())
    }

    pub(crate) fn label_values(&self, name: &str) -> impl Iterator<Item = (&str, &[SeriesId])> {
        self.postings
            .get(name)
            .into_iter()
            .flat_map(|m| m.iter().map(|(v, ids)| (v.as_str(), ids.as_slice())))
    }

    /// Ids of all series, ascending.
    pub(crate) fn all_ids(&self) -> Vec<SeriesId> {
        self.series
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_some())
            .map(|(i, _)| i as SeriesId)
            .collect()
    }

    /// Ids of series that satisfy every matcher, ascending.
    pub(crate) fn select(&self, matchers: &[crate::matcher::Matcher]) -> Vec<SeriesId> {
        use crate::matcher::MatchOp;
        let mut result: Option<Vec<SeriesId>> = None;
        let mut negative = Vec::new();
        // Positive matchers (those that reject "") narrow via postings; the
        // rest are checked per candidate, as Prometheus' PostingsForMatchers.
        for m in matchers {
            if m.matches_empty() {
                negative.push(m);
                continue;
            }
            let mut ids: Vec<SeriesId> = match m.op {
                MatchOp::Equal => self
                    .postings
                    .get(&m.name)
                    .and_then(|vals| vals.get(&m.value))
                    .cloned()
                    .unwrap_or_default(),
                _ => {
                    let mut v: Vec<SeriesId> = self
                        .label_values(&m.name)
                        .filter(|(val, _)| m.matches_value(val))
                        .flat_map(|(_, ids)| ids.iter().copied())
                        .collect();
                    v.sort_unstable();
                    v.dedup();
                    v
                }
            };
            result = Some(match result {
                None => ids,
                Some(prev) => {
                    ids.retain(|id| prev.binary_search(id).is_ok());
                    ids
                }
            });
        }
        let mut ids = result.unwrap_or_else(|| self.all_ids());
        ids.retain(|&id| {
            self.labels(id)
                .is_some_and(|l| negative.iter().all(|m| m.matches(l)))
        });
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::{MatchOp, Matcher};

    fn lab(n: &str, kv: &[(&str, &str)]) -> Labels {
        Labels::new(n, kv).unwrap()
    }

    #[test]
    fn persists_and_reloads() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("series");
        {
            let mut r = Registry::open(&p, true).unwrap();
            assert_eq!(r.get_or_create(&lab("a", &[("x", "1")])).unwrap(), 0);
            assert_eq!(r.get_or_create(&lab("b", &[])).unwrap(), 1);
            assert_eq!(r.get_or_create(&lab("a", &[("x", "1")])).unwrap(), 0);
            r.set_metadata(
                "a",
                &Metadata {
                    metric_type: MetricType::Counter,
                    unit: "joules".into(),
                    help: "h".into(),
                },
            )
            .unwrap();
            r.commit().unwrap();
        }
        let r = Registry::open(&p, false).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.labels(1), Some(&lab("b", &[])));
        assert_eq!(r.metadata("a").unwrap().metric_type, MetricType::Counter);
        assert!(r.damage.is_empty());
        let sel = r.select(&[Matcher::new(MatchOp::Regex, "x", "1|2").unwrap()]);
        assert_eq!(sel, vec![0]);
        let sel = r.select(&[Matcher::new(MatchOp::Equal, "x", "").unwrap()]);
        assert_eq!(sel, vec![1]);
    }

    #[test]
    fn torn_tail_is_cut_and_middle_damage_skipped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("series");
        {
            let mut r = Registry::open(&p, true).unwrap();
            for i in 0..3 {
                r.get_or_create(&lab("m", &[("i", &i.to_string())]))
                    .unwrap();
            }
            r.commit().unwrap();
        }
        let full = std::fs::read(&p).unwrap();
        // Torn tail: last record cut short.
        std::fs::write(&p, &full[..full.len() - 3]).unwrap();
        let r = Registry::open(&p, true).unwrap();
        assert_eq!(r.all_ids(), vec![0, 1]);
        assert_eq!(r.damage.len(), 1);
        drop(r);
        assert!(std::fs::metadata(&p).unwrap().len() < full.len() as u64 - 3);
        // Bit flip in the middle record: the others stay readable.
        let mut b = full.clone();
        b[HEADER_LEN + 30] ^= 0x10;
        std::fs::write(&p, &b).unwrap();
        let r = Registry::open(&p, false).unwrap();
        assert_eq!(r.damage.len(), 1, "{:?}", r.damage);
        assert!(r.labels(0).is_some() || r.labels(2).is_some());
        assert!(r.labels(2).is_some());
        // Wrong magic names the file.
        let mut b = full;
        b[0] = b'X';
        std::fs::write(&p, &b).unwrap();
        let e = Registry::open(&p, false).err().unwrap().to_string();
        assert!(e.contains("series"), "{e}");
    }
}
