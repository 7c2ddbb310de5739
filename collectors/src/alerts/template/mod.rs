//! The subset of Go's `text/template` that Prometheus alerting rules use in
//! their labels and annotations, with Prometheus' functions.
//!
//! Supported: text and `{{ }}` actions (with `{{-`/`-}}` trimming and
//! `{{/* comments */}}`); `$labels.x`, `$value`, `$externalLabels.x`,
//! `$externalURL` and their `.Labels.x`, `.Value`, `.ExternalLabels.x`,
//! `.ExternalURL` forms; `$x := ...` variables; string, number and boolean
//! literals; pipelines (`$value | humanize`) and parenthesised calls;
//! `if` / `else if` / `else` / `end`.
//!
//! Functions: `humanize`, `humanize1024`, `humanizeDuration`,
//! `humanizePercentage`, `humanizeTimestamp`, `printf`, `print`, `toUpper`,
//! `toLower`, `title`, `reReplaceAll`, `match`, `stripPort`, `eq`, `ne`,
//! `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`, `len`. Anything else (the
//! query functions `query`, `first`, `value`..., `range`, `with`,
//! `define`) is an error when the template is parsed, so a rule file that
//! uses it fails `--check` instead of sending odd text.
//!
//! Output follows Prometheus (its `template/template.go`, and Go's `fmt`):
//! `{{ $value }}` prints a float as Go's `%v` does (`1e+06`, `91`,
//! `0.5`), `humanize` uses `%.4g` with SI prefixes (`1.235M`), a missing
//! label is the empty string (Prometheus sets `missingkey=zero`).
//! Execution errors give `<error expanding template: ...>` as Prometheus
//! does, rather than failing the rule.

use std::collections::BTreeMap;

mod format;
pub(crate) use format::go_g;
use format::{humanize, humanize1024, humanize_duration, humanize_timestamp, sprintf};

/// A template that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {text:?}: {message}")]
pub struct TemplateError {
    /// The template text.
    pub text: String,
    /// What is wrong.
    pub message: String,
}

/// What a template is expanded with.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    /// The labels of the series (`$labels`), `__name__` included if present.
    pub labels: &'a BTreeMap<String, String>,
    /// The expression's value (`$value`).
    pub value: f64,
    /// `[alerting] external_labels` (`$externalLabels`).
    pub external_labels: &'a BTreeMap<String, String>,
    /// `$externalURL`.
    pub external_url: &'a str,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    nodes: Vec<Node>,
}

// Parsed templates hold f64 literals, never NaN from parsing ("NaN" is
// not a Go number literal), so equality is total.
impl Eq for Template {}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action {
        decl: Option<String>,
        pipe: Pipeline,
    },
    If {
        cond: Pipeline,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
}

type Pipeline = Vec<Command>;

