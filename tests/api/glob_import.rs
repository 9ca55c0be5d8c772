//! `use distributed_tracing::*;` brings in the root API without shadowing the
//! crates it is used with: `http` is still the `http` crate (the middleware
//! module is `middleware`), and no root name is one of `tower-http`'s,
//! `reqwest-tracing`'s or `opentelemetry-http`'s.

use distributed_tracing::*;

#[test]
fn glob_import_leaves_the_http_crate_alone() {
    let _trace = DistributedTraceContext::new().enter();
    let mut headers = http::HeaderMap::new();
    inject_trace_context(&mut headers);
    let remote = extract_trace_context_from_headers(&headers).expect("a traceparent");
    assert_eq!(Some(remote.trace_id()), current_trace_id());
}
