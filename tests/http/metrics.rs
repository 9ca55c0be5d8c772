//! Request metrics from the layers on a real axum server on 127.0.0.1: the
//! semantic conventions' attributes, the duration equal to the span's, the
//! exemplar carrying the span's ids, and the bounds (unknown methods,
//! unmatched routes, the cardinality limit and its overflow series).

use crate::common;

use std::net::SocketAddr;

use axum::extract::MatchedPath;
use axum::routing::get;
use axum::Router;
use common::{sdk, spans_of, trace_of};
use distributed_tracing::metrics::{
    HistogramPoint, Instrument, RequestMetrics, Temporality, OVERFLOW_ATTRIBUTE,
};
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::opentelemetry::trace::SpanKind;
use distributed_tracing::opentelemetry::Value;

/// Trace ids no other module of this binary uses.
const TID_OK: &str = "7e111c5000000000000000000000a001";
const TID_UNSAMPLED: &str = "7e111c5000000000000000000000a002";
const TID_CLIENT: &str = "7e111c5000000000000000000000a003";

fn route(ext: &http::Extensions) -> Option<String> {
    ext.get::<MatchedPath>().map(|p| p.as_str().to_owned())
}

fn app(layer: ServerTraceLayer) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/fail",
            get(|| async { http::StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route("/bad", get(|| async { http::StatusCode::BAD_REQUEST }))
        .layer(layer.route_fn(route))
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends raw HTTP/1.1 requests (method, path, traceparent) and reads each answer.
async fn send(addr: SocketAddr, requests: &[(&str, &str, Option<String>)]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for (method, path, traceparent) in requests {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        if let Some(tp) = traceparent {
            request.push_str(&format!("traceparent: {tp}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
    }
}

fn text(point: &HistogramPoint, key: &str) -> Option<String> {
    point.attribute(key).map(|v| v.to_string())
}

/// The points of `instrument`, waiting until `n` measurements are in (a
/// span ends when its body is sent, after the client read it).
async fn points(metrics: &RequestMetrics, instrument: Instrument, n: u64) -> Vec<HistogramPoint> {
    for _ in 0..200 {
        let points: Vec<HistogramPoint> = metrics
            .collect(Temporality::Cumulative)
            .into_iter()
            .filter(|h| h.instrument == instrument)
            .flat_map(|h| h.points)
            .collect();
        if points.iter().map(|p| p.count).sum::<u64>() >= n {
            return points;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} measurements of {}", instrument.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_requests_are_measured_with_the_conventions_attributes_and_exemplars() {
    sdk();
    let metrics = RequestMetrics::new();
    let addr = serve(app(ServerTraceLayer::new().request_metrics(&metrics))).await;
    let sampled = Some(format!("00-{TID_OK}-00f067aa0ba902b7-01"));
    let unsampled = Some(format!("00-{TID_UNSAMPLED}-00f067aa0ba902b7-00"));
    send(
        addr,
        &[
            ("GET", "/users/7", sampled.clone()),
            ("GET", "/users/8", unsampled.clone()),
            ("GET", "/users/9", unsampled),
            ("GET", "/fail", None),
            ("GET", "/bad", None),
            ("GET", "/no/such/route", None),
            ("FROB", "/users/7", None),
        ],
    )
    .await;
    let points = points(&metrics, Instrument::HttpServer, 7).await;
    let find = |route: Option<&str>, method: &str, status: i64| -> &HistogramPoint {
        points
            .iter()
            .find(|p| {
                text(p, "http.route").as_deref() == route
                    && text(p, "http.request.method").as_deref() == Some(method)
                    && p.attribute("http.response.status_code") == Some(&Value::I64(status))
            })
            .unwrap_or_else(|| panic!("no series {route:?} {method} {status}: {points:#?}"))
    };
    let users = find(Some("/users/{id}"), "GET", 200);
    assert_eq!(users.count, 3, "three requests to the route, one series");
    let keys: Vec<&str> = users.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "http.request.method",
            "url.scheme",
            "http.route",
            "http.response.status_code",
            "network.protocol.version"
        ],
        "the conventions' attributes, and no error.type on success"
    );
    assert_eq!(text(users, "url.scheme").as_deref(), Some("http"));
    assert_eq!(
        text(users, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(users.bucket_counts.iter().sum::<u64>(), 3);
    assert_eq!(users.bucket_counts.len(), users.bounds.len() + 1);

    // The sampled request's exemplar carries its server span's ids, and its
    // value is the span's duration to the nanosecond (one clock read at
    // each end serves both).
    let span = spans_of(trace_of(TID_OK))
        .into_iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("the server span");
    let exemplar = users
        .exemplars
        .iter()
        .find(|e| e.trace_id == trace_of(TID_OK))
        .expect("an exemplar of the sampled request");
    assert_eq!(exemplar.span_id, span.span_context.span_id());
    let duration = span.end_time.duration_since(span.start_time).unwrap();
    assert_eq!(exemplar.value, duration.as_secs_f64());
    assert_eq!(exemplar.time, span.end_time);
    assert!(
        users
            .exemplars
            .iter()
            .all(|e| e.trace_id != trace_of(TID_UNSAMPLED)),
        "a request whose span is not sampled gives no exemplar"
    );

    let fail = find(Some("/fail"), "GET", 500);
    assert_eq!(text(fail, "error.type").as_deref(), Some("500"));
    let bad = find(Some("/bad"), "GET", 400);
    assert_eq!(
        text(bad, "error.type"),
        None,
        "a 4xx is the caller's, not the server's error"
    );
    let unmatched = find(None, "GET", 404);
    assert_eq!(unmatched.count, 1, "no route: no http.route");
    let other = find(Some("/users/{id}"), "_OTHER", 405);
    assert_eq!(other.count, 1, "an unknown method is _OTHER");
    assert_eq!(points.iter().map(|p| p.count).sum::<u64>(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_turned_off_per_layer() {
    sdk();
    let metrics = RequestMetrics::new();
    let addr = serve(app(ServerTraceLayer::new()
        .request_metrics(&metrics)
        .metrics(false)))
    .await;
    send(addr, &[("GET", "/users/1", None)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(metrics.collect(Temporality::Cumulative).is_empty());
}

/// 100,000 requests with distinct unmatched paths and distinct methods: the
/// series stay the few that the folding allows (unknown methods are
/// `_OTHER`, unmatched paths have no route); and with a route function that
/// (wrongly) returns the raw path, the store keeps its cardinality limit and
/// counts the rest in the overflow series. Memory measured before and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_paths_and_methods_keep_the_series_bounded() {
    use tower::ServiceExt as _;
    sdk();
    const N: usize = 100_000;
    let rss = || -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        statm.split(' ').nth(1).unwrap().parse::<u64>().unwrap() * 4096
    };
    // Spans sampled (so measurements offer exemplars) but kept nowhere: the
    // memory measured is the layers' and the stores'.
    let provider =
        distributed_tracing::opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let folded = RequestMetrics::new();
    let raw_paths = RequestMetrics::with_cardinality_limit(1000);
    let app_folded = app(ServerTraceLayer::new()
        .tracer_provider(&provider)
        .request_metrics(&folded));
    // A route function that returns the path itself: a user's mistake the
    // cardinality limit bounds.
    let app_raw_routes = Router::new().fallback(|| async { "any" }).layer(
        ServerTraceLayer::new()
            .tracer_provider(&provider)
            .request_metrics(&raw_paths)
            .route_fn(|ext| ext.get::<http::Uri>().map(|u| u.path().to_owned())),
    );
    let before = rss();
    for i in 0..N {
        let method = format!("M{i}");
        let request = http::Request::builder()
            .method(method.as_str())
            .uri(format!("/nope/{i}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app_folded.clone().oneshot(request).await.unwrap();
        drop(axum::body::to_bytes(response.into_body(), usize::MAX).await);
        let mut request = http::Request::builder()
            .uri(format!("/raw/{i}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let uri = request.uri().clone();
        request.extensions_mut().insert(uri);
        let response = app_raw_routes.clone().oneshot(request).await.unwrap();
        drop(axum::body::to_bytes(response.into_body(), usize::MAX).await);
    }
    let after = rss();
    let series = folded.series_count(Instrument::HttpServer);
    assert!(
        series <= 2,
        "unmatched paths and unknown methods fold into a few series: {series}"
    );
    let points = folded.collect(Temporality::Cumulative).remove(0).points;
    assert_eq!(points.iter().map(|p| p.count).sum::<u64>(), N as u64);
    assert!(points
        .iter()
        .all(|p| text(p, "http.request.method").as_deref() == Some("_OTHER")));

    assert_eq!(raw_paths.series_count(Instrument::HttpServer), 1000);
    let points = raw_paths.collect(Temporality::Cumulative).remove(0).points;
    let overflow = points
        .iter()
        .find(|p| p.attribute(OVERFLOW_ATTRIBUTE) == Some(&Value::Bool(true)))
        .expect("the overflow series");
    assert_eq!(overflow.attributes.len(), 1);
    assert_eq!(overflow.count, (N - 999) as u64, "the rest, counted");
    assert_eq!(points.iter().map(|p| p.count).sum::<u64>(), N as u64);
    eprintln!(
        "cardinality: {series} series for {N} distinct unmatched paths and methods; 1000 (999 + overflow) for {N} distinct raw routes; resident memory {} KiB before, {} KiB after",
        before / 1024,
        after / 1024
    );
    // 1,000 series of a few hundred bytes each (and their exemplars), plus
    // what the runtime and the allocator keep: far below what 100,000 series
    // would take.
    assert!(
        after.saturating_sub(before) < 32 * 1024 * 1024,
        "{before} -> {after}"
    );
}

#[cfg(feature = "reqwest")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_calls_are_measured_with_the_server_address() {
    use distributed_tracing::middleware::ClientTraceMiddleware;
    sdk();
    let server_metrics = RequestMetrics::new();
    let client_metrics = RequestMetrics::new();
    let addr = serve(app(ServerTraceLayer::new().request_metrics(&server_metrics))).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ClientTraceMiddleware::new().request_metrics(&client_metrics))
        .build();
    let _trace = distributed_tracing::DistributedTraceContext::from_ids(
        Some(distributed_tracing::parse_trace_id(TID_CLIENT).unwrap()),
        None,
    )
    .enter();
    for path in ["/users/1", "/fail"] {
        client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
    }
    drop(_trace);
    let points = points(&client_metrics, Instrument::HttpClient, 2).await;
    let ok = points
        .iter()
        .find(|p| p.attribute("http.response.status_code") == Some(&Value::I64(200)))
        .unwrap();
    let keys: Vec<&str> = ok.attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "http.request.method",
            "server.address",
            "server.port",
            "http.response.status_code",
            "network.protocol.version"
        ]
    );
    assert_eq!(text(ok, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        ok.attribute("server.port"),
        Some(&Value::I64(i64::from(addr.port())))
    );
    let fail = points
        .iter()
        .find(|p| p.attribute("http.response.status_code") == Some(&Value::I64(500)))
        .unwrap();
    assert_eq!(text(fail, "error.type").as_deref(), Some("500"));
    // The client's exemplar is its CLIENT span.
    let client_span = spans_of(trace_of(TID_CLIENT))
        .into_iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .unwrap();
    assert!(ok
        .exemplars
        .iter()
        .chain(&fail.exemplars)
        .any(|e| e.span_id == client_span.span_context.span_id()));
}