#[derive(Debug, Clone, PartialEq)]
struct Command {
    head: Operand,
    args: Vec<Operand>,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Func(Func),
    /// `$name.field.field`
    Var(String, Vec<String>),
    /// `.Field.field` (empty path: `.`)
    Dot(Vec<String>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Paren(Pipeline),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Humanize,
    Humanize1024,
    HumanizeDuration,
    HumanizePercentage,
    HumanizeTimestamp,
    Printf,
    Print,
    ToUpper,
    ToLower,
    Title,
    ReReplaceAll,
    Match,
    StripPort,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Not,
    Len,
}

fn func(name: &str) -> Result<Func, String> {
    Ok(match name {
        "humanize" => Func::Humanize,
        "humanize1024" => Func::Humanize1024,
        "humanizeDuration" => Func::HumanizeDuration,
        "humanizePercentage" => Func::HumanizePercentage,
        "humanizeTimestamp" => Func::HumanizeTimestamp,
        "printf" => Func::Printf,
        "print" => Func::Print,
        "toUpper" => Func::ToUpper,
        "toLower" => Func::ToLower,
        "title" => Func::Title,
        "reReplaceAll" => Func::ReReplaceAll,
        "match" => Func::Match,
        "stripPort" => Func::StripPort,
        "eq" => Func::Eq,
        "ne" => Func::Ne,
        "lt" => Func::Lt,
        "le" => Func::Le,
        "gt" => Func::Gt,
        "ge" => Func::Ge,
        "and" => Func::And,
        "or" => Func::Or,
        "not" => Func::Not,
        "len" => Func::Len,
        "query" | "first" | "label" | "value" | "sortByLabel" | "strvalue" | "args" | "tmpl"
        | "safeHtml" | "pathPrefix" | "graphLink" | "tableLink" | "externalURL"
        | "parseDuration" | "toTime" | "index" | "slice" | "call" | "html" | "js" | "urlquery"
        | "println" => return Err(format!("function {name:?} is not supported here")),
        _ => return Err(format!("function {name:?} not defined")),
    })
}

impl Template {
    /// Parses `text`; unknown functions and unsupported actions are errors.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let err = |message: String| TemplateError {
            text: text.to_string(),
            message,
        };
        let items = split(text).map_err(err)?;
        let mut p = Parser { items, pos: 0 };
        let (nodes, end) = p.nodes().map_err(err)?;
        if let Some(e) = end {
            return Err(err(format!("unexpected {{{{{e}}}}}")));
        }
        Ok(Template {
            source: text.to_string(),
            nodes,
        })
    }

    /// A template that is its text, braces and all.
    pub fn literal(text: &str) -> Template {
        Template {
            source: text.to_string(),
            nodes: vec![Node::Text(text.to_string())],
        }
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Expands the template; an execution error becomes Prometheus'
    /// `<error expanding template: ...>` text.
    pub fn expand(&self, data: &Data<'_>) -> String {
        // Plain text needs no machinery (most label values).
        if let [Node::Text(t)] = self.nodes.as_slice() {
            return t.clone();
        }
        let mut out = String::new();
        let mut vars: Vec<(String, Val)> = Vec::new();
        match exec(&self.nodes, data, &mut vars, &mut out) {
            Ok(()) => out,
            Err(e) => format!("<error expanding template: {e}>"),
        }
    }
}

// ---- lexing: text and actions ----

enum Item {
    Text(String),
    Action(String),
}

/// Splits `text` into literal text and the insides of `{{ }}`, applying
/// the trim markers and dropping comments.
fn split(text: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            let t = if trim_next { rest.trim_start() } else { rest };
            items.push(Item::Text(t.to_string()));
            break;
        };
        let mut lit = &rest[..open];
        if trim_next {
            lit = lit.trim_start();
        }
        let mut inner = &rest[open + 2..];
        if let Some(r) = inner.strip_prefix("- ") {
            lit = lit.trim_end();
            inner = r;
        }
        if !lit.is_empty() {
            items.push(Item::Text(lit.to_string()));
        }
        let close = find_close(inner).ok_or("unclosed action: missing }}")?;
        let mut body = &inner[..close];
        trim_next = false;
        if let Some(b) = body.strip_suffix(" -") {
            body = b;
            trim_next = true;
        }
        let b = body.trim();
        if !(b.starts_with("/*") && b.ends_with("*/")) {
            items.push(Item::Action(b.to_string()));
        }
        rest = &inner[close + 2..];
    }
    Ok(items)
}

/// Where `}}` closes an action, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Pipe,
    Open,
    Close,
    Assign,
    Word(String),
    Str(String),
    Num(String),
}

