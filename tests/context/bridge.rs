//! The `tracing` bridge: inside `#[instrument]`ed code, `get_trace_id()` and
//! `get_span_id()` are the ids of the span the OpenTelemetry SDK exports, for
//! nested spans, across `spawn`, and when the trace was continued from headers.

use crate::common;

use common::{hex_span, hex_trace, sdk, span_named, span_of, spans_of, trace_of};
use distributed_tracing::compat::{
    get_span_id, get_trace_context_dict, get_trace_id, init_trace_from_headers,
    propagate_trace_context,
};
use distributed_tracing::opentelemetry::trace::{SpanId, TraceContextExt as _};
use distributed_tracing::spawn;
use tracing::instrument;

#[derive(Debug, Clone)]
struct Seen {
    trace_id: String,
    span_id: String,
}

fn seen() -> Seen {
    Seen {
        trace_id: get_trace_id().expect("a trace inside an instrumented span"),
        span_id: get_span_id().expect("a span inside an instrumented span"),
    }
}

#[instrument]
async fn outer() -> (Seen, Seen, Seen) {
    let before = seen();
    let inner = inner().await;
    tokio::task::yield_now().await;
    let after = seen();
    (before, inner, after)
}

#[instrument]
async fn inner() -> Seen {
    tokio::task::yield_now().await;
    seen()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_instrumented_spans_report_the_exported_ids() {
    sdk();
    let (before, inner, after) = outer().await;
    let trace_id = trace_of(&before.trace_id);

    let outer_span = span_named(trace_id, "outer");
    let inner_span = span_named(trace_id, "inner");
    assert_eq!(hex_span(outer_span.span_context.span_id()), before.span_id);
    assert_eq!(after.span_id, before.span_id, "back in outer after .await");
    assert_eq!(inner.trace_id, before.trace_id, "one trace");
    assert_eq!(hex_span(inner_span.span_context.span_id()), inner.span_id);
    assert_eq!(inner_span.parent_span_id, outer_span.span_context.span_id());
    assert_eq!(
        outer_span.parent_span_id,
        SpanId::INVALID,
        "outer is the root"
    );
    assert!(outer_span.span_context.is_sampled());
}

#[instrument]
async fn parent_with_spawned_child() -> (Seen, Seen) {
    let here = seen();
    let child = spawn(child_task()).await.expect("task");
    (here, child)
}

#[instrument]
async fn child_task() -> Seen {
    seen()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_in_spawned_tasks_are_children_of_the_spawning_span() {
    sdk();
    let (parent, child) = parent_with_spawned_child().await;
    assert_eq!(child.trace_id, parent.trace_id);
    let trace_id = trace_of(&parent.trace_id);
    let child_span = span_named(trace_id, "child_task");
    let parent_span = span_named(trace_id, "parent_with_spawned_child");
    assert_eq!(hex_span(child_span.span_context.span_id()), child.span_id);
    assert_eq!(
        child_span.parent_span_id,
        parent_span.span_context.span_id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tokio_spawn_starts_an_unrelated_trace() {
    sdk();
    #[instrument]
    async fn lost() -> (Seen, Seen) {
        let here = seen();
        // The failure this crate's `spawn` prevents: the child span becomes a new root.
        let child = tokio::spawn(child_task()).await.expect("task");
        (here, child)
    }
    let (parent, child) = lost().await;
    assert_ne!(child.trace_id, parent.trace_id);
    let child_span = span_named(trace_of(&child.trace_id), "child_task");
    assert_eq!(child_span.parent_span_id, SpanId::INVALID);
}

#[test]
fn a_trace_continued_from_headers_is_the_parent_of_instrumented_spans() {
    sdk();
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{caller_trace}-{caller_span}-01")
            .parse()
            .unwrap(),
    );
    headers.insert("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
    let seen_in_handler = {
        let guard = init_trace_from_headers(&headers);
        let continued = guard.span_context();
        let handler = tracing::info_span!("handler");
        let seen = handler.in_scope(|| {
            let dict = get_trace_context_dict();
            assert_eq!(dict.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
            assert_eq!(
                propagate_trace_context().unwrap(),
                format!("00-{caller_trace}-{}-01", dict.span_id.clone().unwrap())
            );
            seen()
        });
        drop(handler);
        (continued, seen)
    };
    let (continued, seen) = seen_in_handler;
    assert_eq!(seen.trace_id, caller_trace);
    // Spans are exported when they end: the handler span above, the guard's span now.
    let trace_id = trace_of(caller_trace);
    let handler = span_named(trace_id, "handler");
    let server = span_named(trace_id, "continue_trace");
    assert_eq!(hex_span(handler.span_context.span_id()), seen.span_id);
    assert_eq!(handler.parent_span_id, continued.span_id());
    assert_eq!(server.span_context.span_id(), continued.span_id());
    assert_eq!(
        server.parent_span_id,
        span_of(caller_span),
        "child of the caller"
    );
    assert!(server.parent_span_is_remote);
    assert_eq!(
        server.span_context.trace_state().header(),
        "congo=t61rcWkgMzE"
    );
    assert_eq!(spans_of(trace_id).len(), 2);
}

#[test]
fn otel_context_and_tracing_span_agree_outside_async() {
    sdk();
    let span = tracing::info_span!("sync_work");
    let _entered = span.enter();
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    assert_eq!(get_trace_id(), Some(hex_trace(sc.trace_id())));
    assert_eq!(get_span_id(), Some(hex_span(sc.span_id())));
}
