//! Background jobs run in a trace of their own whose root span links to the
//! span that queued them (the old module gave every background task its own
//! trace id; here the cause is not lost).

use crate::common;

use common::{hex_span, hex_trace, sdk, span_named, trace_of};
use distributed_tracing::compat::{get_span_id, get_trace_id};
use distributed_tracing::opentelemetry::trace::SpanId;
use distributed_tracing::{spawn_background_job, DistributedTraceContext};
use tracing::Instrument as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_gets_a_new_trace_linked_to_the_request_that_queued_it() {
    sdk();
    let request = DistributedTraceContext::new_root("request");
    let (request_trace, request_span) = (
        request.trace_id().to_string(),
        request.span_id().to_string(),
    );
    let job = {
        let _request = request.enter();
        spawn_background_job("send_email", async {
            let ids = (get_trace_id().unwrap(), get_span_id().unwrap());
            // Instrumented work inside the job is part of the job's trace.
            async { tokio::task::yield_now().await }
                .instrument(tracing::info_span!("render_template"))
                .await;
            ids
        })
    };
    let (job_trace, job_span) = job.await.unwrap();
    assert_ne!(job_trace, request_trace, "a trace of its own");

    let root = span_named(trace_of(&job_trace), "send_email");
    assert_eq!(hex_span(root.span_context.span_id()), job_span);
    assert_eq!(
        root.parent_span_id,
        SpanId::INVALID,
        "the job's span is a root"
    );
    assert_eq!(root.links.links.len(), 1, "linked to its cause");
    let link = &root.links.links[0].span_context;
    assert_eq!(hex_trace(link.trace_id()), request_trace);
    assert_eq!(hex_span(link.span_id()), request_span);

    let child = span_named(trace_of(&job_trace), "render_template");
    assert_eq!(child.parent_span_id, root.span_context.span_id());
}

#[tokio::test(flavor = "current_thread")]
async fn a_job_queued_outside_any_trace_has_no_link() {
    sdk();
    let trace = spawn_background_job("nightly", async { get_trace_id().unwrap() })
        .await
        .unwrap();
    let root = span_named(trace_of(&trace), "nightly");
    assert!(root.links.links.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn each_job_has_its_own_trace() {
    sdk();
    let request = DistributedTraceContext::new_root("request");
    let ids = request
        .scope(async {
            let jobs: Vec<_> = (0..20)
                .map(|_| spawn_background_job("job", async { get_trace_id().unwrap() }))
                .collect();
            futures::future::join_all(jobs).await
        })
        .await;
    let unique: std::collections::HashSet<_> = ids.iter().map(|r| r.as_ref().unwrap()).collect();
    assert_eq!(unique.len(), 20);
}