fn tokens(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ':' if c.get(i + 1) == Some(&'=') => {
                out.push(Tok::Assign);
                i += 2;
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('"') => break,
                        Some('\\') => {
                            let e = c.get(i + 1).ok_or("unterminated string")?;
                            v.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => *other,
                            });
                            i += 2;
                        }
                        Some(x) => {
                            v.push(*x);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
                i += 1;
            }
            '`' => {
                let end = c[i + 1..]
                    .iter()
                    .position(|&x| x == '`')
                    .ok_or("unterminated raw string")?;
                out.push(Tok::Str(c[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            _ if ch.is_ascii_digit()
                || ((ch == '-' || ch == '+')
                    && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < c.len()
                    && (c[i].is_ascii_alphanumeric()
                        || c[i] == '.'
                        || ((c[i] == '-' || c[i] == '+') && matches!(c[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                out.push(Tok::Num(c[start..i].iter().collect()));
            }
            _ if ch == '$' || ch == '.' || ch.is_alphabetic() || ch == '_' => {
                let start = i;
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Word(c[start..i].iter().collect()));
            }
            _ => return Err(format!("unexpected {ch:?} in action")),
        }
    }
    Ok(out)
}

// ---- parsing ----

struct Parser {
    items: Vec<Item>,
    pos: usize,
}

impl Parser {
    /// Nodes up to an `else`/`end` (returned, unconsumed meaning) or the end.
    fn nodes(&mut self) -> Result<(Vec<Node>, Option<String>), String> {
        let mut out = Vec::new();
        while let Some(item) = self.items.get(self.pos) {
            self.pos += 1;
            match item {
                Item::Text(t) => out.push(Node::Text(t.clone())),
                Item::Action(a) => {
                    let a = a.clone();
                    let (kw, rest) = match a.split_once(char::is_whitespace) {
                        Some((k, r)) => (k, r.trim()),
                        None => (a.as_str(), ""),
                    };
                    match kw {
                        "end" | "else" => return Ok((out, Some(a.clone()))),
                        "if" => out.push(self.if_node(rest)?),
                        "range" | "with" | "define" | "template" | "block" | "break"
                        | "continue" => {
                            return Err(format!("{{{{{kw}}}}} is not supported in rule templates"))
                        }
                        _ => out.push(action(&a)?),
                    }
                }
            }
        }
        Ok((out, None))
    }

    fn if_node(&mut self, cond: &str) -> Result<Node, String> {
        if cond.is_empty() {
            return Err("missing condition in if".into());
        }
        let cond = pipeline(&tokens(cond)?)?;
        let (then, end) = self.nodes()?;
        let end = end.ok_or("unexpected end of template: {{if}} without {{end}}")?;
        let otherwise = if end == "end" {
            Vec::new()
        } else if let Some(elif) = end.strip_prefix("else if ") {
            // `else if c` is `else` + nested `if c ... end` sharing one end.
            vec![self.if_node(elif.trim())?]
        } else if end == "else" {
            let (nodes, end) = self.nodes()?;
            if end.as_deref() != Some("end") {
                return Err("{{else}} without {{end}}".into());
            }
            nodes
        } else {
            return Err(format!("unexpected {{{{{end}}}}}"));
        };
        Ok(Node::If {
            cond,
            then,
            otherwise,
        })
    }
}

fn action(a: &str) -> Result<Node, String> {
    let toks = tokens(a)?;
    if let [Tok::Word(v), Tok::Assign, rest @ ..] = toks.as_slice() {
        if let Some(name) = v.strip_prefix('$') {
            return Ok(Node::Action {
                decl: Some(name.to_string()),
                pipe: pipeline(rest)?,
            });
        }
    }
    Ok(Node::Action {
        decl: None,
        pipe: pipeline(&toks)?,
    })
}

fn pipeline(toks: &[Tok]) -> Result<Pipeline, String> {
    if toks.is_empty() {
        return Err("missing value for command".into());
    }
    let mut cmds = Vec::new();
    let mut i = 0;
    loop {
        let mut ops = Vec::new();
        while i < toks.len() && toks[i] != Tok::Pipe {
            let (op, used) = operand(&toks[i..])?;
            ops.push(op);
            i += used;
        }
        let mut it = ops.into_iter();
        let head = it.next().ok_or("missing command in pipeline")?;
        let args: Vec<Operand> = it.collect();
        if !args.is_empty() && !matches!(head, Operand::Func(_)) {
            return Err("can't give argument to non-function".into());
        }
        if !cmds.is_empty() && !matches!(head, Operand::Func(_)) {
            return Err("non-function in a pipeline after |".into());
        }
        cmds.push(Command { head, args });
        if i >= toks.len() {
            return Ok(cmds);
        }
        i += 1; // the pipe
    }
}

fn operand(toks: &[Tok]) -> Result<(Operand, usize), String> {
    let first = toks.first().ok_or("missing operand")?;
    Ok(match first {
        Tok::Open => {
            let mut depth = 0;
            let mut end = None;
            for (j, t) in toks.iter().enumerate() {
                match t {
                    Tok::Open => depth += 1,
                    Tok::Close => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let end = end.ok_or("unclosed left paren")?;
            (Operand::Paren(pipeline(&toks[1..end])?), end + 1)
        }
        Tok::Close => return Err("unexpected right paren".into()),
        Tok::Pipe | Tok::Assign => return Err("unexpected token in operand".into()),
        Tok::Str(s) => (Operand::Str(s.clone()), 1),
        Tok::Num(n) => {
            let op = if let Ok(i) = n.parse::<i64>() {
                Operand::Int(i)
            } else if let Ok(f) = n.parse::<f64>() {
                Operand::Float(f)
            } else {
                return Err(format!("bad number syntax: {n:?}"));
            };
            (op, 1)
        }
        Tok::Word(w) => {
            let op = if let Some(v) = w.strip_prefix('$') {
                let mut parts = v.split('.');
                let name = parts.next().unwrap_or("").to_string();
                (Operand::Var(name, parts.map(str::to_string).collect()), 1)
            } else if w == "." {
                (Operand::Dot(Vec::new()), 1)
            } else if let Some(p) = w.strip_prefix('.') {
                (Operand::Dot(p.split('.').map(str::to_string).collect()), 1)
            } else {
                match w.as_str() {
                    "true" => (Operand::Bool(true), 1),
                    "false" => (Operand::Bool(false), 1),
                    "nil" => (Operand::Nil, 1),
                    _ => (Operand::Func(func(w)?), 1),
                }
            };
            op
        }
    })
}

// ---- execution ----

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Map(BTreeMap<String, String>),
    Nil,
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Int(i) => *i != 0,
            Val::Float(f) => *f != 0.0,
            Val::Bool(b) => *b,
            Val::Map(m) => !m.is_empty(),
            Val::Nil => false,
        }
    }

    /// Go's `fmt.Sprint` of the value.
    fn print(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
            Val::Float(f) => go_g(*f, None),
            Val::Bool(b) => b.to_string(),
            Val::Map(m) => {
                let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", inner.join(" "))
            }
            Val::Nil => "<nil>".into(),
        }
    }

    /// Prometheus' `convertToFloat`: numbers, and strings that parse.
    fn float(&self) -> Result<f64, String> {
        match self {
            Val::Int(i) => Ok(*i as f64),
            Val::Float(f) => Ok(*f),
            Val::Str(s) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
            other => Err(format!("can't convert {} to float", other.type_name())),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "string",
            Val::Int(_) => "int",
            Val::Float(_) => "float64",
            Val::Bool(_) => "bool",
            Val::Map(_) => "map[string]string",
            Val::Nil => "nil",
        }
    }
}

fn exec(
    nodes: &[Node],
    data: &Data<'_>,
    vars: &mut Vec<(String, Val)>,
    out: &mut String,
) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action { decl, pipe } => {
                let v = run_pipe(pipe, data, vars)?;
                match decl {
                    Some(name) => vars.push((name.clone(), v)),
                    None => out.push_str(&v.print()),
                }
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => {
                let branch = if run_pipe(cond, data, vars)?.truthy() {
                    then
                } else {
                    otherwise
                };
                exec(branch, data, vars, out)?;
            }
        }
    }
    Ok(())
}

