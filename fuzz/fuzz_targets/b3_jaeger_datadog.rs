//! B3 (both encodings), Jaeger, X-Ray and Datadog headers (every propagator of
//! the registry, `PropagatorName::ALL`, but the W3C ones, which have targets of
//! their own): extract leaves the context unchanged or gives a valid remote span
//! context, which re-injects (with the same propagator and with W3C) and
//! extracts again to the same ids and sampled flag. The same input through
//! `http::HeaderMap` never panics either.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;

use distributed_tracing::opentelemetry::propagation::TextMapPropagator;
use distributed_tracing::opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use distributed_tracing::opentelemetry::Context;
use distributed_tracing::propagation::{
    HeaderMapExtractor, PairsExtractor, PropagatorName, W3cTraceContextPropagator,
};
use libfuzzer_sys::fuzz_target;

fn base() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(7u128),
        SpanId::from(7u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ))
}

fn check(label: &str, p: &dyn TextMapPropagator, cx: &Context, before: &SpanContext) {
    let sc = cx.span().span_context().clone();
    if sc == *before {
        return;
    }
    assert!(sc.is_valid() && sc.is_remote(), "{label}: {sc:?}");
    for (to, q) in [
        ("same", p),
        (
            "w3c",
            &W3cTraceContextPropagator::new() as &dyn TextMapPropagator,
        ),
    ] {
        let mut out: HashMap<String, String> = HashMap::new();
        q.inject_context(cx, &mut out);
        assert!(!out.is_empty(), "{label} -> {to}: nothing injected");
        let again = q.extract_with_context(&Context::new(), &out);
        let again = again.span().span_context().clone();
        assert_eq!(again.trace_id(), sc.trace_id(), "{label} -> {to}");
        assert_eq!(again.span_id(), sc.span_id(), "{label} -> {to}");
        assert_eq!(again.is_sampled(), sc.is_sampled(), "{label} -> {to}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pairs = common::pairs(&text, "b3");
    let propagators: Vec<(&str, Box<dyn TextMapPropagator + Send + Sync>)> = PropagatorName::ALL
        .into_iter()
        // `traceparent_tracestate` and `baggage` fuzz the W3C ones.
        .filter(|name| !matches!(name, PropagatorName::TraceContext | PropagatorName::Baggage))
        .map(|name| (name.as_str(), name.propagator()))
        .collect();
    let base = base();
    let before = base.span().span_context().clone();
    let carrier = PairsExtractor::new(pairs.iter().copied());
    for (label, p) in &propagators {
        check(
            label,
            &**p,
            &p.extract_with_context(&base, &carrier),
            &before,
        );
    }

    let mut headers = http::HeaderMap::new();
    for (name, value) in &pairs {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    for (label, p) in &propagators {
        check(
            label,
            &**p,
            &p.extract_with_context(&base, &HeaderMapExtractor(&headers)),
            &before,
        );
    }
});
