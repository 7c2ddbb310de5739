//! The language of Prometheus' PromQL test scripts, as written from
//! Prometheus 2.42 to 3.x (`promql/promqltest/test.go` upstream):
//!
//! ```text
//! # comment
//! load 5m                                  (also load_with_nhcb)
//!   metric{a="b"} 0+10x100 _ stale 5 1-1x3 _x2
//! clear
//! eval[_fail|_warn|_info|_ordered] instant at 1m30s <expr>
//!   metric{a="b"} 3                        (or a scalar: 3)
//! eval[_fail|_warn|_info] range from 0 to 10m step 1m <expr>
//!   {a="b"} 1+1x4 _ 7                      (`_`: no point at that step)
//!   expect fail msg: <exact error>         (or regex: <pattern>)
//!   expect ordered | warn | info | no_warn | no_info
//!   expect range vector from 0 to 1m step 30s
//!   expect string "text"
//!   expected_fail_message <exact error>    (2.5x form of expect fail)
//! ```
//!
//! Native histograms (`{{schema:0 ...}}`) are recognised but not loaded:
//! the engine has none. What the runner cannot check is reported by it,
//! never silently passed.

use super::super::Metric;
use crate::db::Sample;
use crate::labels::{Label, Labels};

/// A parse error: line (1-based) and what was wrong.
pub(crate) type ParseError = String;

/// How an expected error is matched.
#[derive(Debug)]
pub(crate) enum ErrorMatch {
    /// The whole message.
    Exact(String),
    /// A regular expression searched in the message.
    Regex(regex::Regex),
}

impl ErrorMatch {
    pub fn matches(&self, msg: &str) -> bool {
        match self {
            ErrorMatch::Exact(m) => m == msg,
            ErrorMatch::Regex(r) => r.is_match(msg),
        }
    }
}

/// When an eval is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// An instant query at this time (ms).
    Instant(i64),
    /// A range query (ms).
    Range { start: i64, end: i64, step: i64 },
}

/// One `eval` command and its expectations.
#[derive(Debug)]
pub(crate) struct Eval {
    pub line: usize,
    pub expr: String,
    pub when: When,
    pub fail: bool,
    pub error_match: Option<ErrorMatch>,
    pub ordered: bool,
    /// Annotations (`warn`, `info`) the script expects; the engine reports
    /// none, so these are counted, not checked.
    pub annotations: Vec<&'static str>,
    pub scalar: Option<f64>,
    pub string: Option<String>,
    /// Expected series and their values; one value for an instant vector,
    /// one per step for a range query or an `expect range vector`.
    pub expected: Vec<(Metric, Vec<Option<f64>>)>,
    /// `expect range vector from .. to .. step ..`: an instant query whose
    /// result is a range vector, its points at these times.
    pub range_vector: Option<(i64, i64, i64)>,
    /// The expected result holds a native histogram (`{{...}}`).
    pub histogram: bool,
}

/// A `load` command.
#[derive(Debug)]
pub(crate) struct Load {
    pub series: Vec<(Labels, Vec<Sample>)>,
    /// Series given as native histograms, not loaded.
    pub histograms: usize,
}

/// A script command.
#[derive(Debug)]
pub(crate) enum Command {
    Clear,
    Load(Load),
    Eval(Box<Eval>),
}

/// Parses a script into commands, with their line numbers, and the errors
/// of the lines that could not be parsed (the rest still run).
pub(crate) fn parse(script: &str) -> (Vec<(usize, Command)>, Vec<ParseError>) {
    let lines: Vec<&str> = script
        .lines()
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let l = lines[i];
        i += 1;
        if l.is_empty() {
            continue;
        }
        let (word, rest) = split_word(l);
        let word = word.to_ascii_lowercase();
        // A load's or an eval's block: the lines up to the next empty one;
        // an eval's ends early after a scalar or an `expected_fail_*` line,
        // as upstream (the next line is then a command). `clear` has none.
        let start = i;
        if word != "clear" {
            while i < lines.len() && !lines[i].is_empty() {
                i += 1;
                if word.starts_with("eval") && ends_eval_block(lines[i - 1]) {
                    break;
                }
            }
        }
        let body: Vec<(usize, &str)> = (start..i).map(|k| (k + 1, lines[k])).collect();
        let res = match word.as_str() {
            "clear" => Ok(Command::Clear),
            "load" | "load_with_nhcb" => parse_load(rest, &body).map(Command::Load),
            w if w.starts_with("eval") => {
                parse_eval(lineno, w, rest, &body).map(|e| Command::Eval(Box::new(e)))
            }
            _ => Err(format!("unknown command {l:?}")),
        };
        match res {
            Ok(c) => cmds.push((lineno, c)),
            Err(e) => errors.push(format!("line {lineno}: {e}")),
        }
    }
    (cmds, errors)
}