fn run_pipe(pipe: &Pipeline, data: &Data<'_>, vars: &[(String, Val)]) -> Result<Val, String> {
    let mut prev: Option<Val> = None;
    for c in pipe {
        let v = match &c.head {
            Operand::Func(f) => {
                let mut args = Vec::with_capacity(c.args.len() + 1);
                for a in &c.args {
                    args.push(eval_operand(a, data, vars)?);
                }
                args.extend(prev.take());
                call(*f, args)?
            }
            other => eval_operand(other, data, vars)?,
        };
        prev = Some(v);
    }
    prev.ok_or_else(|| "empty pipeline".to_string())
}

fn field(base: Val, path: &[String]) -> Result<Val, String> {
    let mut v = base;
    for p in path {
        v = match v {
            // missingkey=zero: an absent label is "".
            Val::Map(m) => Val::Str(m.get(p).cloned().unwrap_or_default()),
            other => {
                return Err(format!(
                    "can't evaluate field {p} in type {}",
                    other.type_name()
                ))
            }
        };
    }
    Ok(v)
}

fn eval_operand(op: &Operand, data: &Data<'_>, vars: &[(String, Val)]) -> Result<Val, String> {
    Ok(match op {
        Operand::Func(f) => call(*f, Vec::new())?,
        Operand::Var(name, path) => {
            let base = if let Some((_, v)) = vars.iter().rev().find(|(n, _)| n == name) {
                v.clone()
            } else {
                match name.as_str() {
                    "labels" => Val::Map(data.labels.clone()),
                    "value" => Val::Float(data.value),
                    "externalLabels" => Val::Map(data.external_labels.clone()),
                    "externalURL" => Val::Str(data.external_url.to_string()),
                    "" => dot(data),
                    _ => return Err(format!("undefined variable: ${name}")),
                }
            };
            field(base, path)?
        }
        Operand::Dot(path) => match path.split_first() {
            None => dot(data),
            Some((first, rest)) => {
                let base = match first.as_str() {
                    "Labels" => Val::Map(data.labels.clone()),
                    "Value" => Val::Float(data.value),
                    "ExternalLabels" => Val::Map(data.external_labels.clone()),
                    "ExternalURL" => Val::Str(data.external_url.to_string()),
                    other => return Err(format!("can't evaluate field {other}")),
                };
                field(base, rest)?
            }
        },
        Operand::Str(s) => Val::Str(s.clone()),
        Operand::Int(i) => Val::Int(*i),
        Operand::Float(f) => Val::Float(*f),
        Operand::Bool(b) => Val::Bool(*b),
        Operand::Nil => Val::Nil,
        Operand::Paren(p) => run_pipe(p, data, vars)?,
    })
}

