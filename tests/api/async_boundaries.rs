//! The context crosses every async boundary users meet: `.await`, `join!`,
//! `select!`, `join_all`, `spawn`, `spawn_blocking`, threads; and plain
//! `tokio::spawn` / `spawn_blocking` are shown to lose it (the failure the
//! crate's helpers fix).

use std::time::Duration;

use distributed_tracing::compat::{get_span_id, get_trace_id, init_trace_context};
use distributed_tracing::{
    in_current_trace_fn, spawn, spawn_blocking, DistributedTraceContext, TraceFutureExt as _,
};

async fn id_after_yields(n: usize) -> Option<String> {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    get_trace_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn await_join_select_and_join_all_keep_the_trace() {
    let scope = DistributedTraceContext::new_root("request");
    let expected = Some(scope.trace_id().to_string());
    let (a, b, c, all, selected) = scope
        .scope(async {
            let a = id_after_yields(3).await;
            let (b, c) = tokio::join!(id_after_yields(5), id_after_yields(1));
            let all = futures::future::join_all((0..10).map(id_after_yields)).await;
            let selected = tokio::select! {
                id = id_after_yields(2) => id,
                _ = tokio::time::sleep(Duration::from_secs(10)) => None,
            };
            (a, b, c, all, selected)
        })
        .await;
    assert_eq!(a, expected);
    assert_eq!(b, expected);
    assert_eq!(c, expected);
    assert_eq!(selected, expected);
    assert!(all.iter().all(|id| *id == expected), "{all:?}");
    assert_eq!(get_trace_id(), None, "nothing left behind after the scope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tokio_spawn_loses_the_trace_and_ours_keeps_it() {
    let scope = DistributedTraceContext::new_root("request");
    let expected = Some(scope.trace_id().to_string());
    let (plain, ours, plain_blocking, ours_blocking, ext) = scope
        .scope(async {
            let plain = tokio::spawn(id_after_yields(2)).await.unwrap();
            let ours = spawn(id_after_yields(2)).await.unwrap();
            let plain_blocking = tokio::task::spawn_blocking(get_trace_id).await.unwrap();
            let ours_blocking = spawn_blocking(get_trace_id).await.unwrap();
            let ext = tokio::spawn(id_after_yields(2).in_current_trace())
                .await
                .unwrap();
            (plain, ours, plain_blocking, ours_blocking, ext)
        })
        .await;
    assert_eq!(plain, None, "plain tokio::spawn does not inherit the trace");
    assert_eq!(plain_blocking, None, "nor does plain spawn_blocking");
    assert_eq!(ours, expected);
    assert_eq!(ours_blocking, expected);
    assert_eq!(ext, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spawned_task_keeps_the_trace_after_its_parent_scope_ended() {
    let scope = DistributedTraceContext::new_root("request");
    let expected = Some(scope.trace_id().to_string());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = {
        let _request = scope.enter();
        spawn(async move {
            rx.await.ok();
            id_after_yields(3).await
        })
    };
    // The request scope is over; the task it spawned still runs in its trace.
    assert_eq!(get_trace_id(), None);
    tx.send(()).unwrap();
    assert_eq!(handle.await.unwrap(), expected);
}

#[test]
fn threads_keep_the_trace_with_in_current_trace_fn() {
    let guard = init_trace_context(None, None).unwrap();
    let expected = Some(guard.trace_id().to_string());
    let plain = std::thread::spawn(get_trace_id).join().unwrap();
    let ours = std::thread::spawn(in_current_trace_fn(get_trace_id))
        .join()
        .unwrap();
    assert_eq!(plain, None);
    assert_eq!(ours, expected);
}

#[tokio::test(flavor = "current_thread")]
async fn scopes_nest_and_restore_across_awaits() {
    let outer = DistributedTraceContext::new_root("outer");
    let outer_id = outer.trace_id().to_string();
    let outer_span = outer.span_id().to_string();
    let (before, inner_seen, after) = outer
        .scope(async {
            let before = (get_trace_id(), get_span_id());
            let child = DistributedTraceContext::child_of(
                &distributed_tracing::opentelemetry::Context::current(),
                "child",
            );
            let inner_seen = child
                .scope(async { (id_after_yields(2).await, get_span_id()) })
                .await;
            let after = (id_after_yields(2).await, get_span_id());
            (before, inner_seen, after)
        })
        .await;
    assert_eq!(before, (Some(outer_id.clone()), Some(outer_span.clone())));
    assert_eq!(
        inner_seen.0,
        Some(outer_id.clone()),
        "a child keeps the trace id"
    );
    assert_ne!(
        inner_seen.1,
        Some(outer_span.clone()),
        "with its own span id"
    );
    assert_eq!(after, (Some(outer_id), Some(outer_span)), "restored");
}

#[tokio::test(flavor = "current_thread")]
async fn a_cleared_scope_hides_the_callers_trace() {
    let scope = DistributedTraceContext::new_root("request");
    let expected = Some(scope.trace_id().to_string());
    let (inside, after) = scope
        .scope(async {
            let inside = DistributedTraceContext::empty()
                .scope(id_after_yields(2))
                .await;
            (inside, id_after_yields(1).await)
        })
        .await;
    assert_eq!(inside, None);
    assert_eq!(after, expected);
}