fn ends_eval_block(line: &str) -> bool {
    line.starts_with("expected_fail_message")
        || line.starts_with("expected_fail_regexp")
        || parse_number(line).is_some()
}

/// The first whitespace-separated word and the rest, trimmed.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(p) => (&s[..p], s[p..].trim_start()),
        None => (s, ""),
    }
}

fn duration(s: &str) -> Result<i64, String> {
    parse_duration(s).ok_or_else(|| format!("bad duration {s:?}"))
}

fn parse_load(rest: &str, body: &[(usize, &str)]) -> Result<Load, String> {
    let gap = duration(rest.trim())?;
    // Within one block a later line for the same series replaces the
    // earlier one (Prometheus keeps a map by series).
    let mut load = Load {
        series: Vec::new(),
        histograms: 0,
    };
    for &(lineno, def) in body {
        if def.contains("{{") {
            load.histograms += 1;
            continue;
        }
        let (labels, rest) = parse_metric(def).map_err(|e| format!("line {lineno}: {e}"))?;
        let vals = parse_values(rest).map_err(|e| format!("line {lineno}: {e}"))?;
        let labels = match Labels::from_pairs(labels.iter().map(|l| (&*l.name, &*l.value))) {
            Ok(l) => l,
            // Prometheus' storage takes reserved `__` names (its scrapes
            // drop them before storing); the database rejects them, the
            // in-memory store takes them like Prometheus' test storage.
            Err(_) if labels.iter().any(|l| reserved(&l.name)) => {
                Labels::from_trusted(labels.into_iter().filter(|l| !l.value.is_empty()).collect())
            }
            Err(e) => return Err(format!("line {lineno}: {e}")),
        };
        let mut samples = Vec::new();
        for (k, v) in vals.iter().enumerate() {
            if let Some(v) = v {
                let t = i64::try_from(k)
                    .ok()
                    .and_then(|k| k.checked_mul(gap))
                    .ok_or_else(|| format!("line {lineno}: series too long"))?;
                samples.push(Sample::new(t, *v));
            }
        }
        load.series.retain(|(l, _)| *l != labels);
        load.series.push((labels, samples));
    }
    Ok(load)
}

fn reserved(name: &str) -> bool {
    name.starts_with("__")
        && name != "__name__"
        && crate::labels::check_label_name(&name[2..]).is_ok()
}

fn parse_eval(
    lineno: usize,
    cmd: &str,
    rest: &str,
    body: &[(usize, &str)],
) -> Result<Eval, String> {
    let mut ev = Eval {
        line: lineno,
        expr: String::new(),
        when: When::Instant(0),
        fail: false,
        error_match: None,
        ordered: false,
        annotations: Vec::new(),
        scalar: None,
        string: None,
        expected: Vec::new(),
        range_vector: None,
        histogram: false,
    };
    match cmd {
        "eval" => {}
        "eval_fail" => ev.fail = true,
        "eval_ordered" => ev.ordered = true,
        "eval_warn" => ev.annotations.push("warn"),
        "eval_info" => ev.annotations.push("info"),
        _ => return Err(format!("unknown command {cmd}")),
    }
    let (kind, rest) = split_word(rest);
    match kind {
        "instant" => {
            let (at, rest) = split_word(rest);
            let (at, expr) = if at == "at" {
                split_word(rest)
            } else {
                return Err("expected `instant at <time> <expr>`".into());
            };
            ev.when = When::Instant(duration(at)?);
            ev.expr = expr.to_string();
        }
        "range" => {
            let (from, rest) = split_word(rest);
            let (start, rest) = split_word(rest);
            let (to, rest) = split_word(rest);
            let (end, rest) = split_word(rest);
            let (step_w, rest) = split_word(rest);
            let (step, expr) = split_word(rest);
            if (from, to, step_w) != ("from", "to", "step") {
                return Err("expected `range from <start> to <end> step <step> <expr>`".into());
            }
            let (start, end, step) = (duration(start)?, duration(end)?, duration(step)?);
            if end < start {
                return Err("range end before start".into());
            }
            if step <= 0 {
                return Err("range step must be positive".into());
            }
            if ev.ordered {
                return Err("eval_ordered is for instant queries".into());
            }
            ev.when = When::Range { start, end, step };
            ev.expr = expr.to_string();
        }
        _ => return Err(format!("expected `instant` or `range`, got {kind:?}")),
    }
    if ev.expr.is_empty() {
        return Err("missing expression".into());
    }
    for &(n, def) in body {
        parse_eval_line(&mut ev, def).map_err(|e| format!("line {n}: {e}"))?;
    }
    Ok(ev)
}