fn dot(data: &Data<'_>) -> Val {
    // `.` is Prometheus' template data struct; printed it is rarely
    // useful, so give its labels.
    Val::Map(data.labels.clone())
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn one(name: &str, args: Vec<Val>) -> Result<Val, String> {
    arity(name, &args, 1)?;
    args.into_iter().next().ok_or_else(|| "no argument".into())
}

fn two(name: &str, args: Vec<Val>) -> Result<(Val, Val), String> {
    arity(name, &args, 2)?;
    let mut it = args.into_iter();
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err("missing arguments".into()),
    }
}

fn string_arg(v: Val) -> String {
    match v {
        Val::Str(s) => s,
        other => other.print(),
    }
}

fn compare(a: &Val, b: &Val) -> Result<std::cmp::Ordering, String> {
    use std::cmp::Ordering;
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Ok(x.cmp(y)),
        (Val::Bool(x), Val::Bool(y)) => Ok(x.cmp(y)),
        // Go would refuse int against float; comparing numbers as numbers
        // is what a rule writer means (`gt $value 80`).
        (Val::Int(_) | Val::Float(_), Val::Int(_) | Val::Float(_)) => {
            let (x, y) = (a.float()?, b.float()?);
            Ok(x.partial_cmp(&y).unwrap_or(Ordering::Less))
        }
        _ => Err("incompatible types for comparison".into()),
    }
}

