//! The propagators by name: the one list of what `OTEL_PROPAGATORS` may name,
//! how each name is read, and the propagator each one builds.
//!
//! Configuration ([`EffectiveConfig`](crate::config::EffectiveConfig)), start-up
//! ([`init_observability`](crate::init_observability)), the property tests and
//! the fuzz targets all take their propagators from [`PropagatorName::ALL`], so
//! a propagator added here is configured, tested and fuzzed without another list
//! to edit.

use opentelemetry::global;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};

use super::{
    B3Propagator, DatadogPropagator, JaegerPropagator, W3cBaggagePropagator, W3cPropagator,
    W3cTraceContextPropagator, XrayPropagator,
};

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
    /// Every propagator, in the order the configuration error message lists
    /// them.
    ///
    /// ```
    /// use distributed_tracing::propagation::{propagator, PropagatorName};
    /// use opentelemetry::propagation::TextMapPropagator;
    /// let all = propagator(&PropagatorName::ALL);
    /// assert!(all.fields().any(|f| f == "x-amzn-trace-id"));
    /// ```
    pub const ALL: [Self; 7] = [
        Self::TraceContext,
        Self::Baggage,
        Self::B3,
        Self::B3Multi,
        Self::Jaeger,
        Self::Xray,
        Self::Datadog,
    ];

    /// The propagators installed when `OTEL_PROPAGATORS` is unset:
    /// `tracecontext,baggage`.
    pub const DEFAULT: [Self; 2] = [Self::TraceContext, Self::Baggage];

    /// The name used in `OTEL_PROPAGATORS`.
    ///
    /// ```
    /// use distributed_tracing::propagation::PropagatorName;
    /// assert_eq!(PropagatorName::B3Multi.as_str(), "b3multi");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::B3 => "b3",
            Self::B3Multi => "b3multi",
            Self::Jaeger => "jaeger",
            Self::Xray => "xray",
            Self::Datadog => "datadog",
        }
    }

    /// The propagator of an `OTEL_PROPAGATORS` name (exact, lowercase);
    /// `None` for any other text (`none` included: it is no propagator).
    pub(crate) fn parse(value: &str) -> Option<Self> {
        // Case-insensitive, as the configuration specification asks of enum values.
        Self::ALL
            .into_iter()
            .find(|name| name.as_str().eq_ignore_ascii_case(value))
    }

    /// Why `value` is not a propagator name, listing the names that are.
    pub(crate) fn unknown(value: &str) -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|name| name.as_str()).collect();
        // Quoted through `Shown`: escaped, and cut however long the name.
        let value = crate::error::Shown::new(value);
        format!("unknown propagator {value} ({}, none)", names.join(", "))
    }

    /// The propagator this name stands for (this crate's strict
    /// [`W3cTraceContextPropagator`] for `tracecontext`).
    ///
    /// ```
    /// use distributed_tracing::propagation::PropagatorName;
    /// let p = PropagatorName::Xray.propagator();
    /// assert_eq!(p.fields().collect::<Vec<_>>(), ["x-amzn-trace-id"]);
    /// ```
    pub fn propagator(self) -> Box<dyn TextMapPropagator + Send + Sync> {
        match self {
            Self::TraceContext => Box::new(W3cTraceContextPropagator::new()),
            Self::Baggage => Box::new(W3cBaggagePropagator::new()),
            Self::B3 => Box::new(B3Propagator::single_header()),
            Self::B3Multi => Box::new(B3Propagator::multi_header()),
            Self::Jaeger => Box::new(JaegerPropagator::new()),
            Self::Datadog => Box::new(DatadogPropagator::new()),
            Self::Xray => Box::new(XrayPropagator::new()),
        }
    }
}

/// The composite propagator for `names`, in order, as `OTEL_PROPAGATORS`
/// names them (this crate's strict W3C propagator for `tracecontext`).
///
/// ```
/// use distributed_tracing::propagation::{propagator, PropagatorName};
/// use opentelemetry::propagation::TextMapPropagator;
/// let p = propagator(&[PropagatorName::TraceContext, PropagatorName::B3Multi]);
/// let fields: Vec<&str> = p.fields().collect();
/// assert!(fields.contains(&"traceparent") && fields.contains(&"x-b3-traceid"));
/// ```
pub fn propagator(names: &[PropagatorName]) -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(names.iter().map(|name| name.propagator()).collect())
}

/// Installs the propagators `names` as the global one.
pub(crate) fn install_global(names: &[PropagatorName]) {
    if names == PropagatorName::DEFAULT {
        // The default, as one known type (see `W3cPropagator`).
        global::set_text_map_propagator(W3cPropagator::new());
    } else {
        global::set_text_map_propagator(propagator(names));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for name in PropagatorName::ALL {
            assert_eq!(PropagatorName::parse(name.as_str()), Some(name));
        }
        for other in ["", "none", "b3 ", "w3c", "xray,"] {
            assert_eq!(PropagatorName::parse(other), None, "{other:?}");
        }
        // Enum values are case-insensitive (the configuration specification).
        assert_eq!(
            PropagatorName::parse("TraceContext"),
            PropagatorName::parse("tracecontext")
        );
        assert!(PropagatorName::parse("BAGGAGE").is_some());
    }

    #[test]
    fn unknown_lists_every_name() {
        assert_eq!(
            PropagatorName::unknown("w3c"),
            r#"unknown propagator "w3c" (tracecontext, baggage, b3, b3multi, jaeger, xray, datadog, none)"#
        );
    }
}