fn parse_eval_line(ev: &mut Eval, def: &str) -> Result<(), String> {
    if let Some(m) = def.strip_prefix("expected_fail_message") {
        ev.fail = true;
        ev.error_match = Some(ErrorMatch::Exact(m.trim().to_string()));
        return Ok(());
    }
    if let Some(m) = def.strip_prefix("expected_fail_regexp") {
        ev.fail = true;
        ev.error_match = Some(ErrorMatch::Regex(regex(m.trim())?));
        return Ok(());
    }
    let (word, rest) = split_word(def);
    if word == "expect" {
        return parse_expect(ev, rest);
    }
    if def.contains("{{") {
        ev.histogram = true;
        return Ok(());
    }
    if let Some(v) = parse_number(def) {
        ev.scalar = Some(v);
        return Ok(());
    }
    let (labels, rest) = parse_metric(def)?;
    let vals = parse_values(rest)?;
    if vals.is_empty() {
        return Err(format!("no value in {def:?}"));
    }
    if vals.len() > 1 && ev.when.is_instant() && ev.range_vector.is_none() {
        return Err("several values for an instant query".into());
    }
    ev.expected.push((Metric::from_vec(labels), vals));
    Ok(())
}

impl When {
    fn is_instant(&self) -> bool {
        matches!(self, When::Instant(_))
    }
}

fn regex(p: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(p).map_err(|e| format!("bad regex {p:?}: {e}"))
}

/// `expect <kind> [msg: <text> | regex: <pattern>]`, and 3.x's
/// `expect range vector from .. to .. step ..` and `expect string "..."`.
fn parse_expect(ev: &mut Eval, rest: &str) -> Result<(), String> {
    let (kind, tail) = split_word(rest);
    if kind == "range" {
        let (vector, tail) = split_word(tail);
        let words: Vec<&str> = tail.split_whitespace().collect();
        let [from, start, to, end, step_w, step] = words.as_slice() else {
            return Err("expected `expect range vector from <start> to <end> step <step>`".into());
        };
        if (vector, *from, *to, *step_w) != ("vector", "from", "to", "step") {
            return Err("expected `expect range vector from <start> to <end> step <step>`".into());
        }
        let step = duration(step)?;
        if step <= 0 {
            return Err("step must be positive".into());
        }
        ev.range_vector = Some((duration(start)?, duration(end)?, step));
        return Ok(());
    }
    if kind == "string" {
        ev.string = Some(unquote(tail)?);
        return Ok(());
    }
    let matcher = if tail.is_empty() {
        None
    } else if let Some(m) = tail.strip_prefix("msg:") {
        Some(ErrorMatch::Exact(m.trim().to_string()))
    } else if let Some(p) = tail.strip_prefix("regex:") {
        Some(ErrorMatch::Regex(regex(p.trim())?))
    } else {
        return Err(format!(
            "expected `msg:` or `regex:` after {kind}, got {tail:?}"
        ));
    };
    match kind {
        "fail" => {
            ev.fail = true;
            ev.error_match = matcher;
        }
        "ordered" | "no_warn" | "no_info" if matcher.is_some() => {
            return Err(format!("`expect {kind}` takes no message"));
        }
        "ordered" => ev.ordered = true,
        // The engine reports no annotations, so `no_*` always holds.
        "no_warn" | "no_info" => {}
        "warn" => ev.annotations.push("warn"),
        "info" => ev.annotations.push("info"),
        _ => return Err(format!("unknown expectation {kind:?}")),
    }
    Ok(())
}

