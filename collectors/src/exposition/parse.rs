//! The streaming parser: lines in, [`Item`]s out.

use std::collections::HashMap;
use std::io::BufRead;

use minetsdb::{Labels, Metadata, MetricType, METRIC_NAME_LABEL};

use super::lex::{self, LabelSpan, ValueSpan};
use super::value;
use super::{Error, Format, Item, Keyed, Options, ParseError, SeriesKey};

/// Series label sets kept for reuse, keyed by their exact text; cleared
/// when full. A scrape page repeats every series each scrape and an export
/// writes a series' samples together, so most lines hit. Keys are indexes
/// below this, so a consumer can map them with a small table.
const CACHE_MAX: usize = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Auto, no OpenMetrics evidence yet: read as 0.0.4.
    Undecided,
    Text,
    OpenMetrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    /// `# EOF` seen: only an end of input may follow.
    AfterEof,
    Done,
}

/// Streaming parser over a [`BufRead`]; an iterator of
/// `Result<Item, Error>` that goes on after a [`Error::Parse`].
///
/// ```
/// use minetsdb_collectors::exposition::{Item, Options, Parser};
/// let page = "# TYPE nvidia_smi_power_draw_watts gauge\n\
///             nvidia_smi_power_draw_watts{uuid=\"GPU-1\"} 220.5\n\
///             bad line\n";
/// let opts = Options { default_timestamp_ms: Some(1_700_000_000_000), ..Options::default() };
/// let mut samples = 0;
/// let mut errors = 0;
/// for item in Parser::new(page.as_bytes(), opts) {
///     match item {
///         Ok(Item::Sample { t, v, .. }) => { samples += 1; assert_eq!((t, v), (Some(1_700_000_000_000), 220.5)); }
///         Ok(_) => {}
///         Err(e) => { errors += 1; assert!(e.to_string().starts_with("line 3, column 5")); }
///     }
/// }
/// assert_eq!((samples, errors), (1, 1));
/// ```
pub struct Parser<R> {
    /// `None` only while [`Self::next_keyed`] holds it.
    r: Option<R>,
    opts: Options,
    mode: Mode,
    state: State,
    line: u64,
    buf: Vec<u8>,
    spans: Vec<LabelSpan>,
    scratch: String,
    queued: Option<Result<Keyed, Error>>,
    pending_md: Option<(String, Metadata)>,
    family: String,
    family_type: MetricType,
    /// Series text of the last sample line and its key: an export writes
    /// a series' samples together, so most lines repeat it.
    last_key: Vec<u8>,
    last: Option<SeriesKey>,
    /// Series text (exactly as the full lexer delimited it on a line that
    /// parsed) -> key; `keyed[key]` holds its labels.
    cache: HashMap<Box<[u8]>, u32>,
    keyed: Vec<Labels>,
}

impl<R: BufRead> Parser<R> {
    /// A parser reading `r` with `opts`.
    pub fn new(r: R, opts: Options) -> Parser<R> {
        let mode = match opts.format {
            Format::Auto => Mode::Undecided,
            Format::Text004 => Mode::Text,
            Format::OpenMetrics => Mode::OpenMetrics,
        };
        Parser {
            r: Some(r),
            opts,
            mode,
            state: State::Reading,
            line: 0,
            buf: Vec::with_capacity(256),
            spans: Vec::new(),
            scratch: String::new(),
            queued: None,
            pending_md: None,
            family: String::new(),
            family_type: MetricType::Unknown,
            last_key: Vec::new(),
            last: None,
            cache: HashMap::new(),
            keyed: Vec::new(),
        }
    }

    /// The format as read so far: [`Format::Auto`] until auto-detection
    /// has seen OpenMetrics evidence (the input is read as 0.0.4 meanwhile).
    pub fn format(&self) -> Format {
        match self.mode {
            Mode::Undecided => Format::Auto,
            Mode::Text => Format::Text004,
            Mode::OpenMetrics => Format::OpenMetrics,
        }
    }

    /// Lines read so far.
    pub fn line(&self) -> u64 {
        self.line
    }

    fn err(&self, col: usize, what: impl Into<String>) -> Error {
        Error::Parse(ParseError {
            line: self.line,
            col,
            what: what.into(),
        })
    }

