//! W3C Trace Context Level 2 through a real service: an axum server with
//! `ServerTraceLayer` (and `traceresponse`) whose handler calls a second real server
//! through reqwest with `ClientTraceMiddleware`, under the default sampler
//! (`parentbased_always_on`). For each incoming `traceparent`/`tracestate`, what
//! the second server receives, what the handler's shims write
//! (`inject_trace_context`, `propagate_trace_context`, inside a nested `tracing`
//! span too) and the `traceresponse` are checked: the caller's `random` flag is
//! kept on every outgoing header of its trace, sampled or not, an unset one stays
//! unset, a new trace has it, and `tracestate` follows the Level 2 grammar.
#![cfg(all(feature = "http-server", feature = "reqwest"))]

mod common;

use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use distributed_tracing::compat::propagate_trace_context;
use distributed_tracing::inject_trace_context;
use distributed_tracing::middleware::{ClientTraceMiddleware, ServerTraceLayer, Trust};
use serde_json::{json, Value};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SID: &str = "00f067aa0ba902b7";

/// The second server: answers with the trace headers it received.
async fn downstream() -> SocketAddr {
    async fn echo(headers: http::HeaderMap) -> axum::Json<Value> {
        let all = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        axum::Json(json!({ "traceparent": all("traceparent"), "tracestate": all("tracestate") }))
    }
    serve(Router::new().route("/echo", get(echo))).await
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The service under test: calls the downstream server, and reports what its
/// shims write, in the request's span and in a nested `tracing` span.
async fn service(trust: Trust, downstream: SocketAddr) -> SocketAddr {
    let handler = move || async move {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(ClientTraceMiddleware::new())
            .build();
        let body = client
            .get(format!("http://{downstream}/echo"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let seen: Value = serde_json::from_slice(&body).unwrap();
        let mut injected = http::HeaderMap::new();
        inject_trace_context(&mut injected);
        let nested = tracing::info_span!("nested").in_scope(propagate_trace_context);
        axum::Json(json!({
            "downstream": seen,
            "injected": injected.get("traceparent").map(|v| v.to_str().unwrap()),
            "injected_tracestate": injected.get("tracestate").map(|v| v.to_str().unwrap()),
            "propagated": propagate_trace_context(),
            "nested": nested,
        }))
    };
    let app = Router::new()
        .route("/call", get(handler))
        .layer(ServerTraceLayer::new().trust(trust).traceresponse(true));
    serve(app).await
}

/// Sends `headers` to `/call`; returns the `traceresponse` and the report.
async fn call(addr: SocketAddr, headers: &[(&str, &str)]) -> (String, Value) {
    let mut request = reqwest::Client::new().get(format!("http://{addr}/call"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success());
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.bytes().await.unwrap();
    (traceresponse, serde_json::from_slice(&body).unwrap())
}

/// `(trace id, flags)` of a `traceparent`, checking its shape.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    assert_eq!(parts[0], "00", "{traceparent}");
    assert_ne!(parts[2], SID, "a new parent id: {traceparent}");
    (parts[1].to_string(), parts[3].to_string())
}

/// Request headers, in the order they are sent.
type Headers<'a> = Vec<(&'a str, &'a str)>;

/// What goes out: the trace, the flags, the `tracestate`.
type Expected<'a> = (Trace, &'a str, Option<&'a str>);

/// Which trace the outgoing headers must carry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Trace {
    /// The caller's (`TID`).
    Continued,
    /// A new one.
    New,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_flag_and_tracestate_through_two_real_servers() {
    common::sdk();
    let downstream = downstream().await;
    let continuing = service(Trust::Continue, downstream).await;
    let at_the_edge = service(Trust::NewTraceWithLink, downstream).await;
    let tp = |flags: &str| format!("00-{TID}-{SID}-{flags}");
    let (tp00, tp01, tp02, tp03) = (tp("00"), tp("01"), tp("02"), tp("03"));
    let tp_ff = tp("ff");
    let tp_upper = format!("00-{}-{SID}-03", TID.to_uppercase());
    let tenant242 = format!("{}@v=1", "t".repeat(242));
    // (service, incoming headers, (trace, outgoing flags, outgoing tracestate), label)
    #[rustfmt::skip]
    let cases: Vec<(SocketAddr, Headers, Expected, &str)> = vec![
        (continuing, vec![("traceparent", &tp02)], (Trace::Continued, "02", None), "random, not sampled: dropped, random kept"),
        (continuing, vec![("traceparent", &tp03)], (Trace::Continued, "03", None), "random, sampled"),
        (continuing, vec![("traceparent", &tp01)], (Trace::Continued, "01", None), "sampled, not random: stays unset"),
        (continuing, vec![("traceparent", &tp00)], (Trace::Continued, "00", None), "neither: stays unset"),
        (continuing, vec![("traceparent", &tp_ff)], (Trace::Continued, "03", None), "unknown flags dropped, random kept"),
        (continuing, vec![], (Trace::New, "03", None), "no traceparent: new trace, random"),
        (continuing, vec![("traceparent", &tp_upper)], (Trace::New, "03", None), "invalid traceparent: new trace, random"),
        (at_the_edge, vec![("traceparent", &tp00)], (Trace::New, "03", None), "edge: new trace linked, random"),
        (continuing, vec![("traceparent", &tp02), ("tracestate", "1foo=1,foo@@bar=2,t@=3")], (Trace::Continued, "02", Some("1foo=1,foo@@bar=2,t@=3")), "Level 2 keys kept, unsampled"),
        (continuing, vec![("traceparent", &tp03), ("tracestate", "foo@bar@baz=1")], (Trace::Continued, "03", Some("foo@bar@baz=1")), "two @ kept"),
        (continuing, vec![("traceparent", &tp01), ("tracestate", &tenant242)], (Trace::Continued, "01", Some(&tenant242)), "242-char tenant kept"),
        (continuing, vec![("traceparent", &tp01), ("tracestate", "foo=1,bar=2"), ("tracestate", "foo=3")], (Trace::Continued, "01", Some("foo=1,bar=2")), "duplicate key: first entry kept"),
        (continuing, vec![("traceparent", &tp02), ("tracestate", "@foo=1,bar=2")], (Trace::Continued, "02", None), "leading @: list dropped, trace kept"),
    ];
    for (addr, headers, (trace, flags, tracestate), label) in cases {
        let (traceresponse, report) = call(addr, &headers).await;
        let downstream_tp = report["downstream"]["traceparent"]
            .as_array()
            .unwrap_or_else(|| panic!("{label}: {report}"));
        assert_eq!(
            downstream_tp.len(),
            1,
            "{label}: one traceparent downstream"
        );
        let outgoing = [
            ("downstream", downstream_tp[0].as_str()),
            ("inject_trace_context", report["injected"].as_str()),
            ("propagate_trace_context", report["propagated"].as_str()),
            ("nested tracing span", report["nested"].as_str()),
            ("traceresponse", Some(traceresponse.as_str())),
        ];
        let (first_trace, _) = ids(downstream_tp[0].as_str().unwrap());
        for (what, header) in outgoing {
            let header = header.unwrap_or_else(|| panic!("{label}: no {what}: {report}"));
            let (trace_id, out_flags) = ids(header);
            match trace {
                Trace::Continued => assert_eq!(trace_id, TID, "{label}: {what}"),
                Trace::New => {
                    assert_ne!(trace_id, TID, "{label}: {what}");
                    assert_eq!(trace_id, first_trace, "{label}: {what}: one new trace");
                }
            }
            assert_eq!(out_flags, flags, "{label}: {what}: {header}");
        }
        let downstream_ts = report["downstream"]["tracestate"].as_array().unwrap();
        let downstream_ts = downstream_ts.first().and_then(Value::as_str);
        assert_eq!(downstream_ts, tracestate, "{label}: downstream tracestate");
        assert_eq!(
            report["injected_tracestate"].as_str(),
            tracestate,
            "{label}: injected tracestate"
        );
    }
}
