//! Series selectors on their own (`name{label=~"re"}`), for tools that
//! take `--match` the way Prometheus' APIs do.

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{self as pp, Expr};

use crate::error::{Error, Result};
use crate::matcher::{MatchOp, Matcher};

/// Parses a series selector such as `nvidia_smi_power_draw_watts{uuid="GPU-1"}`
/// or `{__name__=~"miner_.*"}` into matchers. Anything but a plain instant
/// selector (a range, an offset, a function) is an error naming it.
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>> {
    let err = |msg: String| Error::Query {
        expr: s.to_string(),
        msg,
    };
    let e = pp::parse(s).map_err(|e| err(e.to_string()))?;
    let Expr::VectorSelector(vs) = e else {
        return Err(err(
            "not a series selector (like name{label=\"value\"})".into()
        ));
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(err("offset and @ are not allowed in a selector".into()));
    }
    matchers_of(&vs)
}

/// The matchers of a parsed vector selector (its name becomes `__name__=`).
pub(crate) fn matchers_of(vs: &pp::VectorSelector) -> Result<Vec<Matcher>> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(super::query_err(
            "unsupported: 'or' inside a selector (not in Prometheus 2.42)",
        ));
    }
    let mut matchers = Vec::new();
    if let Some(name) = &vs.name {
        matchers.push(Matcher::metric(name));
    }
    for m in &vs.matchers.matchers {
        let op = match m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::Regex,
            PMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        matchers.push(Matcher::new(op, &m.name, &m.value)?);
    }
    Ok(matchers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let m = parse_selector(r#"gpu_temp{uuid=~"GPU-.*",rig!="b"}"#).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].to_string(), r#"__name__="gpu_temp""#);
        assert!(parse_selector(r#"{__name__=~"miner_.*"}"#).is_ok());
        for bad in ["rate(x[5m])", "x[5m]", "x offset 5m", "x{", "1"] {
            assert!(parse_selector(bad).is_err(), "{bad}");
        }
    }
}
