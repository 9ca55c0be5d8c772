//! What a request can put into the server span, on a real axum server on
//! 127.0.0.1: every value copied from the request (user agent, path, query,
//! route, method) cut to the cap at a character boundary, even from the
//! largest request head hyper admits; a custom cap; unknown methods recorded
//! as `_OTHER` in a span named `HTTP`; signature values in the query redacted.

use crate::common;

use std::net::SocketAddr;

use axum::extract::MatchedPath;
use axum::routing::any;
use axum::Router;
use common::{sdk, spans_of, trace_of};
use distributed_tracing::middleware::{ServerTraceLayer, DEFAULT_MAX_ATTRIBUTE_LEN};
use distributed_tracing::opentelemetry::trace::SpanKind;
use distributed_tracing::opentelemetry::Value;
use distributed_tracing::opentelemetry_sdk::trace::SpanData;

const SID: &str = "00f067aa0ba902b7";

/// The largest request head hyper's HTTP/1 server reads by default (its
/// `DEFAULT_MAX_BUFFER_SIZE`, 8192 + 4096 * 100 bytes; `axum::serve` keeps
/// it): a longer head is answered 431. A header value may fill all of it.
const HYPER_MAX_HEAD: usize = 8192 + 4096 * 100;

/// The longest request target the `http` crate parses (`u16::MAX - 1` bytes);
/// a longer one is answered 414.
const HTTP_MAX_URI: usize = u16::MAX as usize - 1;

fn route(ext: &http::Extensions) -> Option<String> {
    ext.get::<MatchedPath>().map(|p| p.as_str().to_owned())
}

/// A server whose `/long/{*rest}` route answers any method, with `layer`
/// (and the route) on it.
async fn serve(layer: ServerTraceLayer) -> SocketAddr {
    let app = Router::new()
        .route("/long/{*rest}", any(|| async { "ok" }))
        .route_layer(layer.route_fn(route));
    start(app).await
}

/// A server with `layer` on every request and no route template.
async fn serve_without_routes(layer: ServerTraceLayer) -> SocketAddr {
    start(Router::new().fallback(|| async { "ok" }).layer(layer)).await
}

async fn start(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends exactly this HTTP/1.1 request head (`target` may hold raw UTF-8,
/// which hyper and `http` accept) in trace `trace`; returns the status and
/// the request head's length.
async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    trace: &str,
    headers: &[(&str, &str)],
) -> (u16, usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         traceparent: 00-{trace}-{SID}-01\r\n"
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, request.len())
}

