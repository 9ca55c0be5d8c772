//! [`W3cPropagator`]: W3C Trace Context and W3C Baggage as one propagator, the
//! default this crate installs, and the allocation-light path that reads an
//! [`http::HeaderMap`] directly while it is the configured propagator.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::Context;

use super::baggage::{W3cBaggagePropagator, BAGGAGE};
use super::trace_context::{
    parse_traceparent, Traceparent, W3cTraceContextPropagator, TRACEPARENT, TRACESTATE,
};

static TRACEPARENT_NAME: HeaderName = HeaderName::from_static(TRACEPARENT);
static TRACESTATE_NAME: HeaderName = HeaderName::from_static(TRACESTATE);
static BAGGAGE_NAME: HeaderName = HeaderName::from_static(BAGGAGE);

/// W3C Trace Context ([`W3cTraceContextPropagator`]) then W3C Baggage
/// ([`W3cBaggagePropagator`]) in one propagator: what
/// [`init_observability`](crate::init_observability) installs by default
/// (`OTEL_PROPAGATORS=tracecontext,baggage`).
///
/// It behaves exactly as the composite of the two. Being one known type lets
/// [`extract_trace_context_from_headers`](crate::extract_trace_context_from_headers)
/// recognise it as the global propagator and read the headers without the
/// generic carrier's allocations, keeping `tracestate` as received until a span
/// is started from it.
///
/// ```
/// use distributed_tracing::propagation::W3cPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// let propagator = W3cPropagator::new();
/// let fields: Vec<&str> = propagator.fields().collect();
/// assert_eq!(fields, ["traceparent", "tracestate", "baggage"]);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct W3cPropagator {
    _private: (),
}

impl W3cPropagator {
    /// A new propagator.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

/// The fields, in a static only this type hands out: a propagator whose first
/// field is this very string is a `W3cPropagator`.
fn fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 3]> = OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.into(), TRACESTATE.into(), BAGGAGE.into()])
}

/// Whether `p` is a [`W3cPropagator`] (the trait has no downcasting: the first
/// field's address identifies it).
pub(crate) fn is_w3c(p: &dyn TextMapPropagator) -> bool {
    p.fields().next().map(str::as_ptr) == Some(fields()[0].as_ptr())
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        W3cTraceContextPropagator::new().inject_context(cx, injector);
        W3cBaggagePropagator::new().inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let cx = W3cTraceContextPropagator::new().extract_with_context(cx, extractor);
        W3cBaggagePropagator::new().extract_with_context(&cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

/// A `tracestate` kept as received (visible ASCII, not checked yet): parsed,
/// and dropped whole if invalid, only when it is read or a context is built
/// from it.
#[derive(Debug, Clone)]
pub(crate) enum ReceivedTracestate {
    /// One header line (a cheap, reference-counted copy of the request's bytes).
    Line(HeaderValue),
    /// Several lines, joined with `,` (one list, as the spec reads them).
    Joined(Box<str>),
}

impl ReceivedTracestate {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Checked to be visible ASCII when it was read.
            Self::Line(value) => value.to_str().unwrap_or_default(),
            Self::Joined(joined) => joined,
        }
    }
}

/// What the fast path read from the headers.
pub(crate) enum FastExtract {
    /// No valid remote context.
    None,
    /// A valid `traceparent`, and the `tracestate` (if any) unchecked; no baggage.
    Remote(Traceparent, Option<ReceivedTracestate>),
    /// Headers the fast path does not take (baggage): use the propagator.
    Generic,
}

/// The only value of `name` as visible ASCII; `Err` when repeated (invalid).
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => Ok(value.to_str().ok()),
        (Some(_), Some(_)) => Err(()),
    }
}