fn call(f: Func, args: Vec<Val>) -> Result<Val, String> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(match f {
        Func::Humanize => Val::Str(humanize(one("humanize", args)?.float()?)),
        Func::Humanize1024 => Val::Str(humanize1024(one("humanize1024", args)?.float()?)),
        Func::HumanizeDuration => {
            Val::Str(humanize_duration(one("humanizeDuration", args)?.float()?))
        }
        Func::HumanizePercentage => Val::Str(format!(
            "{}%",
            go_g(one("humanizePercentage", args)?.float()? * 100.0, Some(4))
        )),
        Func::HumanizeTimestamp => {
            Val::Str(humanize_timestamp(one("humanizeTimestamp", args)?.float()?))
        }
        Func::Printf => {
            let mut it = args.into_iter();
            let fmt = it
                .next()
                .ok_or("wrong number of args for printf: want at least 1 got 0")?;
            Val::Str(sprintf(&string_arg(fmt), &it.collect::<Vec<_>>()))
        }
        Func::Print => {
            // Go's Sprint: spaces between operands when neither is a string.
            let mut s = String::new();
            let mut prev_str = true;
            for (i, a) in args.iter().enumerate() {
                let is_str = matches!(a, Val::Str(_));
                if i > 0 && !is_str && !prev_str {
                    s.push(' ');
                }
                s.push_str(&a.print());
                prev_str = is_str;
            }
            Val::Str(s)
        }
        Func::ToUpper => Val::Str(string_arg(one("toUpper", args)?).to_uppercase()),
        Func::ToLower => Val::Str(string_arg(one("toLower", args)?).to_lowercase()),
        Func::Title => Val::Str(title(&string_arg(one("title", args)?))),
        Func::ReReplaceAll => {
            arity("reReplaceAll", &args, 3)?;
            let mut it = args.into_iter().map(string_arg);
            let (pat, repl, text) = (
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
            );
            // Go's Regexp.ReplaceAllString: unanchored, `$1` expanded.
            let re = regex::Regex::new(&pat).map_err(|e| format!("reReplaceAll: {e}"))?;
            Val::Str(re.replace_all(&text, repl.as_str()).into_owned())
        }
        Func::Match => {
            let (pat, text) = two("match", args)?;
            let re = regex::Regex::new(&string_arg(pat)).map_err(|e| format!("match: {e}"))?;
            Val::Bool(re.is_match(&string_arg(text)))
        }
        Func::StripPort => {
            let s = string_arg(one("stripPort", args)?);
            let host = if let Some(rest) = s.strip_prefix('[') {
                rest.split_once(']').map_or(s.as_str(), |(h, _)| h)
            } else {
                match s.rsplit_once(':') {
                    Some((h, _)) if !h.contains(':') => h,
                    _ => s.as_str(),
                }
            };
            Val::Str(host.to_string())
        }
        Func::Eq | Func::Ne => {
            let (a, b) = two(if f == Func::Eq { "eq" } else { "ne" }, args)?;
            let eq = compare(&a, &b)? == Equal;
            Val::Bool(eq == (f == Func::Eq))
        }
        Func::Lt => {
            let (a, b) = two("lt", args)?;
            Val::Bool(compare(&a, &b)? == Less)
        }
        Func::Le => {
            let (a, b) = two("le", args)?;
            Val::Bool(compare(&a, &b)? != Greater)
        }
        Func::Gt => {
            let (a, b) = two("gt", args)?;
            Val::Bool(compare(&a, &b)? == Greater)
        }
        Func::Ge => {
            let (a, b) = two("ge", args)?;
            Val::Bool(compare(&a, &b)? != Less)
        }
        Func::And => {
            // Go: the first falsy argument, or the last.
            let n = args.len();
            let mut it = args.into_iter();
            let mut last = Val::Nil;
            for (i, a) in it.by_ref().enumerate() {
                if !a.truthy() || i + 1 == n {
                    last = a;
                    break;
                }
            }
            last
        }
        Func::Or => {
            let n = args.len();
            let mut last = Val::Nil;
            for (i, a) in args.into_iter().enumerate() {
                if a.truthy() || i + 1 == n {
                    last = a;
                    break;
                }
            }
            last
        }
        Func::Not => Val::Bool(!one("not", args)?.truthy()),
        Func::Len => match one("len", args)? {
            Val::Str(s) => Val::Int(s.len() as i64),
            Val::Map(m) => Val::Int(m.len() as i64),
            other => return Err(format!("len of type {}", other.type_name())),
        },
    })
}