/// A Go-style quoted string: `"a\"b"`, `'x'` or a raw `` `x` ``.
fn unquote(s: &str) -> Result<String, String> {
    let s = s.trim();
    let mut chars = s.chars();
    let q = chars.next().ok_or("empty string literal")?;
    if !matches!(q, '"' | '\'' | '`') || s.len() < 2 || !s.ends_with(q) {
        return Err(format!("not a quoted string: {s:?}"));
    }
    let inner = &s[1..s.len() - 1];
    if q == '`' {
        return Ok(inner.to_string());
    }
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(c) => out.push(c),
            None => return Err("unterminated escape".into()),
        }
    }
    Ok(out)
}

/// Prometheus' `model.ParseDuration`: `1h30m`, `5m`, `100ms`, `2d`, `1w`, `1y`.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut total: i64 = 0;
    let b = s.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return None;
    }
    while i < b.len() {
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = s.get(st..i)?.parse().ok()?;
        let ust = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = match s.get(ust..i)? {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// A number alone on a line (an expected scalar): Go's `ParseInt(s, 0,
/// 64)` (so `0x1f` is hex) or `ParseFloat`.
fn parse_number(s: &str) -> Option<f64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        let v = i64::from_str_radix(h, 16).ok()? as f64;
        return Some(if neg { -v } else { v });
    }
    let v = s.parse::<f64>().ok()?;
    Some(v)
}

/// Parses `name{a="b", c="d"}` (either part optional) and returns the
/// labels and the rest of the line.
pub(crate) fn parse_metric(line: &str) -> Result<(Vec<Label>, &str), String> {
    let line = line.trim();
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let mut labels = Vec::new();
    if name_end > 0 {
        labels.push(Label {
            name: "__name__".into(),
            value: line[..name_end].to_string(),
        });
    }
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut end = None;
        loop {
            // Skip separators.
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    chars.next();
                } else {
                    break;
                }
            }
            let Some(&(i, c)) = chars.peek() else { break };
            if c == '}' {
                end = Some(i + 1);
                break;
            }
            let mut name = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            while chars
                .peek()
                .is_some_and(|&(_, c)| c.is_whitespace() || c == '=')
            {
                chars.next();
            }
            let quote = match chars.next() {
                Some((_, q @ ('"' | '\''))) => q,
                other => return Err(format!("bad label value start {other:?} in {line:?}")),
            };
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated escape".into()),
                    },
                    Some((_, c)) if c == quote => break,
                    Some((_, c)) => value.push(c),
                    None => return Err(format!("unterminated label value in {line:?}")),
                }
            }
            labels.push(Label { name, value });
        }
        let end = end.ok_or_else(|| format!("unterminated label set in {line:?}"))?;
        rest = &r[end..];
    }
    Ok((labels, rest.trim()))
}

pub(crate) fn parse_value(s: &str) -> Result<f64, String> {
    if s == "stale" {
        return Ok(f64::from_bits(crate::STALE_NAN_BITS));
    }
    s.parse::<f64>()
        .map_err(|e| format!("bad number {s:?}: {e}"))
}

/// Most values one `x` may repeat: scripts load thousands, not billions.
const MAX_REPEAT: u64 = 10_000_000;

/// Series values: `1 2 _ stale`, `0+10x5` (6 values), `1-1x3`, `1x3`
/// (4 values), `_x3` (3 omitted). `None` is an omitted value.
pub(crate) fn parse_values(s: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("bad repeat {tok:?}"))?;
            if n as u64 > MAX_REPEAT {
                return Err(format!("repeat count too large in {tok:?}"));
            }
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        // `0x10` is "0 ten more times" here, as in Prometheus' series
        // notation, not hex.
        let Some(xp) = tok.rfind('x') else {
            out.push(Some(parse_value(tok)?));
            continue;
        };
        let n: u64 = tok[xp + 1..]
            .parse()
            .map_err(|_| format!("bad repeat {tok:?}"))?;
        let head = &tok[..xp];
        // Split "start+inc" / "start-inc" at a sign not in an exponent.
        let bytes = head.as_bytes();
        let split = (1..bytes.len()).find(|&i| {
            (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E')
        });
        let (start, inc) = match split {
            Some(i) => (parse_value(&head[..i])?, parse_value(&head[i..])?),
            None => (parse_value(head)?, 0.0),
        };
        if n > MAX_REPEAT {
            return Err(format!("repeat count too large in {tok:?}"));
        }
        // By repeated addition, as Prometheus' series parser does.
        let mut v = start;
        for _ in 0..=n {
            out.push(Some(v));
            v += inc;
        }
    }
    Ok(out)
}