/// Waits for the server span of `trace` (it ends when the body is sent).
async fn server_span(trace: &str) -> SpanData {
    for _ in 0..200 {
        if let Some(s) = spans_of(trace_of(trace))
            .into_iter()
            .find(|s| s.span_kind == SpanKind::Server)
        {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no server span for {trace}");
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// Every string attribute of the span, with its key.
fn strings(span: &SpanData) -> Vec<(String, String)> {
    span.attributes
        .iter()
        .filter_map(|kv| match &kv.value {
            Value::String(s) => Some((kv.key.as_str().to_owned(), s.as_str().to_owned())),
            _ => None,
        })
        .collect()
}

/// `len` bytes: `fill` up to `at`, then `ch` (which starts at byte `at`),
/// then `fill` again.
fn with_char_at(prefix: &str, fill: char, at: usize, ch: char, len: usize) -> String {
    let mut s = String::with_capacity(len);
    s.push_str(prefix);
    while s.len() < at {
        s.push(fill);
    }
    s.push(ch);
    while s.len() < len {
        s.push(fill);
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_values_are_cut_at_a_character_boundary_under_the_cap() {
    sdk();
    let cap = DEFAULT_MAX_ATTRIBUTE_LEN;
    let addr = serve(ServerTraceLayer::new()).await;
    let trace = "c1000000000000000000000000000001";
    // Path and query share the request target's 64 KiB; each has a
    // character straddling the cut: 3 bytes in the path, 4 in the query.
    let path = with_char_at("/long/", 'p', cap - 2, '€', 30 * 1024);
    let query = with_char_at("x=", 'q', cap - 3, '😀', 30 * 1024);
    let target = format!("{path}?{query}");
    assert!(target.len() < HTTP_MAX_URI);
    // The user agent fills what is left of the largest head hyper reads, with
    // a 2-byte character straddling the cut.
    let rest = HYPER_MAX_HEAD - target.len() - 1024;
    let agent = with_char_at("", 'a', cap - 1, 'é', rest);
    let (status, head) = send(addr, "GET", &target, trace, &[("User-Agent", &agent)]).await;
    assert_eq!(status, 200, "hyper admitted the request");
    assert!(head > HYPER_MAX_HEAD - 2048, "a head of {head} bytes");

    let span = server_span(trace).await;
    assert_eq!(
        attr(&span, "user_agent.original").as_deref(),
        Some(&agent[..cap - 1]),
        "the user agent cut before its 2-byte character"
    );
    assert_eq!(
        attr(&span, "url.path").as_deref(),
        Some(&path[..cap - 2]),
        "the path cut before its 3-byte character"
    );
    assert_eq!(
        attr(&span, "url.query").as_deref(),
        Some(&query[..cap - 3]),
        "the query cut before its 4-byte character"
    );
    assert_eq!(attr(&span, "http.route").as_deref(), Some("/long/{*rest}"));
    assert_eq!(span.name, "GET /long/{*rest}");
    for (key, value) in strings(&span) {
        assert!(value.len() <= cap, "{key}: {} bytes", value.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_cap_applies_to_every_value() {
    sdk();
    let cap = 8;
    let addr = serve(ServerTraceLayer::new().max_attribute_len(cap)).await;
    let trace = "c1000000000000000000000000000002";
    let (status, _) = send(
        addr,
        "FOOBARBAZ",
        "/long/abcdefgh?a=123456789",
        trace,
        &[("User-Agent", "curl/8.5.0 (x86_64)")],
    )
    .await;
    assert_eq!(status, 200);
    let span = server_span(trace).await;
    for (key, expected) in [
        ("user_agent.original", "curl/8.5"),
        ("url.path", "/long/ab"),
        ("url.query", "a=123456"),
        ("http.route", "/long/{*"),
        ("http.request.method", "_OTHER"),
        ("http.request.method_original", "FOOBARBA"),
    ] {
        assert_eq!(attr(&span, key).as_deref(), Some(expected), "{key}");
    }
    assert_eq!(
        span.name, "HTTP /long/{*",
        "the span name holds the cut route"
    );
    for (key, value) in strings(&span) {
        assert!(value.len() <= cap, "{key}: {value:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_method_is_other_and_names_the_span_http() {
    sdk();
    let routed = serve(ServerTraceLayer::new()).await;
    let unrouted = serve_without_routes(ServerTraceLayer::new()).await;
    let custom = serve(ServerTraceLayer::new().known_methods(&["GET", "FOOBAR"])).await;
    // (server, method, trace, http.request.method, method_original, span name)
    let cases = [
        (
            routed,
            "FOOBAR",
            "c1",
            "_OTHER",
            Some("FOOBAR"),
            "HTTP /long/{*rest}",
        ),
        (unrouted, "FOOBAR", "c2", "_OTHER", Some("FOOBAR"), "HTTP"),
        (
            routed,
            "get",
            "c3",
            "_OTHER",
            Some("get"),
            "HTTP /long/{*rest}",
        ),
        (routed, "PATCH", "c4", "PATCH", None, "PATCH /long/{*rest}"),
        (unrouted, "DELETE", "c5", "DELETE", None, "DELETE"),
        (
            custom,
            "FOOBAR",
            "c6",
            "FOOBAR",
            None,
            "FOOBAR /long/{*rest}",
        ),
        (
            custom,
            "POST",
            "c7",
            "_OTHER",
            Some("POST"),
            "HTTP /long/{*rest}",
        ),
    ];
    for (addr, method, id, value, original, name) in cases {
        let trace = format!("{id}{:030x}", 3);
        let (status, _) = send(addr, method, "/long/x", &trace, &[]).await;
        assert_eq!(status, 200, "{method}");
        let span = server_span(&trace).await;
        assert_eq!(span.name, name, "{method}");
        assert_eq!(attr(&span, "http.request.method").as_deref(), Some(value));
        assert_eq!(
            attr(&span, "http.request.method_original").as_deref(),
            original,
            "{method}: the original only when it differs"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_values_in_the_query_are_redacted() {
    sdk();
    let addr = serve(ServerTraceLayer::new()).await;
    let trace = "c1000000000000000000000000000004";
    let (status, _) = send(
        addr,
        "GET",
        "/long/object?AWSAccessKeyId=AKIAEXAMPLE&Signature=s3cr3t&Expires=1700000000\
         &sig=azure-sig&X-Goog-Signature=g00g&signature=kept&id=7",
        trace,
        &[],
    )
    .await;
    assert_eq!(status, 200);
    let span = server_span(trace).await;
    assert_eq!(
        attr(&span, "url.query").as_deref(),
        Some(
            "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1700000000\
             &sig=REDACTED&X-Goog-Signature=REDACTED&signature=kept&id=7"
        ),
        "the keys the semantic conventions list, matched case-sensitively"
    );
    for (key, value) in strings(&span) {
        for secret in ["AKIAEXAMPLE", "s3cr3t", "azure-sig", "g00g"] {
            assert!(!value.contains(secret), "{key} = {value}");
        }
    }

    let trace = "c1000000000000000000000000000005";
    send(addr, "GET", "/long/object", trace, &[]).await;
    let span = server_span(trace).await;
    assert_eq!(attr(&span, "url.query"), None, "no query, no url.query");
}