    fn end_of_input(&mut self) -> Option<Result<Keyed, Error>> {
        let was = self.state;
        self.state = State::Done;
        if was == State::Reading && self.opts.format == Format::OpenMetrics {
            let e = Error::Parse(ParseError {
                line: self.line + 1,
                col: 1,
                what: "missing # EOF at the end of OpenMetrics input".into(),
            });
            self.queued = Some(Err(e));
        }
        if let Some((name, md)) = self.pending_md.take() {
            return Some(Ok(Keyed::Other(Item::Metadata { name, md })));
        }
        self.queued.take()
    }

    /// Parses the line in `self.buf` (newline stripped).
    fn parse_line(&mut self, line: &str) -> Result<Option<Keyed>, Error> {
        let b = line.as_bytes();
        let i = lex::skip_ws(b, 0);
        match b.get(i) {
            None => Ok(None),
            Some(b'#') => Ok(self.comment(line, i)?.map(Keyed::Other)),
            Some(_) => {
                let sample = self.sample(line)?;
                Ok(self.after_metadata(sample))
            }
        }
    }

    /// Metadata waiting for its family's first sample goes out before it.
    fn after_metadata(&mut self, sample: Option<Keyed>) -> Option<Keyed> {
        match (sample, self.pending_md.take()) {
            (Some(s), Some((name, md))) => {
                self.queued = Some(Ok(s));
                Some(Keyed::Other(Item::Metadata { name, md }))
            }
            (s, pending) => {
                self.pending_md = pending;
                s
            }
        }
    }

    fn comment(&mut self, line: &str, hash: usize) -> Result<Option<Item>, Error> {
        let b = line.as_bytes();
        let ks = lex::skip_ws(b, hash + 1);
        let mut ke = ks;
        while b.get(ke).is_some_and(u8::is_ascii_alphabetic) {
            ke += 1;
        }
        let keyword = &line[ks..ke];
        let rest_blank = lex::skip_ws(b, ke) == b.len();
        if keyword == "EOF" && rest_blank && self.mode != Mode::Text {
            self.mode = Mode::OpenMetrics;
            self.state = State::AfterEof;
            return Ok(match self.pending_md.take() {
                Some((name, md)) => {
                    self.queued = Some(Ok(Keyed::Other(Item::Eof)));
                    Some(Item::Metadata { name, md })
                }
                None => Some(Item::Eof),
            });
        }
        let kind = match keyword {
            "HELP" | "TYPE" | "UNIT" => keyword,
            _ => return Ok(None),
        };
        if ke < b.len() && !matches!(b[ke], b' ' | b'\t') {
            return Ok(None); // "#HELPER ..." is a comment
        }
        let ns = lex::skip_ws(b, ke);
        let ne = lex::metric_name_end(b, ns);
        if ne == ns {
            return Err(self.err(
                ns + 1,
                format!(
                    "# {kind}: expected a metric name, found {}",
                    lex::describe(line, ns)
                ),
            ));
        }
        if ne < b.len() && !matches!(b[ne], b' ' | b'\t') {
            return Err(self.err(
                ne + 1,
                format!(
                    "# {kind}: bad metric name: unexpected {}",
                    lex::describe(line, ne)
                ),
            ));
        }
        let name = &line[ns..ne];
        let arg_at = lex::skip_ws(b, ne);
        let arg = &line[arg_at..];
        let mut md = match self.pending_md.take() {
            Some((n, md)) if n == name => md,
            Some(other) => {
                self.pending_md = Some(other);
                Metadata::default()
            }
            None => Metadata::default(),
        };
        match kind {
            "TYPE" => {
                let word = arg.trim_end_matches([' ', '\t']);
                md.metric_type = match word {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" | "gaugehistogram" => MetricType::Histogram,
                    "summary" => MetricType::Summary,
                    "untyped" | "unknown" => MetricType::Unknown,
                    "info" => MetricType::Info,
                    "stateset" => MetricType::StateSet,
                    "" => {
                        return Err(self.restore_err(
                            md,
                            name,
                            arg_at + 1,
                            "# TYPE: missing the type",
                        ))
                    }
                    _ => {
                        let what = format!("# TYPE: unknown type {word:?}");
                        return Err(self.restore_err(md, name, arg_at + 1, what));
                    }
                };
                self.family.clear();
                self.family.push_str(name);
                self.family_type = md.metric_type;
            }
            "HELP" => {
                md.help.clear();
                lex::unescape(arg, &mut md.help);
            }
            _ => {
                let unit = arg.trim_end_matches([' ', '\t']);
                if unit.contains([' ', '\t']) {
                    let what = format!("# UNIT: unexpected text after the unit in {unit:?}");
                    return Err(self.restore_err(md, name, arg_at + 1, what));
                }
                if self.mode == Mode::Undecided {
                    self.mode = Mode::OpenMetrics;
                }
                md.unit = unit.to_string();
            }
        }
        // Consecutive lines for one family merge; a new name flushes the old.
        let flushed = self
            .pending_md
            .take()
            .map(|(name, md)| Item::Metadata { name, md });
        self.pending_md = Some((name.to_string(), md));
        Ok(flushed)
    }

