//! The W3C validation harness's protocol against `examples/w3c_test_service`,
//! run as its own process: the harness POSTs headers and a list of callbacks,
//! the service calls each back; what the callbacks receive is checked as
//! `test/test.py` (STRICT_LEVEL 2) checks it, with the Level 2 `tracestate` and
//! `random` flag rules. The cases themselves are covered one by one in
//! `tests/api/w3c_cases.rs` and `tests/w3c_level2_hops.rs`; this holds the
//! example that an independent conformance run starts.

use crate::common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::routing::post;
use axum::Router;

const TID: &str = "12345678901234567890123456789012";
const PID: &str = "1234567890123456";

/// Request headers, in the order they are sent.
type Headers = Vec<(&'static str, String)>;

/// What each callback received: its id -> (traceparent lines, tracestate lines).
type Seen = Arc<Mutex<HashMap<String, (Vec<String>, Vec<String>)>>>;

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_service() -> (Service, SocketAddr) {
    let mut child = Command::new(common::example_binary("w3c_test_service"))
        .arg("127.0.0.1:0")
        .env("OTEL_TRACES_EXPORTER", "none")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let service = Service(child);
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the service printed LISTENING")
            .unwrap();
        if let Some(addr) = line.strip_prefix("LISTENING ") {
            break addr.parse().unwrap();
        }
    };
    // Keep reading so the service never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (service, addr)
}

async fn start_harness(seen: Seen) -> SocketAddr {
    let app = Router::new().route(
        "/callback/{id}",
        post(
            move |axum::extract::Path(id): axum::extract::Path<String>,
                  headers: http::HeaderMap| async move {
                let all = |name: &str| {
                    headers
                        .get_all(name)
                        .iter()
                        .map(|v| v.to_str().unwrap().to_owned())
                        .collect()
                };
                seen.lock()
                    .unwrap()
                    .insert(id, (all("traceparent"), all("tracestate")));
                axum::Json(serde_json::Value::Null)
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_passes_the_harness_protocol() {
    let (_service, service) = start_service();
    let seen = Seen::default();
    let harness = start_harness(seen.clone()).await;
    let tp = |flags: &str| format!("00-{TID}-{PID}-{flags}");
    // (label, headers, continued trace, outgoing flags, outgoing tracestate)
    #[rustfmt::skip]
    let cases: Vec<(&str, Headers, bool, &str, Option<&str>)> = vec![
        ("missing", vec![], false, "03", None),
        ("sampled", vec![("traceparent", tp("01"))], true, "01", None),
        ("random-unsampled", vec![("traceparent", tp("02"))], true, "02", None),
        ("duplicated", vec![("traceparent", tp("01")), ("traceparent", tp("01"))], false, "03", None),
        ("level2-keys", vec![("traceparent", tp("00")), ("tracestate", "1foo=1,foo@@bar=2".into())], true, "00", Some("1foo=1,foo@@bar=2")),
        ("duplicate-key", vec![("traceparent", tp("00")), ("tracestate", "foo=1".into()), ("tracestate", "foo=2".into())], true, "00", Some("foo=1")),
        ("leading-at", vec![("traceparent", tp("00")), ("tracestate", "@foo=1,bar=2".into())], true, "00", None),
    ];
    let client = reqwest::Client::new();
    for (label, headers, continued, flags, tracestate) in cases {
        let body = serde_json::json!([
            {"url": format!("http://{harness}/callback/{label}.0"), "arguments": []},
            {"url": format!("http://{harness}/callback/{label}.1"), "arguments": []},
        ]);
        let mut request = client
            .post(format!("http://{service}/test"))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, 200, "{label}");
        let seen = seen.lock().unwrap();
        let mut trace_ids = Vec::new();
        let mut parent_ids = Vec::new();
        for n in 0..2 {
            let (traceparents, tracestates) = &seen[&format!("{label}.{n}")];
            assert_eq!(traceparents.len(), 1, "{label}: one traceparent");
            let parts: Vec<&str> = traceparents[0].split('-').collect();
            assert_eq!(parts.len(), 4, "{label}: {traceparents:?}");
            assert_eq!(parts[3], flags, "{label}: {traceparents:?}");
            assert_eq!(parts[1] == TID, continued, "{label}: {traceparents:?}");
            assert_ne!(parts[2], PID, "{label}: a new parent id");
            trace_ids.push(parts[1].to_owned());
            parent_ids.push(parts[2].to_owned());
            assert_eq!(
                tracestates.first().map(String::as_str),
                tracestate,
                "{label}"
            );
        }
        assert_eq!(
            trace_ids[0], trace_ids[1],
            "{label}: one trace for both callbacks"
        );
        assert_ne!(
            parent_ids[0], parent_ids[1],
            "{label}: a parent id per callback"
        );
    }
}