/// Reads `traceparent` and `tracestate` from `headers` the way
/// [`W3cPropagator`] does, with no allocation for a one-line `tracestate`.
pub(crate) fn fast_extract(headers: &HeaderMap) -> FastExtract {
    if headers.contains_key(&BAGGAGE_NAME) {
        return FastExtract::Generic;
    }
    // Exactly one traceparent header: two of them make the context invalid.
    let Ok(Some(traceparent)) = single(headers, &TRACEPARENT_NAME) else {
        return FastExtract::None;
    };
    let Ok(tp) = parse_traceparent(traceparent) else {
        return FastExtract::None;
    };
    // Kept as received: checked (an invalid list is dropped whole) when it is
    // read or a context is built from it. A line that is not visible ASCII makes
    // the list invalid.
    let mut lines = headers.get_all(&TRACESTATE_NAME).iter();
    let tracestate = match (lines.next(), lines.next()) {
        (None, _) => None,
        (Some(line), None) => line
            .to_str()
            .ok()
            .map(|_| ReceivedTracestate::Line(line.clone())),
        (Some(_), Some(_)) => headers
            .get_all(&TRACESTATE_NAME)
            .iter()
            .map(|value| value.to_str().ok())
            .collect::<Option<Vec<&str>>>()
            .map(|all| ReceivedTracestate::Joined(all.join(",").into())),
    };
    FastExtract::Remote(tp, tracestate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{propagator, PropagatorName};
    use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};

    #[test]
    fn recognises_itself_only() {
        assert!(is_w3c(&W3cPropagator::new()));
        assert!(is_w3c(&crate::propagation::default_propagator()));
        let same_fields = propagator(&[PropagatorName::TraceContext, PropagatorName::Baggage]);
        let sorted = |p: &dyn TextMapPropagator| {
            let mut fields: Vec<&str> = p.fields().collect();
            fields.sort_unstable();
            fields.into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(sorted(&same_fields), sorted(&W3cPropagator::new()));
        assert!(!is_w3c(&same_fields), "same fields, another propagator");
        assert!(!is_w3c(&W3cTraceContextPropagator::new()));
        assert!(!is_w3c(
            &opentelemetry_sdk::propagation::TraceContextPropagator::new()
        ));
        assert!(!is_w3c(&TextMapCompositePropagator::new(Vec::new())));
    }

    fn headers(lines: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    const TP: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn fast_path_cases() {
        let remote = |lines: &[(&'static str, &[u8])]| match fast_extract(&headers(lines)) {
            FastExtract::Remote(tp, raw) => Some((tp, raw.map(|r| r.as_str().to_owned()))),
            FastExtract::None => None,
            FastExtract::Generic => panic!("generic"),
        };
        let (tp, raw) = remote(&[("traceparent", TP)]).unwrap();
        assert_eq!(tp.flags.to_u8(), 1);
        assert_eq!(raw, None);
        assert!(remote(&[("traceparent", TP), ("traceparent", TP)]).is_none());
        assert!(remote(&[("traceparent", TP), ("traceparent", b"\xe9")]).is_none());
        assert!(remote(&[("traceparent", b"\xe9")]).is_none());
        let one = remote(&[("traceparent", TP), ("tracestate", b"a=1 , b=2")]);
        assert_eq!(one.unwrap().1.as_deref(), Some("a=1 , b=2"), "kept raw");
        let two = remote(&[
            ("traceparent", TP),
            ("tracestate", b"a=1"),
            ("tracestate", b"b=2"),
        ]);
        assert_eq!(two.unwrap().1.as_deref(), Some("a=1,b=2"), "lines joined");
        let bad = remote(&[("traceparent", TP), ("tracestate", b"a=1,a=2")]);
        assert_eq!(bad.unwrap().1.as_deref(), Some("a=1,a=2"), "checked later");
        let non_text = remote(&[
            ("traceparent", TP),
            ("tracestate", b"a=1"),
            ("tracestate", b"\xe9"),
        ]);
        assert_eq!(
            non_text.unwrap().1,
            None,
            "a non-text line invalidates the list"
        );
        assert!(matches!(
            fast_extract(&headers(&[("traceparent", TP), ("baggage", b"k=v")])),
            FastExtract::Generic
        ));
    }
}
