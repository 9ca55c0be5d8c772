//! The server layer on a real axum server on 127.0.0.1: incoming
//! `traceparent` valid (continued), invalid or absent (new trace), each trust
//! policy, `tracestate` carried through a hop, `traceresponse`, status and
//! route attributes, and the handler seeing the request's trace everywhere.

use crate::common;

use std::net::SocketAddr;

use axum::extract::MatchedPath;
use axum::routing::get;
use axum::Router;
use common::{hex_span, hex_trace, sdk, span_of, spans_of, trace_of};
use distributed_tracing::compat::{get_span_id, get_trace_context_dict, get_trace_id};
use distributed_tracing::middleware::{ServerTraceLayer, Trust};
use distributed_tracing::opentelemetry::trace::{SpanId, SpanKind, Status};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SID: &str = "00f067aa0ba902b7";

/// What the handler saw, as JSON.
async fn whoami() -> axum::Json<serde_json::Value> {
    tokio::task::yield_now().await;
    let dict = get_trace_context_dict();
    let mut outgoing = http::HeaderMap::new();
    distributed_tracing::inject_trace_context(&mut outgoing);
    let spawned = distributed_tracing::spawn(async { get_trace_id() })
        .await
        .unwrap();
    axum::Json(serde_json::json!({
        "trace_id": get_trace_id(),
        "span_id": get_span_id(),
        "tracestate": dict.tracestate,
        "baggage": outgoing.get("baggage").map(|v| v.to_str().unwrap().to_string()),
        "spawned": spawned,
    }))
}

async fn fail() -> http::StatusCode {
    http::StatusCode::INTERNAL_SERVER_ERROR
}

async fn bad() -> http::StatusCode {
    http::StatusCode::BAD_REQUEST
}

fn peer(ext: &http::Extensions) -> Option<SocketAddr> {
    ext.get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

fn route(ext: &http::Extensions) -> Option<String> {
    ext.get::<MatchedPath>().map(|p| p.as_str().to_owned())
}

async fn serve(
    layer: ServerTraceLayer<impl distributed_tracing::middleware::TrustPolicy>,
) -> SocketAddr {
    // The documented set-up: `layer`, not `route_layer`, so that requests
    // no route matches (404) are traced too.
    let app = Router::new()
        .route("/users/{id}", get(whoami))
        .route("/fail", get(fail))
        .route("/bad", get(bad))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                "late"
            }),
        )
        .layer(layer.route_fn(route).peer_fn(peer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    addr
}

/// A plain HTTP/1.1 GET with the given headers (hyper's client via reqwest
/// would inject our own context; this sends exactly what the test says).
async fn get_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, serde_json::Value) {
    request_with(addr, "GET", path, headers).await
}

/// A plain HTTP/1.1 request with the given method and headers.
async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut map = http::HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(": ").unwrap();
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, map, json)
}