    /// Puts back what a failed metadata line took out of `pending_md`.
    fn restore_err(
        &mut self,
        md: Metadata,
        name: &str,
        col: usize,
        what: impl Into<String>,
    ) -> Error {
        if self.pending_md.is_none() && md != Metadata::default() {
            self.pending_md = Some((name.to_string(), md));
        }
        self.err(col, what)
    }

    /// A sample line through the full lexer: a series text seen before
    /// takes its cached key, a new one is validated and cached.
    fn sample(&mut self, line: &str) -> Result<Option<Keyed>, Error> {
        let (ns, end) = match lex::series(line, &mut self.spans, &mut self.scratch) {
            Ok(s) => s,
            Err(f) => return Err(self.err(f.at + 1, f.what)),
        };
        let tail = match lex::tail(line, end) {
            Ok(t) => t,
            Err(f) => return Err(self.err(f.at + 1, f.what)),
        };
        let (t, v) = self.time_value(&tail, 0)?;
        let name = &line[ns..lex::metric_name_end(line.as_bytes(), ns)];
        if self.skip_created(name) {
            return Ok(None);
        }
        let (key, new) = self.key(line, name, ns, end)?;
        Ok(Some(Keyed::Sample { key, new, t, v }))
    }

    /// The fast path for a sample line whose series text (from `ns` to
    /// `end`) is byte for byte one the full lexer delimited and accepted
    /// before, followed by a space or tab. The full lexer would delimit
    /// the same text here (it decides where a series ends from the
    /// series' own bytes: the closing `}`, or the first byte after the
    /// name, which is the blank), so this line is exactly as valid as
    /// the full path would find it: only what follows the series is left
    /// to lex and check, by the same code.
    fn sample_cached(
        &mut self,
        raw: &[u8],
        key: SeriesKey,
        ns: usize,
        end: usize,
    ) -> Result<Option<Keyed>, Error> {
        let rest = raw.get(end..).unwrap_or_default();
        let rest = match std::str::from_utf8(rest) {
            Ok(r) => r,
            Err(e) => return Err(self.err(end + e.valid_up_to() + 1, "line is not valid UTF-8")),
        };
        let tail = match lex::tail(rest, 0) {
            Ok(t) => t,
            Err(f) => return Err(self.err(end + f.at + 1, f.what)),
        };
        let (t, v) = self.time_value(&tail, end)?;
        if self.mode == Mode::OpenMetrics
            && !self.opts.keep_created
            && self.names_created(raw.get(ns..end).unwrap_or_default())
        {
            return Ok(None);
        }
        if self.last != Some(key) {
            self.last_key.clear();
            self.last_key
                .extend_from_slice(raw.get(ns..end).unwrap_or_default());
            self.last = Some(key);
        }
        Ok(Some(Keyed::Sample {
            key,
            new: false,
            t,
            v,
        }))
    }

