//! `OTEL_PROPAGATORS`: the names of the propagation registry
//! ([`PropagatorName`]).

use super::env::{Env, Value, OTEL_PROPAGATORS};
use crate::propagation::PropagatorName;

/// The propagators `OTEL_PROPAGATORS` names, in order, without repeats. The
/// unknown names are skipped and reported once, with their count and the
/// first one; a value that is not UTF-8 is reported and the default used.
pub(super) fn propagators_from_env(env: &mut Env<'_>) -> Vec<PropagatorName> {
    let default = PropagatorName::DEFAULT.to_vec();
    let value = match env.read(OTEL_PROPAGATORS) {
        Value::Unset => return default,
        Value::Text(value) => value,
        Value::NotUtf8(lossy) => {
            env.not_utf8(
                OTEL_PROPAGATORS,
                &lossy,
                "using the default (tracecontext,baggage)",
                None,
            );
            return default;
        }
    };
    let mut out = Vec::new();
    let mut none = false;
    let mut unknown: Option<&str> = None;
    let mut unknown_count = 0usize;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match (name, PropagatorName::parse(name)) {
            (name, _) if name.eq_ignore_ascii_case("none") => none = true,
            (_, Some(p)) => {
                // At most one of each name of the registry: a short list.
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            (_, None) => {
                unknown_count += 1;
                unknown.get_or_insert(name);
            }
        }
    }
    if let Some(first) = unknown {
        let reason = match unknown_count {
            1 => format!("{}; it is skipped", PropagatorName::unknown(first)),
            n => format!(
                "{n} unknown propagators, the first {}; they are skipped",
                PropagatorName::unknown(first)
            ),
        };
        env.issue(OTEL_PROPAGATORS, &value, reason);
    }
    if none {
        return Vec::new();
    }
    out
}
