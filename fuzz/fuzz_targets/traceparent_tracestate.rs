//! `traceparent` / `tracestate` through `extract_trace_context_from_pairs` and
//! the W3C propagator: both agree, accept exactly what the reference rules
//! accept, and an extracted context re-injects to a traceparent that parses again
//! to the same ids, flags and tracestate.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;

use distributed_tracing::extract_trace_context_from_pairs;
use distributed_tracing::opentelemetry::propagation::TextMapPropagator;
use distributed_tracing::opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use distributed_tracing::opentelemetry::Context;
use distributed_tracing::propagation::{PairsExtractor, W3cTraceContextPropagator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pairs = common::pairs(&text, "traceparent");
    let w3c = W3cTraceContextPropagator::new();

    let direct =
        w3c.extract_with_context(&Context::new(), &PairsExtractor::new(pairs.iter().copied()));
    let sc = direct.span().span_context().clone();
    let via_api = extract_trace_context_from_pairs(pairs.iter().copied());
    assert_eq!(
        via_api.is_some(),
        sc.is_valid(),
        "the API and the propagator agree"
    );

    // Exactly one traceparent line (names case-insensitive), valid per the rules.
    let lines: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("traceparent"))
        .map(|(_, v)| *v)
        .collect();
    let expected = match lines.as_slice() {
        [one] => common::reference::reference_traceparent(one),
        _ => None,
    };
    let Some((trace_id, span_id, flags)) = expected else {
        assert!(!sc.is_valid(), "accepted {lines:?}");
        return;
    };
    assert!(sc.is_valid() && sc.is_remote());
    assert_eq!(sc.trace_id(), TraceId::from(trace_id));
    assert_eq!(sc.span_id(), SpanId::from(span_id));
    assert_eq!(sc.trace_flags().to_u8(), flags);

    let remote = via_api.expect("valid");
    assert_eq!(remote.span_context(), sc);

    // Re-inject: a version-00 traceparent that parses again, same tracestate.
    let mut out: HashMap<String, String> = HashMap::new();
    w3c.inject_context(remote.context(), &mut out);
    let tp = &out["traceparent"];
    assert_eq!(tp.len(), 55);
    assert!(tp.starts_with("00-"));
    assert_eq!(
        common::reference::reference_traceparent(tp),
        Some((trace_id, span_id, flags))
    );
    assert_eq!(out.get("tracestate"), remote.tracestate().as_ref());

    let again = w3c.extract_with_context(&Context::new(), &out);
    let again_sc = again.span().span_context().clone();
    assert_eq!(again_sc.trace_id(), sc.trace_id());
    assert_eq!(again_sc.span_id(), sc.span_id());
    assert_eq!(again_sc.trace_flags(), sc.trace_flags());
    let mut out2: HashMap<String, String> = HashMap::new();
    w3c.inject_context(&again, &mut out2);
    assert_eq!(out2, out, "inject, extract, inject is stable");
});