    /// The key of the series text at `raw[ns..]`, if it is cached and a
    /// blank follows it.
    fn cached_key(&self, raw: &[u8], ns: usize) -> Option<(SeriesKey, usize)> {
        let line = raw.get(ns..)?;
        let blank_at = |n: usize| matches!(line.get(n), Some(b' ' | b'\t'));
        if let Some(k) = self.last {
            if line.starts_with(&self.last_key) && blank_at(self.last_key.len()) {
                return Some((k, ns + self.last_key.len()));
            }
        }
        let e = lex::series_end_guess(line, 0)?;
        if !blank_at(e) {
            return None;
        }
        let k = *self.cache.get(line.get(..e)?)?;
        Some((SeriesKey(k), ns + e))
    }

    /// Timestamp and value of a lexed tail whose offsets are `off` bytes
    /// into the line; notes OpenMetrics evidence.
    fn time_value(&mut self, s: &lex::Tail<'_>, off: usize) -> Result<(Option<i64>, f64), Error> {
        if let Some(at) = s.exemplar_at {
            match self.mode {
                Mode::Text => {
                    return Err(self.err(
                        off + at + 1,
                        "exemplars (` # ...` after the value) are OpenMetrics only",
                    ))
                }
                Mode::Undecided => self.mode = Mode::OpenMetrics,
                Mode::OpenMetrics => {}
            }
        }
        let t = match s.ts {
            None => self.opts.default_timestamp_ms,
            Some((ts, at)) => {
                if self.mode == Mode::Undecided && value::is_float_timestamp(ts) {
                    self.mode = Mode::OpenMetrics;
                }
                let r = match self.mode {
                    Mode::OpenMetrics => value::parse_seconds(ts),
                    _ => value::parse_ms(ts),
                };
                Some(r.map_err(|w| self.err(off + at + 1, w))?)
            }
        };
        let v = value::parse_value(s.value).map_err(|w| self.err(off + s.value_at + 1, w))?;
        Ok((t, v))
    }

    /// OpenMetrics `_created` samples of counters, histograms and
    /// summaries are skipped unless asked for.
    fn skip_created(&self, name: &str) -> bool {
        self.mode == Mode::OpenMetrics && !self.opts.keep_created && self.is_created(name)
    }

    /// [`Self::is_created`] of the name `series` (accepted series text)
    /// starts with, without scanning for where the name ends: this runs
    /// for every cached sample line of an OpenMetrics file.
    fn names_created(&self, series: &[u8]) -> bool {
        matches!(
            self.family_type,
            MetricType::Counter | MetricType::Histogram | MetricType::Summary
        ) && series
            .strip_prefix(self.family.as_bytes())
            .and_then(|r| r.strip_prefix(b"_created"))
            // The name ends here: what follows is no name character.
            .is_some_and(|r| {
                lex::metric_name_end(r, 0) == 0 && !r.first().is_some_and(u8::is_ascii_digit)
            })
    }

    fn is_created(&self, name: &str) -> bool {
        matches!(
            self.family_type,
            MetricType::Counter | MetricType::Histogram | MetricType::Summary
        ) && name.strip_suffix("_created") == Some(self.family.as_str())
    }

    /// The key of the series text `line[ns..end]` (metric `name`),
    /// building and caching its labels when new.
    fn key(
        &mut self,
        line: &str,
        name: &str,
        ns: usize,
        end: usize,
    ) -> Result<(SeriesKey, bool), Error> {
        let text = &line.as_bytes()[ns..end];
        let (key, new) = match self.cache.get(text) {
            Some(&k) => (SeriesKey(k), false),
            None => {
                let l = self.build_labels(line, name, ns)?;
                if self.keyed.len() >= CACHE_MAX {
                    // Keys restart; a consumer learns of each reuse
                    // through `new`.
                    self.cache.clear();
                    self.keyed.clear();
                }
                let k = self.keyed.len() as u32;
                self.keyed.push(l);
                self.cache.insert(text.into(), k);
                (SeriesKey(k), true)
            }
        };
        self.last_key.clear();
        self.last_key.extend_from_slice(text);
        self.last = Some(key);
        Ok((key, new))
    }

    /// The labels of a key the parser yielded: valid until the parser
    /// yields a sample with `new` set for another series under this key.
    pub fn key_labels(&self, key: SeriesKey) -> Option<&Labels> {
        self.keyed.get(key.0 as usize)
    }

