//! What a call can put into the CLIENT span of `ClientTraceMiddleware`, calling a
//! real axum server on 127.0.0.1: `url.full` without the URL's credentials and
//! with signature values redacted, cut to the cap (default and custom); an
//! unknown method recorded as `_OTHER` in a span named `HTTP`; a failed call's
//! error status without the credentials.

use crate::common;

use std::net::SocketAddr;

use axum::routing::any;
use axum::Router;
use common::{sdk, spans_of, trace_of};
use distributed_tracing::middleware::{ClientTraceMiddleware, DEFAULT_MAX_ATTRIBUTE_LEN};
use distributed_tracing::opentelemetry::trace::{SpanKind, Status};
use distributed_tracing::opentelemetry_sdk::trace::SpanData;
use distributed_tracing::DistributedTraceContext;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

async fn serve() -> SocketAddr {
    let app = Router::new().fallback(any(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn client(middleware: ClientTraceMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

/// Sends `request` in a new trace and returns the CLIENT span of the call.
async fn call(
    client: &ClientWithMiddleware,
    request: reqwest::Request,
) -> (reqwest_middleware::Result<reqwest::Response>, SpanData) {
    let root = DistributedTraceContext::new_root("test");
    let trace = root.trace_id().to_string();
    let result = root.scope(client.execute(request)).await;
    let span = spans_of(trace_of(&trace))
        .into_iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("the client span ends before the call returns");
    (result, span)
}

fn get(url: &str) -> reqwest::Request {
    reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap())
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_full_has_no_credentials_and_no_signatures() {
    sdk();
    let addr = serve().await;
    let client = client(ClientTraceMiddleware::default());
    let url = format!(
        "http://user:secret@{addr}/object?AWSAccessKeyId=AKIAEXAMPLE&Signature=s3cr3t\
         &sig=azure-sig&X-Goog-Signature=g00g&id=7"
    );
    let expected = format!(
        "http://REDACTED:REDACTED@{addr}/object?AWSAccessKeyId=REDACTED&Signature=REDACTED\
         &sig=REDACTED&X-Goog-Signature=REDACTED&id=7"
    );
    // A `reqwest::Request` keeps the credentials in its URL.
    let (result, span) = call(&client, get(&url)).await;
    assert_eq!(result.unwrap().status(), 200);
    assert_eq!(attr(&span, "url.full"), Some(expected));
    assert_eq!(attr(&span, "server.address"), Some("127.0.0.1".into()));
    assert_eq!(span.name, "GET");

    // `RequestBuilder` moves them into an `Authorization` header first.
    let request = client.get(&url).build().unwrap();
    let (_, span) = call(&client, request).await;
    let full = attr(&span, "url.full").unwrap();
    assert!(full.starts_with(&format!("http://{addr}/object?AWSAccessKeyId=REDACTED&")));
    for kv in &span.attributes {
        let value = kv.value.as_str();
        for secret in ["secret", "AKIAEXAMPLE", "s3cr3t", "azure-sig", "g00g"] {
            assert!(!value.contains(secret), "{} = {value}", kv.key);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_full_is_cut_to_the_cap() {
    sdk();
    let addr = serve().await;
    // Non-ASCII is percent-encoded in a URL, so `url.full` is ASCII: the cut
    // can fall inside an escape, never inside a character. (45 KB: hyper
    // sends at most 64 KiB of request target.)
    let url = format!("http://{addr}/{}?sig=abc", "€".repeat(5_000));
    let (result, span) = call(&client(ClientTraceMiddleware::default()), get(&url)).await;
    assert_eq!(result.unwrap().status(), 200);
    let full = attr(&span, "url.full").unwrap();
    let sent: reqwest::Url = url.parse().unwrap();
    assert_eq!(full.len(), DEFAULT_MAX_ATTRIBUTE_LEN);
    assert_eq!(full, sent.as_str()[..DEFAULT_MAX_ATTRIBUTE_LEN]);

    let cap = 40;
    let middleware = ClientTraceMiddleware::new().max_attribute_len(cap);
    let url = format!("http://u:p@{addr}/a?sig=abc");
    let (_, span) = call(&client(middleware), get(&url)).await;
    let full = attr(&span, "url.full").unwrap();
    assert_eq!(
        full,
        format!("http://REDACTED:REDACTED@{addr}/a?sig=REDACTED")[..cap]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_method_is_other_and_names_the_span_http() {
    sdk();
    let addr = serve().await;
    let url: reqwest::Url = format!("http://{addr}/x").parse().unwrap();
    // (middleware, method, http.request.method, method_original, span name)
    let cases = [
        (
            ClientTraceMiddleware::new(),
            "FOOBAR",
            "_OTHER",
            Some("FOOBAR"),
            "HTTP",
        ),
        (
            ClientTraceMiddleware::new(),
            "PATCH",
            "PATCH",
            None,
            "PATCH",
        ),
        (
            ClientTraceMiddleware::new().max_attribute_len(3),
            "FOOBAR",
            "_OTHER",
            Some("FOO"),
            "HTTP",
        ),
        (
            ClientTraceMiddleware::new().known_methods(&["FOOBAR"]),
            "FOOBAR",
            "FOOBAR",
            None,
            "FOOBAR",
        ),
    ];
    for (middleware, method, value, original, name) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = reqwest::Request::new(method.clone(), url.clone());
        let (result, span) = call(&client(middleware), request).await;
        assert_eq!(result.unwrap().status(), 200, "{method}");
        assert_eq!(span.name, name, "{method}");
        assert_eq!(attr(&span, "http.request.method").as_deref(), Some(value));
        assert_eq!(
            attr(&span, "http.request.method_original").as_deref(),
            original,
            "{method}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_call_reports_no_credentials() {
    sdk();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://user:secret@{closed}/?sig=abc");
    let (result, span) = call(&client(ClientTraceMiddleware::default()), get(&url)).await;
    let error = result.unwrap_err();
    assert!(
        error.to_string().contains("secret"),
        "reqwest's message: {error}"
    );
    let Status::Error { description } = &span.status else {
        panic!("{:?}", span.status);
    };
    assert!(
        !description.contains("secret") && !description.contains("abc"),
        "{description}"
    );
    assert!(description.contains("REDACTED:REDACTED@"), "{description}");
    assert_eq!(attr(&span, "error.type").as_deref(), Some("connect"));
}

/// A server answering by path: `/bad` 404, `/fail` 503, `/slow` after 10 s,
/// anything else 200, for any method.
async fn serve_outcomes() -> SocketAddr {
    let app = Router::new().fallback(any(|uri: http::Uri| async move {
        match uri.path() {
            "/bad" => http::StatusCode::NOT_FOUND,
            "/fail" => http::StatusCode::SERVICE_UNAVAILABLE,
            "/slow" => {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                http::StatusCode::OK
            }
            _ => http::StatusCode::OK,
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// (method, server, path, status code, error.type, description, why)
type Outcome<'a> = (
    &'a str,
    SocketAddr,
    &'a str,
    Option<u16>,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
);

/// One call per outcome: the CLIENT span's attributes (the whole set), its
/// status and description, and what a sampler saw at its start.
#[rustfmt::skip]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_has_the_conventions_attributes_and_status() {
    use std::collections::BTreeMap;
    sdk();
    let addr = serve_outcomes().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = client(ClientTraceMiddleware::default());
    let cases: &[Outcome<'_>] = &[
        ("GET", addr, "/ok", Some(200), None, None, "success"),
        ("GET", addr, "/bad", Some(404), Some("404"), Some(""), "4xx: an error on a client"),
        ("POST", addr, "/fail", Some(503), Some("503"), Some(""), "5xx"),
        ("FOOBAR", addr, "/ok", Some(200), None, None, "unknown method"),
        ("GET", closed, "/ok", None, Some("connect"), Some("error sending request"), "transport failure"),
        ("GET", addr, "/slow", None, None, None, "cancelled by the caller: unset, no error.type"),
    ];
    for (method, server, path, code, error_type, description, why) in cases {
        let url = format!("http://{server}{path}");
        let request = reqwest::Request::new(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            url.parse().unwrap(),
        );
        let root = DistributedTraceContext::new_root("test");
        let trace = root.trace_id().to_string();
        let call = root.scope(client.execute(request));
        let result = tokio::time::timeout(std::time::Duration::from_millis(500), call).await;
        match (code, result) {
            (Some(code), Ok(Ok(response))) => assert_eq!(response.status(), *code, "{why}"),
            (None, Ok(Err(_))) => assert_eq!(*error_type, Some("connect"), "{why}"),
            (None, Err(_)) => assert_eq!(*error_type, None, "{why}"),
            (_, other) => panic!("{why}: {other:?}"),
        }
        let span = spans_of(trace_of(&trace))
            .into_iter()
            .find(|s| s.span_kind == SpanKind::Client)
            .expect(why);
        let attributes: BTreeMap<String, String> = span
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect();
        let known = *method != "FOOBAR";
        let port = server.port().to_string();
        let mut expected: BTreeMap<&str, String> = BTreeMap::from([
            ("http.request.method", if known { method.to_string() } else { "_OTHER".into() }),
            ("url.full", url.clone()),
            ("server.address", "127.0.0.1".into()),
            ("server.port", port.clone()),
        ]);
        if !known {
            expected.insert("http.request.method_original", method.to_string());
            assert_eq!(span.name, "HTTP", "{why}");
        } else {
            assert_eq!(span.name, *method, "{why}");
        }
        if let Some(code) = code {
            expected.insert("http.response.status_code", code.to_string());
            expected.insert("network.protocol.version", "1.1".into());
            expected.insert("network.peer.address", "127.0.0.1".into());
            expected.insert("network.peer.port", port.clone());
        }
        if let Some(error_type) = error_type {
            expected.insert("error.type", error_type.to_string());
        }
        let expected: BTreeMap<String, String> =
            expected.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(attributes, expected, "{why}");
        assert_eq!(span.attributes.len(), expected.len(), "{why}: no key twice");
        match description {
            None => assert_eq!(span.status, Status::Unset, "{why}"),
            Some(words) => {
                let Status::Error { description } = &span.status else {
                    panic!("{why}: {:?}", span.status);
                };
                match words.is_empty() {
                    true => assert_eq!(description, "", "{why}: the code says it"),
                    false => assert!(description.contains(words), "{why}: {description}"),
                }
            }
        }
        let (_, seen) = common::seen_by_sampler(trace_of(&trace), SpanKind::Client).expect(why);
        for key in ["http.request.method", "url.full", "server.address", "server.port"] {
            assert_eq!(
                seen.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()),
                Some(expected[key].clone()),
                "{why}: {key} at the start"
            );
        }
    }
}
