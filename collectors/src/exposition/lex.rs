//! The sample-line lexer: splits `name{label="value",...} value [timestamp] [# exemplar]`
//! into borrowed pieces without allocating (escaped label values are
//! unescaped into a reused scratch string).

/// Where a label's value lives once lexed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueSpan {
    /// `line[a..b]`: written without escapes.
    Line(usize, usize),
    /// `scratch[a..b]`: unescaped copy.
    Scratch(usize, usize),
}

/// One lexed `name="value"` pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabelSpan {
    /// `line[name.0..name.1]`.
    pub name: (usize, usize),
    pub value: ValueSpan,
}

/// A whole sample line lexed: the lexer tests' view (the parser lexes
/// the series and what follows it separately, see `Parser`).
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct SampleLine<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub ts: Option<(&'a str, usize)>,
}

/// A lexing failure at a byte offset.
#[derive(Debug)]
pub(crate) struct Fail {
    pub at: usize,
    pub what: String,
}

fn fail<T>(at: usize, what: impl Into<String>) -> Result<T, Fail> {
    Err(Fail {
        at,
        what: what.into(),
    })
}

/// Names what sits at `at`, for error messages.
pub(crate) fn describe(line: &str, at: usize) -> String {
    match line.get(at..).and_then(|s| s.chars().next()) {
        None => "end of line".into(),
        Some(c) => format!("{c:?}"),
    }
}

pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

fn token_end(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if c == b' ' || c == b'\t' {
            break;
        }
        i += 1;
    }
    i
}

/// End of a metric name `[a-zA-Z_:][a-zA-Z0-9_:]*` starting at `i` (== `i` if none).
pub(crate) fn metric_name_end(b: &[u8], mut i: usize) -> usize {
    let start = i;
    while let Some(&c) = b.get(i) {
        let ok =
            c.is_ascii_alphabetic() || c == b'_' || c == b':' || (i > start && c.is_ascii_digit());
        if !ok {
            break;
        }
        i += 1;
    }
    i
}

fn label_name_end(b: &[u8], mut i: usize) -> usize {
    let start = i;
    while let Some(&c) = b.get(i) {
        let ok = c.is_ascii_alphabetic() || c == b'_' || (i > start && c.is_ascii_digit());
        if !ok {
            break;
        }
        i += 1;
    }
    i
}

/// Lexes one sample line. `labels` and `scratch` are cleared and refilled.
#[cfg(test)]
pub(crate) fn sample_line<'a>(
    line: &'a str,
    labels: &mut Vec<LabelSpan>,
    scratch: &mut String,
) -> Result<SampleLine<'a>, Fail> {
    let (ns, end) = series(line, labels, scratch)?;
    let name_end = metric_name_end(line.as_bytes(), ns);
    let t = tail(line, end)?;
    Ok(SampleLine {
        name: &line[ns..name_end],
        value: t.value,
        ts: t.ts,
    })
}

/// What follows the series on a sample line; offsets into the text lexed.
#[derive(Debug)]
pub(crate) struct Tail<'a> {
    pub value: &'a str,
    pub value_at: usize,
    pub ts: Option<(&'a str, usize)>,
    pub exemplar_at: Option<usize>,
}

/// A guess at where the series text of a sample line starting at `i` ends:
/// after the first `}` outside quotes, or at the end of the metric name.
/// It does no validation: callers only use it to look up series text the
/// full lexer accepted before (see `Parser`), never to accept new text.
pub(crate) fn series_end_guess(b: &[u8], i: usize) -> Option<usize> {
    let e = metric_name_end(b, i);
    if e == i {
        return None;
    }
    if b.get(e) != Some(&b'{') {
        return Some(e);
    }
    let mut j = e + 1;
    let mut quoted = false;
    while let Some(&c) = b.get(j) {
        match c {
            b'"' => quoted = !quoted,
            b'\\' if quoted => j += 1,
            b'}' if !quoted => return Some(j + 1),
            _ => {}
        }
        j += 1;
    }
    None
}