    fn build_labels(&self, line: &str, name: &str, at: usize) -> Result<Labels, Error> {
        let label_name = |l: &LabelSpan| &line[l.name.0..l.name.1];
        for (j, l) in self.spans.iter().enumerate() {
            let n = label_name(l);
            if n == METRIC_NAME_LABEL || self.spans[..j].iter().any(|p| label_name(p) == n) {
                return Err(self.err(l.name.0 + 1, format!("duplicate label name {n:?}")));
            }
        }
        let value = |l: &LabelSpan| match l.value {
            ValueSpan::Line(a, b) => &line[a..b],
            ValueSpan::Scratch(a, b) => &self.scratch[a..b],
        };
        let pairs = std::iter::once((METRIC_NAME_LABEL, name))
            .chain(self.spans.iter().map(|l| (label_name(l), value(l))));
        Labels::from_pairs(pairs).map_err(|e| self.err(at + 1, e.to_string()))
    }
}

impl<R: BufRead> Iterator for Parser<R> {
    type Item = Result<Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.next_keyed()? {
            Ok(Keyed::Sample { key, t, v, .. }) => {
                // Every key yielded has its labels until the next new one.
                let labels = self.key_labels(key).cloned().unwrap_or_default();
                Ok(Item::Sample { labels, t, v })
            }
            Ok(Keyed::Other(item)) => Ok(item),
            Err(e) => Err(e),
        })
    }
}

impl<R: BufRead> Parser<R> {
    /// Like the iterator, but a sample names its series by a [`SeriesKey`]
    /// instead of a clone of its labels: what a bulk consumer wants, who
    /// maps each key once (when `new` is set, from
    /// [`Parser::key_labels`]) and then never hashes labels again. A
    /// [`Keyed::Other`] is never a sample.
    pub fn next_keyed(&mut self) -> Option<Result<Keyed, Error>> {
        if let Some(q) = self.queued.take() {
            return Some(q);
        }
        // The reader is out of `self` while a line is parsed in its buffer.
        let mut r = self.r.take()?;
        let out = self.next_from(&mut r);
        self.r = Some(r);
        out
    }

    fn next_from(&mut self, r: &mut R) -> Option<Result<Keyed, Error>> {
        loop {
            if self.state == State::Done {
                return None;
            }
            let avail = match r.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.state = State::Done;
                    return Some(Err(Error::Io {
                        line: self.line + 1,
                        source,
                    }));
                }
            };
            if avail.is_empty() {
                return self.end_of_input();
            }
            let parsed = match memchr::memchr(b'\n', avail) {
                // A whole line in the reader's buffer is parsed where it
                // lies, not copied.
                Some(nl) => {
                    self.line += 1;
                    let parsed = self.line_of(&avail[..=nl]);
                    r.consume(nl + 1);
                    parsed
                }
                // A line across the buffer's end is gathered first.
                None => {
                    let mut buf = std::mem::take(&mut self.buf);
                    buf.clear();
                    if let Err(source) = r.read_until(b'\n', &mut buf) {
                        self.buf = buf;
                        self.state = State::Done;
                        return Some(Err(Error::Io {
                            line: self.line + 1,
                            source,
                        }));
                    }
                    self.line += 1;
                    let parsed = self.line_of(&buf);
                    self.buf = buf;
                    parsed
                }
            };
            match parsed {
                Ok(None) => continue,
                Ok(Some(item)) => return Some(Ok(item)),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    fn line_of(&mut self, raw: &[u8]) -> Result<Option<Keyed>, Error> {
        let mut raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if self.state == State::AfterEof {
            self.state = State::Done;
            if raw.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(None);
            }
            return Err(self.err(1, "text after # EOF"));
        }
        let ns = lex::skip_ws(raw, 0);
        if let Some((key, end)) = self.cached_key(raw, ns) {
            let sample = self.sample_cached(raw, key, ns, end)?;
            return Ok(self.after_metadata(sample));
        }
        match std::str::from_utf8(raw) {
            Ok(line) => self.parse_line(line),
            Err(e) => Err(self.err(e.valid_up_to() + 1, "line is not valid UTF-8")),
        }
    }
}
