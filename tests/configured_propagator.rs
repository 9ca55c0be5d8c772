//! `extract_trace_context_from_headers` reads through whatever propagator is
//! installed globally; the direct `HeaderMap` path is taken only while that is
//! the default `W3cPropagator` (or none at all). One test: the global
//! propagator is process-wide.

use distributed_tracing::extract_trace_context_from_headers;
use distributed_tracing::opentelemetry::global;
use distributed_tracing::propagation::{propagator, B3Propagator, PropagatorName, W3cPropagator};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const B3_TRACE_ID: &str = "80f198ee56343ba864fe8b2a57d3eff7";

fn headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    headers.insert("traceparent", traceparent.parse().unwrap());
    headers.insert("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
    let b3 = format!("{B3_TRACE_ID}-e457b5a2e4d86bd1-1");
    headers.insert("b3", b3.parse().unwrap());
    headers
}

fn extracted_trace_id() -> Option<String> {
    extract_trace_context_from_headers(&headers()).map(|remote| remote.trace_id().to_string())
}

#[test]
fn extraction_follows_the_global_propagator() {
    // None installed: the default (W3C).
    assert_eq!(extracted_trace_id().as_deref(), Some(TRACE_ID));

    global::set_text_map_propagator(B3Propagator::single_header());
    assert_eq!(extracted_trace_id().as_deref(), Some(B3_TRACE_ID));

    global::set_text_map_propagator(W3cPropagator::new());
    let remote = extract_trace_context_from_headers(&headers()).unwrap();
    assert_eq!(remote.trace_id().to_string(), TRACE_ID);
    assert_eq!(remote.tracestate().as_deref(), Some("congo=t61rcWkgMzE"));

    // A composite (the generic path): the last propagator that finds a context
    // wins, OpenTelemetry's rule, so the order decides.
    global::set_text_map_propagator(propagator(&[
        PropagatorName::B3,
        PropagatorName::TraceContext,
    ]));
    assert_eq!(extracted_trace_id().as_deref(), Some(TRACE_ID));
    global::set_text_map_propagator(propagator(&[
        PropagatorName::TraceContext,
        PropagatorName::B3,
    ]));
    assert_eq!(extracted_trace_id().as_deref(), Some(B3_TRACE_ID));
}