/// Lexes the metric name and label set of a sample line: returns where the
/// series text starts and ends. `labels` and `scratch` are cleared and
/// refilled.
pub(crate) fn series(
    line: &str,
    labels: &mut Vec<LabelSpan>,
    scratch: &mut String,
) -> Result<(usize, usize), Fail> {
    labels.clear();
    scratch.clear();
    let b = line.as_bytes();
    let ns = skip_ws(b, 0);
    let mut i = metric_name_end(b, ns);
    if i == ns {
        return fail(
            i,
            format!("expected a metric name, found {}", describe(line, i)),
        );
    }
    if b.get(i) == Some(&b'{') {
        i += 1;
        loop {
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b'}') => {
                    i += 1;
                    break;
                }
                None => return fail(i, "unterminated label set: expected '}'"),
                _ => {}
            }
            let ls = i;
            i = label_name_end(b, i);
            if i == ls {
                return fail(
                    i,
                    format!("expected a label name, found {}", describe(line, i)),
                );
            }
            let le = i;
            i = skip_ws(b, i);
            if b.get(i) != Some(&b'=') {
                return fail(
                    i,
                    format!(
                        "bad label name {:?}: expected '=' after it, found {}",
                        &line[ls..le],
                        describe(line, i)
                    ),
                );
            }
            i = skip_ws(b, i + 1);
            if b.get(i) != Some(&b'"') {
                return fail(
                    i,
                    format!(
                        "expected '\"' to open the value of label {:?}, found {}",
                        &line[ls..le],
                        describe(line, i)
                    ),
                );
            }
            let open = i;
            i += 1;
            let vs = i;
            let mut escaped = false;
            loop {
                match b.get(i) {
                    None => {
                        return fail(
                            open,
                            format!("unterminated value of label {:?}", &line[ls..le]),
                        )
                    }
                    Some(b'"') => break,
                    Some(b'\\') => {
                        match b.get(i + 1) {
                            Some(b'\\' | b'"' | b'n') => {}
                            None => {
                                return fail(
                                    open,
                                    format!("unterminated value of label {:?}", &line[ls..le]),
                                )
                            }
                            Some(_) => {
                                return fail(
                                    i,
                                    format!(
                                        "bad escape \\{} in value of label {:?}: only \\\\, \\\" and \\n are allowed",
                                        line.get(i + 1..).and_then(|s| s.chars().next()).unwrap_or_default(),
                                        &line[ls..le]
                                    ),
                                )
                            }
                        }
                        escaped = true;
                        i += 2;
                    }
                    Some(_) => i += 1,
                }
            }
            let ve = i;
            i += 1;
            let value = if escaped {
                let s0 = scratch.len();
                unescape(&line[vs..ve], scratch);
                ValueSpan::Scratch(s0, scratch.len())
            } else {
                ValueSpan::Line(vs, ve)
            };
            labels.push(LabelSpan {
                name: (ls, le),
                value,
            });
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => {
                    return fail(
                        i,
                        format!(
                            "expected ',' or '}}' after a label value, found {}",
                            describe(line, i)
                        ),
                    )
                }
            }
        }
    }
    Ok((ns, i))
}

/// Lexes what follows the series text, which ends at `i`: the value, an
/// optional timestamp and an optional exemplar.
pub(crate) fn tail(line: &str, mut i: usize) -> Result<Tail<'_>, Fail> {
    let b = line.as_bytes();
    let before = i;
    i = skip_ws(b, i);
    if i >= b.len() {
        return fail(i, "missing value");
    }
    if i == before {
        return fail(
            i,
            format!(
                "unexpected {} after the series name (want a space, then the value)",
                describe(line, i)
            ),
        );
    }
    let value_at = i;
    i = token_end(b, i);
    let value = &line[value_at..i];
    i = skip_ws(b, i);
    let mut ts = None;
    if i < b.len() && b[i] != b'#' {
        let at = i;
        i = token_end(b, i);
        ts = Some((&line[at..i], at));
        i = skip_ws(b, i);
    }
    let mut exemplar_at = None;
    if i < b.len() {
        if b[i] == b'#' {
            exemplar_at = Some(i);
        } else {
            return fail(
                i,
                format!("unexpected text {:?} after the timestamp", &line[i..]),
            );
        }
    }
    Ok(Tail {
        value,
        value_at,
        ts,
        exemplar_at,
    })
}

/// Unescapes `\\`, `\"` and `\n` into `out`; any other backslash is kept
/// literally (callers that must reject it check first).
pub(crate) fn unescape(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(p) = rest.find('\\') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        match after.as_bytes().first() {
            Some(b'\\') => out.push('\\'),
            Some(b'"') => out.push('"'),
            Some(b'n') => out.push('\n'),
            _ => {
                out.push('\\');
                rest = after;
                continue;
            }
        }
        rest = &after[1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lexed = (String, Vec<(String, String)>, String, Option<String>);

    fn lex(line: &str) -> Result<Lexed, String> {
        let mut spans = Vec::new();
        let mut scratch = String::new();
        let s = sample_line(line, &mut spans, &mut scratch)
            .map_err(|f| format!("{}: {}", f.at, f.what))?;
        let labels = spans
            .iter()
            .map(|l| {
                let v = match l.value {
                    ValueSpan::Line(a, b) => &line[a..b],
                    ValueSpan::Scratch(a, b) => &scratch[a..b],
                };
                (line[l.name.0..l.name.1].to_string(), v.to_string())
            })
            .collect();
        Ok((
            s.name.into(),
            labels,
            s.value.into(),
            s.ts.map(|t| t.0.to_string()),
        ))
    }

    #[test]
    fn shapes() {
        let (n, l, v, t) = lex(r#"a_b:c{x="1", y = "q\"\\\n" ,} 2.5 17"#).unwrap();
        assert_eq!(n, "a_b:c");
        assert_eq!(
            l,
            [("x".into(), "1".into()), ("y".into(), "q\"\\\n".into())]
        );
        assert_eq!((v.as_str(), t.as_deref()), ("2.5", Some("17")));
        let (_, l, v, t) = lex("  m{} NaN").unwrap();
        assert!(l.is_empty());
        assert_eq!((v.as_str(), t), ("NaN", None));
        assert!(lex("m{a=\"}\"} 1 # {x=\"y\"} 1").is_ok());
    }

    #[test]
    fn unescape_keeps_unknown() {
        let mut s = String::new();
        unescape(r#"a\\b\"c\nd\te\"#, &mut s);
        assert_eq!(s, "a\\b\"c\nd\\te\\");
    }
}
