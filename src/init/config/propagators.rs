//! The propagators: [`PropagatorName`], as `OTEL_PROPAGATORS` names them.

use super::env::{Env, OTEL_PROPAGATORS};

/// A propagator named in `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropagatorName {
    /// `tracecontext`: W3C Trace Context (this crate's strict propagator).
    TraceContext,
    /// `baggage`: W3C Baggage.
    Baggage,
    /// `b3`: B3 single header.
    B3,
    /// `b3multi`: B3 multiple headers.
    B3Multi,
    /// `jaeger`: `uber-trace-id`.
    Jaeger,
    /// `xray`: AWS X-Ray's `X-Amzn-Trace-Id`.
    Xray,
    /// `datadog`: `x-datadog-trace-id`, `x-datadog-parent-id`,
    /// `x-datadog-sampling-priority`, `x-datadog-tags` (the name Datadog's own
    /// tracers use in `OTEL_PROPAGATORS`).
    Datadog,
}

impl PropagatorName {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "tracecontext" => Some(Self::TraceContext),
            "baggage" => Some(Self::Baggage),
            "b3" => Some(Self::B3),
            "b3multi" => Some(Self::B3Multi),
            "jaeger" => Some(Self::Jaeger),
            "datadog" => Some(Self::Datadog),
            "xray" => Some(Self::Xray),
            _ => None,
        }
    }
}

pub(super) fn propagators_from_env(env: &mut Env<'_>) -> Vec<PropagatorName> {
    let default = vec![PropagatorName::TraceContext, PropagatorName::Baggage];
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
                format!("unknown propagator {name:?} (tracecontext, baggage, b3, b3multi, jaeger, xray, datadog, none); it is skipped"),
            ),
        }
    }
    if none {
        return Vec::new();
    }
    out
}