/// Waits for the server span of `trace` (it ends when the body is sent).
async fn server_span(trace: &str) -> distributed_tracing::opentelemetry_sdk::trace::SpanData {
    for _ in 0..100 {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_traceparent_is_continued_with_tracestate_and_baggage() {
    sdk();
    let addr = serve(ServerTraceLayer::new().traceresponse(true)).await;
    let tp = format!("00-{TID}-{SID}-01");
    let (status, headers, seen) = get_with(
        addr,
        "/users/7",
        &[
            ("traceparent", &tp),
            ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            ("baggage", "tenant=acme"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        seen["trace_id"], TID,
        "the handler runs in the caller's trace"
    );
    assert_eq!(seen["spawned"], TID, "and so do tasks it spawns");
    assert_eq!(
        seen["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        "tracestate carried through unchanged"
    );
    assert_eq!(
        seen["baggage"], "tenant=acme",
        "baggage of a trusted caller is kept"
    );
    let span = server_span(TID).await;
    assert_eq!(
        hex_span(span.span_context.span_id()),
        seen["span_id"].as_str().unwrap()
    );
    assert_eq!(
        span.parent_span_id,
        span_of(SID),
        "a child of the caller's span"
    );
    assert!(span.parent_span_is_remote);
    assert_eq!(span.name, "GET /users/{id}");
    let attr = |k: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(attr("http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(attr("url.path").as_deref(), Some("/users/7"));
    assert_eq!(attr("http.response.status_code").as_deref(), Some("200"));
    assert_eq!(
        headers["traceresponse"].to_str().unwrap(),
        format!("00-{TID}-{}-01", seen["span_id"].as_str().unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_or_absent_traceparent_starts_a_new_trace() {
    sdk();
    let addr = serve(ServerTraceLayer::new()).await;
    for headers in [
        vec![],
        vec![(
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        )],
        vec![("traceparent", "garbage")],
    ] {
        let (status, _, seen) = get_with(addr, "/users/1", &headers).await;
        assert_eq!(status, 200);
        let trace = seen["trace_id"].as_str().expect("a new trace").to_string();
        assert_ne!(trace.to_lowercase(), TID);
        let span = server_span(&trace).await;
        assert_eq!(span.parent_span_id, SpanId::INVALID, "a root: {headers:?}");
        assert_eq!(hex_trace(span.span_context.trace_id()), trace);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_callers_are_linked_not_continued() {
    sdk();
    let addr = serve(ServerTraceLayer::new().trust(Trust::NewTraceWithLink)).await;
    // An unsampled caller cannot switch sampling off, nor a sampled one force it;
    // baggage is dropped.
    let tp = format!("00-{TID}-{SID}-00");
    let (_, _, seen) = get_with(
        addr,
        "/users/1",
        &[("traceparent", &tp), ("baggage", "role=admin")],
    )
    .await;
    let trace = seen["trace_id"].as_str().unwrap().to_string();
    assert_ne!(trace, TID, "a new trace");
    assert!(
        seen["baggage"].is_null(),
        "untrusted baggage dropped: {seen}"
    );
    let span = server_span(&trace).await;
    assert!(
        span.span_context.is_sampled(),
        "our sampler decided, not the caller's flag"
    );
    assert_eq!(span.parent_span_id, SpanId::INVALID);
    assert_eq!(span.links.links.len(), 1);
    assert_eq!(hex_trace(span.links.links[0].span_context.trace_id()), TID);
    assert_eq!(hex_span(span.links.links[0].span_context.span_id()), SID);

    let addr = serve(ServerTraceLayer::new().trust(Trust::Ignore)).await;
    let (_, _, seen) = get_with(addr, "/users/1", &[("traceparent", &tp)]).await;
    let trace = seen["trace_id"].as_str().unwrap().to_string();
    assert_ne!(trace, TID);
    assert!(server_span(&trace).await.links.links.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_is_decided_per_request() {
    sdk();
    // Trust only callers that present an internal header (a stand-in for a
    // peer-address check on `ConnectInfo`).
    let policy = |headers: &http::HeaderMap, _: &http::Extensions| match headers
        .contains_key("x-internal")
    {
        true => Trust::Continue,
        false => Trust::NewTraceWithLink,
    };
    let addr = serve(ServerTraceLayer::new().trust(policy)).await;
    let tp = format!("00-{TID}-{SID}-01");
    let (_, _, inside) = get_with(
        addr,
        "/users/1",
        &[("traceparent", &tp), ("x-internal", "1")],
    )
    .await;
    let (_, _, outside) = get_with(addr, "/users/1", &[("traceparent", &tp)]).await;
    assert_eq!(inside["trace_id"], TID);
    assert_ne!(outside["trace_id"], TID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_mark_the_span() {
    sdk();
    let addr = serve(ServerTraceLayer::new()).await;
    let trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let tp = format!("00-{trace}-{SID}-01");
    let (status, _, _) = get_with(addr, "/fail", &[("traceparent", &tp)]).await;
    assert_eq!(status, 500);
    let span = server_span(trace).await;
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    assert_eq!(span.name, "GET /fail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_each_see_their_own_trace() {
    sdk();
    let addr = serve(ServerTraceLayer::new()).await;
    let requests = (0..1000u128).map(|i| async move {
        let trace = format!("{:032x}", 0xabc0_0000_0000_0000u128 + i);
        let tp = format!("00-{trace}-{SID}-01");
        let (status, _, seen) =
            get_with(addr, &format!("/users/{i}"), &[("traceparent", &tp)]).await;
        assert_eq!(status, 200);
        assert_eq!(seen["trace_id"], trace.as_str(), "request {i}");
        assert_eq!(seen["spawned"], trace.as_str(), "request {i}'s task");
    });
    let mut set = tokio::task::JoinSet::new();
    for r in requests {
        set.spawn(r);
    }
    let mut done = 0;
    while let Some(r) = set.join_next().await {
        r.unwrap();
        done += 1;
    }
    assert_eq!(done, 1000);
}

/// The attributes of a span as `key -> value` texts.
fn attributes_of(
    span: &distributed_tracing::opentelemetry_sdk::trace::SpanData,
) -> std::collections::BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

/// (method, path, status, span name, route, error.type, why)
type Outcome<'a> = (
    &'a str,
    &'a str,
    u16,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
);

/// One request per outcome, on the documented axum set-up (`layer` with a
/// `route_fn` and a `peer_fn`): the span's name, its attributes (the whole
/// set), its status and description, and what a sampler saw at its start.
#[rustfmt::skip]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_has_the_conventions_attributes_and_status() {
    sdk();
    let addr = serve(ServerTraceLayer::new()).await;
    let port = addr.port().to_string();
    let cases: &[Outcome<'_>] = &[
        ("GET", "/users/7?x=1", 200, "GET /users/{id}", Some("/users/{id}"), None, "success"),
        ("GET", "/bad", 400, "GET /bad", Some("/bad"), None, "4xx: unset on a server"),
        ("GET", "/fail", 500, "GET /fail", Some("/fail"), Some("500"), "5xx: an error"),
        ("GET", "/nowhere", 404, "GET", None, None, "unmatched route: traced, no route"),
        ("FOO", "/users/7", 405, "HTTP /users/{id}", Some("/users/{id}"), None, "unknown method"),
    ];
    for (i, (method, path, status, name, route, error_type, why)) in cases.iter().enumerate() {
        let trace = format!("{:032x}", 0x7e57_0000_0000_0000_0000_0000_0000_0000u128 + i as u128);
        let tp = format!("00-{trace}-{SID}-01");
        let (got, _, _) = request_with(addr, method, path, &[("traceparent", &tp), ("user-agent", "table/1")]).await;
        assert_eq!(got, *status, "{why}");
        let span = server_span(&trace).await;
        assert_eq!(span.name, *name, "{why}");
        let attributes = attributes_of(&span);
        let peer_port = attributes.get("network.peer.port").cloned().unwrap_or_default();
        assert!(peer_port.parse::<u16>().is_ok(), "{why}: {attributes:?}");
        let (url_path, query) = path.split_once('?').map_or((*path, None), |(p, q)| (p, Some(q)));
        let known = *method == "GET";
        let mut expected: Vec<(&str, &str)> = vec![
            ("http.request.method", if known { method } else { "_OTHER" }),
            ("url.path", url_path),
            ("url.scheme", "http"),
            ("server.address", "127.0.0.1"),
            ("server.port", &port),
            ("network.peer.address", "127.0.0.1"),
            ("network.peer.port", &peer_port),
            ("client.address", "127.0.0.1"),
            ("user_agent.original", "table/1"),
            ("network.protocol.version", "1.1"),
        ];
        let code = status.to_string();
        expected.push(("http.response.status_code", &code));
        if !known {
            expected.push(("http.request.method_original", method));
        }
        if let Some(q) = query {
            expected.push(("url.query", q));
        }
        if let Some(route) = route {
            expected.push(("http.route", route));
        }
        if let Some(error_type) = error_type {
            expected.push(("error.type", error_type));
        }
        let expected: std::collections::BTreeMap<String, String> =
            expected.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        assert_eq!(attributes, expected, "{why}");
        assert_eq!(span.attributes.len(), expected.len(), "{why}: no key twice");
        match error_type {
            // The status code says it all: no description.
            Some(_) => assert_eq!(span.status, Status::error(""), "{why}"),
            None => assert_eq!(span.status, Status::Unset, "{why}"),
        }
        // The sampler saw the sampling-relevant attributes at the start.
        let (seen_name, seen) = common::seen_by_sampler(trace_of(&trace), SpanKind::Server).expect(why);
        assert_eq!(seen_name, *name, "{why}");
        for key in ["http.request.method", "url.path", "url.scheme", "server.address", "server.port"] {
            assert_eq!(
                seen.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()),
                Some(expected[key].as_str()),
                "{why}: {key} at the start"
            );
        }
        assert_eq!(
            seen.iter().find(|(k, _)| k == "http.route").map(|(_, v)| v.as_str()),
            *route,
            "{why}: the route at the start"
        );
    }
}

/// Proxies' headers are ignored by default (a caller cannot choose its
/// `client.address`), and believed when the layer is told to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_believed_only_when_told() {
    use distributed_tracing::middleware::Forwarded;
    sdk();
    let proxy_headers = |trace: &str| {
        vec![
            ("traceparent".to_owned(), format!("00-{trace}-{SID}-01")),
            (
                "x-forwarded-for".to_owned(),
                "203.0.113.9, 10.0.0.2".to_owned(),
            ),
            ("x-forwarded-proto".to_owned(), "https".to_owned()),
            ("forwarded".to_owned(), "host=shop.example".to_owned()),
        ]
    };
    // (policy, client.address, url.scheme, server.address, server.port)
    let cases = [
        (Forwarded::Ignore, "127.0.0.1", "http", "127.0.0.1", None),
        (
            Forwarded::Believe,
            "203.0.113.9",
            "https",
            "shop.example",
            Some("443"),
        ),
        (
            Forwarded::BelieveWhen(|_, ext| {
                peer(ext).is_some_and(|p| p.ip() == std::net::Ipv4Addr::new(10, 0, 0, 2))
            }),
            "127.0.0.1",
            "http",
            "127.0.0.1",
            None,
        ),
    ];
    for (i, (policy, client, scheme, server, server_port)) in cases.into_iter().enumerate() {
        let addr = serve(ServerTraceLayer::new().forwarded(policy)).await;
        let trace = format!(
            "{:032x}",
            0xf0e0_0000_0000_0000_0000_0000_0000_0000u128 + i as u128
        );
        let headers = proxy_headers(&trace);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, _, _) = get_with(addr, "/users/1", &headers).await;
        assert_eq!(status, 200);
        let attributes = attributes_of(&server_span(&trace).await);
        let port = addr.port().to_string();
        assert_eq!(attributes["client.address"], client, "{policy:?}");
        assert_eq!(
            attributes["network.peer.address"], "127.0.0.1",
            "{policy:?}"
        );
        assert_eq!(attributes["url.scheme"], scheme, "{policy:?}");
        assert_eq!(attributes["server.address"], server, "{policy:?}");
        assert_eq!(
            attributes["server.port"],
            server_port.unwrap_or(&port),
            "{policy:?}"
        );
    }
}

/// A service that fails (no response at all): the error's words are the
/// description, `error.type` names the failure; `.scheme("https")` for a
/// server behind TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_is_described_by_its_words() {
    use tower::{service_fn, Layer as _, ServiceExt as _};
    sdk();
    let trace = "6cf92f3577b34da6a3ce929d0e0e4736";
    let service = ServerTraceLayer::new().scheme("https").layer(service_fn(
        |_: http::Request<String>| async {
            Err::<http::Response<String>, _>("the database is gone")
        },
    ));
    let request = http::Request::get("/x")
        .header("host", "api.example:8443")
        .header("traceparent", format!("00-{trace}-{SID}-01"))
        .body(String::new())
        .unwrap();
    assert!(service.oneshot(request).await.is_err());
    let span = server_span(trace).await;
    assert_eq!(span.status, Status::error("the database is gone"));
    let attributes = attributes_of(&span);
    assert_eq!(attributes["error.type"], "handler_error");
    assert_eq!(attributes["url.scheme"], "https");
    assert_eq!(attributes["server.address"], "api.example");
    assert_eq!(attributes["server.port"], "8443");
    assert!(!attributes.contains_key("http.response.status_code"));
}

/// gRPC's sampling-relevant attributes are in the span's builder: a
/// sampler sees `rpc.system.name`, `rpc.method`, `server.address` and
/// `server.port` when the SERVER and the CLIENT span start.
#[cfg(feature = "grpc")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampler_sees_the_grpc_attributes_at_the_start() {
    use distributed_tracing::middleware::{GrpcClientLayer, GrpcServerLayer};
    use tower::{service_fn, Layer as _, ServiceExt as _};
    sdk();
    let answer = service_fn(|_: http::Request<String>| async {
        let mut response = http::Response::new(String::new());
        response
            .headers_mut()
            .insert("grpc-status", http::HeaderValue::from_static("0"));
        Ok::<_, std::convert::Infallible>(response)
    });
    let trace = "7cf92f3577b34da6a3ce929d0e0e4736";
    let request = http::Request::post("http://inventory.internal:50051/demo.Inventory/Check")
        .header("traceparent", format!("00-{trace}-{SID}-01"))
        .body(String::new())
        .unwrap();
    GrpcServerLayer::new()
        .layer(answer)
        .oneshot(request)
        .await
        .unwrap();
    let root = distributed_tracing::DistributedTraceContext::new_root("test");
    let client_trace = root.trace_id().to_string();
    let request = http::Request::post("/demo.Inventory/Check")
        .body(String::new())
        .unwrap();
    root.scope(
        GrpcClientLayer::new()
            .server("inventory.internal", Some(50051))
            .layer(answer)
            .oneshot(request),
    )
    .await
    .unwrap();
    for (trace, kind) in [(trace, SpanKind::Server), (&client_trace, SpanKind::Client)] {
        let (name, seen) = common::seen_by_sampler(trace_of(trace), kind.clone()).expect("started");
        assert_eq!(name, "demo.Inventory/Check", "{kind:?}");
        for (key, value) in [
            ("rpc.system.name", "grpc"),
            ("rpc.method", "demo.Inventory/Check"),
            ("server.address", "inventory.internal"),
            ("server.port", "50051"),
        ] {
            assert_eq!(
                seen.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()),
                Some(value),
                "{kind:?}: {key} at the start"
            );
        }
    }
}

/// A caller that goes away before the answer: hyper drops the handler, and
/// the span ends then, with no status code, unset (not the server's error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_caller_went_away_ends_unset() {
    use tokio::io::AsyncWriteExt;
    sdk();
    let addr = serve(ServerTraceLayer::new()).await;
    let trace = "8cf92f3577b34da6a3ce929d0e0e4736";
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET /slow HTTP/1.1\r\nHost: {addr}\r\ntraceparent: 00-{trace}-{SID}-01\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(stream);
    let span = server_span(trace).await;
    assert_eq!(span.name, "GET /slow");
    assert_eq!(span.status, Status::Unset);
    let attributes = attributes_of(&span);
    assert!(!attributes.contains_key("http.response.status_code"));
    assert!(!attributes.contains_key("error.type"));
    assert_eq!(attributes["http.route"], "/slow");
}
