//! Concurrent requests never see each other's trace, and a worker thread that
//! served one request never leaks its context into the next.

use crate::common;

use std::collections::HashSet;

use distributed_tracing::compat::{get_span_id, get_trace_id, init_trace_from_headers};
use distributed_tracing::{spawn, DistributedTraceContext};
use tracing::Instrument as _;

const TASKS: usize = 1000;

/// Each task checks, after many yields (and so many moves between the worker
/// threads), that it still sees its own ids and nothing else.
async fn check_own_ids(expected_trace: String, expected_span: String) -> usize {
    let mut checks = 0;
    for i in 0..50 {
        if i % 7 == 0 {
            tokio::time::sleep(std::time::Duration::from_micros(50)).await;
        } else {
            tokio::task::yield_now().await;
        }
        assert_eq!(get_trace_id().as_deref(), Some(&*expected_trace));
        assert_eq!(get_span_id().as_deref(), Some(&*expected_span));
        checks += 1;
    }
    checks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_scopes_each_see_only_their_own_trace() {
    let mut handles = Vec::with_capacity(TASKS);
    let mut traces = HashSet::new();
    for _ in 0..TASKS {
        let scope = DistributedTraceContext::new_root("request");
        let (t, s) = (scope.trace_id().to_string(), scope.span_id().to_string());
        assert!(traces.insert(t.clone()), "distinct traces");
        handles.push(tokio::spawn(scope.scope(check_own_ids(t, s))));
    }
    let mut checks = 0;
    for h in handles {
        checks += h.await.expect("no task saw a foreign id");
    }
    assert_eq!(checks, TASKS * 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_from_headers_with_bridged_spans() {
    common::sdk();
    let mut handles = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let trace = format!("{:032x}", 0x1000_0000_0000_0000_0000u128 + i as u128);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{trace}-00f067aa0ba902b7-01").parse().unwrap(),
        );
        handles.push(tokio::spawn(async move {
            // The guard is not Send; the async form keeps the trace across awaits.
            let remote = distributed_tracing::extract_trace_context_from_headers(&headers)
                .expect("valid traceparent");
            let scope = DistributedTraceContext::from_extracted(remote);
            scope
                .scope(async move {
                    let span = tracing::info_span!("handler", i);
                    async move {
                        let span_id = get_span_id().unwrap();
                        let inner = spawn(check_own_ids(trace.clone(), span_id.clone()));
                        check_own_ids(trace, span_id).await + inner.await.unwrap()
                    }
                    .instrument(span)
                    .await
                })
                .await
        }));
    }
    let mut checks = 0;
    for h in handles {
        checks += h.await.expect("no task saw a foreign id");
    }
    assert_eq!(checks, TASKS * 100);
}

/// The sync guard form: every request handled on the same (single) worker thread
/// after another one finds no trace before it starts its own.
#[tokio::test(flavor = "current_thread")]
async fn a_worker_never_leaks_one_requests_context_into_the_next() {
    let mut seen_before = Vec::new();
    for i in 0..100u128 {
        seen_before.push(get_trace_id());
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-{:032x}-00f067aa0ba902b7-01", i + 1)
                .parse()
                .unwrap(),
        );
        let guard = init_trace_from_headers(&headers);
        assert_eq!(get_trace_id(), Some(format!("{:032x}", i + 1)));
        drop(guard);
        // An async request on the same thread, interleaved with the others.
        let scope = DistributedTraceContext::new_root("next");
        let id = scope.trace_id().to_string();
        let seen = scope
            .scope(async {
                tokio::task::yield_now().await;
                get_trace_id()
            })
            .await;
        assert_eq!(seen, Some(id));
    }
    assert!(seen_before.iter().all(Option::is_none), "{seen_before:?}");
    // And plain tasks spawned after all that start clean.
    let after = tokio::spawn(async { get_trace_id() }).await.unwrap();
    assert_eq!(after, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_start_clean_after_serving_many_requests() {
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let scope = DistributedTraceContext::new_root("request");
            tokio::spawn(scope.scope(async {
                tokio::task::yield_now().await;
            }))
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let leaked: Vec<_> =
        futures::future::join_all((0..200).map(|_| tokio::spawn(async { get_trace_id() })))
            .await
            .into_iter()
            .map(Result::unwrap)
            .filter(Option::is_some)
            .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}