fn title(s: &str) -> String {
    // Go's strings.Title: upper-case the first letter of each word.
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(t: &str, labels: &[(&str, &str)], value: f64) -> String {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ext: BTreeMap<String, String> = [("rig".to_string(), "r1".to_string())].into();
        Template::parse(t).unwrap().expand(&Data {
            labels: &labels,
            value,
            external_labels: &ext,
            external_url: "http://x",
        })
    }

    #[test]
    fn go_float_printing() {
        // Go: fmt.Sprint(float64) and %.4g.
        assert_eq!(go_g(91.0, None), "91");
        assert_eq!(go_g(0.5, None), "0.5");
        assert_eq!(go_g(1e6, None), "1e+06");
        assert_eq!(go_g(123456.0, None), "123456");
        assert_eq!(go_g(1234567.0, None), "1.234567e+06");
        assert_eq!(go_g(0.0001, None), "0.0001");
        assert_eq!(go_g(0.00001, None), "1e-05");
        assert_eq!(go_g(-2.5, None), "-2.5");
        assert_eq!(go_g(f64::INFINITY, None), "+Inf");
        assert_eq!(go_g(1234.5678, Some(4)), "1235");
        assert_eq!(go_g(12345.0, Some(4)), "1.234e+04");
        assert_eq!(go_g(1200.0, Some(4)), "1200");
        assert_eq!(go_g(0.1, Some(4)), "0.1");
    }

    #[test]
    fn prometheus_functions_match_their_documented_output() {
        // Prometheus' template_test.go and its docs' examples.
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(0.0), "0");
        assert_eq!(humanize(0.001234), "1.234m");
        assert_eq!(humanize(12.0), "12");
        assert_eq!(humanize(1e27), "1000Y");
        assert_eq!(humanize(1e30), "1e+06Y");
        assert_eq!(humanize(f64::INFINITY), "+Inf");
        assert_eq!(humanize1024(1048576.0), "1Mi");
        assert_eq!(humanize1024(0.5), "0.5");
        assert_eq!(humanize1024(1126.0), "1.1ki");
        assert_eq!(humanize_duration(899.99), "14m 59s");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(1.0), "1s");
        assert_eq!(humanize_duration(60.0), "1m 0s");
        assert_eq!(humanize_duration(3600.0), "1h 0m 0s");
        assert_eq!(humanize_duration(86400.0 * 2.0 + 61.0), "2d 0h 1m 1s");
        assert_eq!(humanize_duration(0.1), "100ms");
        assert_eq!(humanize_duration(0.0001), "100us");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(-61.0), "-1m 1s");
        assert_eq!(
            expand("{{ humanizePercentage $value }}", &[], 0.1234567),
            "12.35%"
        );
        assert_eq!(expand("{{ humanizePercentage $value }}", &[], 0.0), "0%");
        assert_eq!(
            humanize_timestamp(1435065584.128),
            "2015-06-23 13:19:44.128 +0000 UTC"
        );
        assert_eq!(humanize_timestamp(0.0), "1970-01-01 00:00:00 +0000 UTC");
    }

    #[test]
    fn labels_values_pipelines_and_conditions() {
        let l = [
            ("instance", "rig1:9100"),
            ("uuid", "GPU-1"),
            ("__name__", "t"),
        ];
        assert_eq!(
            expand(
                "GPU {{ $labels.uuid }} on {{$labels.instance}} at {{ $value }}°C",
                &l,
                91.0
            ),
            "GPU GPU-1 on rig1:9100 at 91°C"
        );
        assert_eq!(
            expand("{{ .Labels.uuid }}={{ .Value }}", &l, 0.25),
            "GPU-1=0.25"
        );
        assert_eq!(expand("{{ $labels.missing }}|", &l, 1.0), "|");
        assert_eq!(
            expand("{{ $externalLabels.rig }} {{ $externalURL }}", &l, 1.0),
            "r1 http://x"
        );
        assert_eq!(
            expand("{{ $value | humanize }}H/s", &l, 61234567.0),
            "61.23MH/s"
        );
        assert_eq!(
            expand(r#"{{ printf "%.2f" $value }}"#, &l, 2.0 / 3.0),
            "0.67"
        );
        assert_eq!(
            expand(r#"{{ $value | printf "%.1f%%" }}"#, &l, 99.95),
            "100.0%"
        );
        assert_eq!(
            expand(r#"{{ printf "%s has %d" $labels.uuid 3 }}"#, &l, 0.0),
            "GPU-1 has 3"
        );
        assert_eq!(
            expand(r#"{{ printf "%d" $value }}"#, &l, 3.0),
            "%!d(float64=3)"
        );
        assert_eq!(
            expand("{{ $labels.uuid | toLower | toUpper }}", &l, 0.0),
            "GPU-1"
        );
        assert_eq!(expand("{{ title \"hot card\" }}", &l, 0.0), "Hot Card");
        assert_eq!(
            expand("{{ $labels.instance | stripPort }}", &l, 0.0),
            "rig1"
        );
        assert_eq!(
            expand(
                r#"{{ reReplaceAll "GPU-(.*)" "card $1" $labels.uuid }}"#,
                &l,
                0.0
            ),
            "card 1"
        );
        let t =
            "{{ if gt $value 90.0 }}critical{{ else if ge $value 80 }}warning{{ else }}ok{{ end }}";
        assert_eq!(expand(t, &l, 95.0), "critical");
        assert_eq!(expand(t, &l, 85.0), "warning");
        assert_eq!(expand(t, &l, 20.0), "ok");
        assert_eq!(expand("{{ if $labels.uuid }}has{{ end }}", &l, 0.0), "has");
        assert_eq!(
            expand("{{ if eq $labels.uuid \"GPU-2\" }}x{{ end }}.", &l, 0.0),
            "."
        );
        assert_eq!(expand("a  {{- $value -}}  b", &l, 1.0), "a1b");
        assert_eq!(
            expand("{{/* note */}}x{{ $v := $value }}{{ $v }}", &l, 2.0),
            "x2"
        );
        assert_eq!(
            expand("{{ $labels.uuid | humanize }}", &l, 0.0),
            "<error expanding template: strconv.ParseFloat: parsing \"GPU-1\": invalid syntax>"
        );
    }

    #[test]
    fn unknown_functions_and_bad_syntax_fail_at_parse() {
        let e = |t: &str| Template::parse(t).unwrap_err().message;
        assert!(e("{{ $value | humanise }}").contains("\"humanise\" not defined"));
        assert!(e("{{ query \"up\" }}").contains("not supported"));
        assert!(e("{{ range $labels }}{{ end }}").contains("not supported"));
        assert!(e("{{ if $value }}x").contains("without {{end}}"));
        assert!(e("{{ $value ").contains("unclosed action"));
        assert!(e("{{ end }}").contains("unexpected"));
        assert!(e("{{ \"a }}").contains("unterminated") || e("{{ \"a }}").contains("unclosed"));
        assert!(e("{{ $value 3 }}").contains("non-function"));
        assert!(Template::parse("plain {not} text").is_ok());
    }

    proptest::proptest! {
        /// Rule files are user input: no text makes parsing or expanding panic.
        #[test]
        fn never_panics(t in "[{}$. a-zA-Z0-9|()\"`:=%-]{0,40}", v in proptest::num::f64::ANY) {
            if let Ok(tmpl) = Template::parse(&t) {
                let l = BTreeMap::new();
                let _ = tmpl.expand(&Data { labels: &l, value: v, external_labels: &l, external_url: "" });
            }
            let _ = sprintf(&t, &[Val::Float(v), Val::Str(t.clone()), Val::Int(3)]);
            let _ = (humanize(v), humanize1024(v), humanize_duration(v), humanize_timestamp(v), go_g(v, Some(4)));
        }
    }
}
