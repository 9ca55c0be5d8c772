//! `testing::TestTelemetry` as a user's test suite uses it: a real axum
//! server with `ServerTraceLayer` and a traced reqwest client, no
//! `init_observability`, nothing installed by the tests themselves (this
//! binary's global SDK is there, and unused by them). They run in parallel
//! and each sees only its own spans and log lines.

use axum::extract::{MatchedPath, Path};
use axum::routing::get;
use axum::Router;
use distributed_tracing::middleware::{ClientTraceMiddleware, ServerTraceLayer};
use distributed_tracing::testing::TestTelemetry;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;

#[tracing::instrument(skip_all, fields(user.id = id))]
async fn user(Path(id): Path<u32>) -> String {
    tracing::info!(id, "looking the user up");
    format!("user {id}")
}

/// The service under test on 127.0.0.1, called once through the traced
/// client at `path`; returns the body.
async fn call(path: &str) -> String {
    let app = Router::new().route("/users/{id}", get(user)).layer(
        ServerTraceLayer::new()
            .route_fn(|ext| ext.get::<MatchedPath>().map(|p| p.as_str().to_owned())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientTraceMiddleware::new())
        .build();
    let response = client
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

/// What one test checks: its SERVER span (route, status), the CLIENT span
/// in the same trace, the handler's bridged span under the SERVER span, and
/// the handler's log line with the trace id of those spans; nothing of the
/// other test.
async fn check(id: u32) {
    let telemetry = TestTelemetry::new();
    let _guard = telemetry.set_default();
    assert_eq!(call(&format!("/users/{id}")).await, format!("user {id}"));

    let spans = telemetry.spans();
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("a SERVER span");
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("a CLIENT span");
    let handler = telemetry.span("user").expect("the handler's span");
    assert_eq!(spans.len(), 3, "this test's spans only: {spans:#?}");
    assert_eq!(server.name, "GET /users/{id}");
    assert_eq!(
        telemetry.attribute(server, "http.route"),
        Some(Value::from("/users/{id}"))
    );
    assert_eq!(
        telemetry.attribute(server, "http.response.status_code"),
        Some(Value::I64(200)),
        "typed: an integer"
    );
    assert_eq!(server.status, Status::Unset);
    let trace_id = server.span_context.trace_id();
    assert_eq!(client.span_context.trace_id(), trace_id, "one trace");
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert_eq!(handler.parent_span_id, server.span_context.span_id());
    assert_eq!(
        telemetry.attribute(&handler, "user.id"),
        Some(Value::I64(i64::from(id))),
        "typed: an integer"
    );

    let lines = telemetry.lines();
    let line = lines
        .iter()
        .find(|l| l["message"] == "looking the user up")
        .expect("the handler's log line");
    assert_eq!(line["fields"]["id"], id);
    assert_eq!(line["trace_id"], trace_id.to_string());
    assert_eq!(line["span_id"], handler.span_context.span_id().to_string());
    assert!(
        lines
            .iter()
            .all(|l| l["trace_id"].is_null() || l["trace_id"] == trace_id.to_string()),
        "no line of the other test: {lines:#?}"
    );
}

#[tokio::test]
async fn one_request_is_recorded() {
    check(7).await;
}

#[tokio::test]
async fn another_request_in_parallel_is_recorded_apart() {
    check(8).await;
}

/// Nested recorders: the inner one is the default while its guard lives,
/// then the outer one again.
#[test]
fn guards_nest() {
    let outer = TestTelemetry::new();
    let _outer = outer.set_default();
    {
        let inner = TestTelemetry::new();
        let _inner = inner.set_default();
        tracing::info_span!("inner").in_scope(|| {});
        assert_eq!(inner.spans().len(), 1);
    }
    tracing::info_span!("outer").in_scope(|| {});
    let names: Vec<_> = outer.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, ["outer"]);
}
