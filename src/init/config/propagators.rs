//! `OTEL_PROPAGATORS`: the names of the propagation registry
//! ([`PropagatorName`]).

use super::env::{Env, OTEL_PROPAGATORS};
use crate::propagation::PropagatorName;

pub(super) fn propagators_from_env(env: &mut Env<'_>) -> Vec<PropagatorName> {
    let default = PropagatorName::DEFAULT.to_vec();
    let Some(value) = env.var(OTEL_PROPAGATORS) else {
        return default;
    };
    let mut out = Vec::new();
    let mut none = false;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match (name, PropagatorName::parse(name)) {
            ("none", _) => none = true,
            (_, Some(p)) => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            (_, None) => env.issue(
                OTEL_PROPAGATORS,
                &value,
                format!("{}; it is skipped", PropagatorName::unknown(name)),
            ),
        }
    }
    if none {
        return Vec::new();
    }
    out
}
