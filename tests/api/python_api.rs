//! The old Python module's test suite, call for call, against the Rust shims
//! (the Python-to-Rust table, `docs/migration.md`, is the guide). No SDK is installed in this
//! binary: the shims must work on OpenTelemetry's context alone.

use std::collections::HashMap;

use distributed_tracing::compat::{
    clear_trace_context, generate_span_id, generate_trace_id, get_span_id, get_trace_context_dict,
    get_trace_flags, get_trace_id, init_trace_context, init_trace_from_headers,
    propagate_trace_context, TraceContextDict,
};
use distributed_tracing::{
    extract_trace_context_from_headers, extract_trace_context_from_pairs, inject_trace_context,
    spawn, DistributedTraceContext, Error,
};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SID: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    map
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn generated_ids_have_the_w3c_format_and_are_unique() {
    let traces: std::collections::HashSet<String> =
        (0..1000).map(|_| generate_trace_id()).collect();
    let spans: std::collections::HashSet<String> = (0..1000).map(|_| generate_span_id()).collect();
    assert_eq!((traces.len(), spans.len()), (1000, 1000));
    assert!(traces
        .iter()
        .all(|t| is_lower_hex(t, 32) && t != &"0".repeat(32)));
    assert!(spans
        .iter()
        .all(|s| is_lower_hex(s, 16) && s != &"0".repeat(16)));
}

#[test]
fn nothing_is_current_before_init() {
    assert_eq!(get_trace_id(), None);
    assert_eq!(get_span_id(), None);
    assert_eq!(get_trace_flags(), None);
    assert_eq!(propagate_trace_context(), None);
    assert_eq!(get_trace_context_dict(), TraceContextDict::default());
    let mut out = http::HeaderMap::new();
    inject_trace_context(&mut out);
    assert!(out.is_empty(), "nothing injected outside a trace");
}

#[test]
fn init_without_ids_starts_a_sampled_trace() {
    let guard = init_trace_context(None, None).unwrap();
    let trace = get_trace_id().unwrap();
    assert!(is_lower_hex(&trace, 32));
    assert_eq!(
        trace,
        guard.trace_id().to_string(),
        "the guard knows its trace"
    );
    assert!(is_lower_hex(&get_span_id().unwrap(), 16));
    // Sampled, and (W3C Level 2) random: the trace id was generated here.
    assert_eq!(get_trace_flags().as_deref(), Some("03"));
    drop(guard);
    assert_eq!(get_trace_id(), None, "the previous (empty) context is back");
}

#[test]
fn init_with_given_ids_uses_them() {
    let _guard = init_trace_context(Some(TID), Some(SID)).unwrap();
    assert_eq!(get_trace_id().as_deref(), Some(TID));
    assert_eq!(get_span_id().as_deref(), Some(SID));
    // Sampled; not marked random (Level 2), since we cannot vouch for a given id.
    assert_eq!(get_trace_flags().as_deref(), Some("01"));
    let _inner = init_trace_context(Some(TID), None).unwrap();
    assert_eq!(get_trace_id().as_deref(), Some(TID));
    assert_ne!(
        get_span_id().as_deref(),
        Some(SID),
        "a span id is generated"
    );
}

#[test]
fn init_rejects_invalid_ids_with_an_error_naming_them() {
    let cases = [
        (
            Some("4BF92F3577B34DA6A3CE929D0E0E4736"),
            None,
            "uppercase trace id",
        ),
        (Some("4bf92f3577b34da6"), None, "short trace id"),
        (
            Some("4bf92f3577b34da6a3ce929d0e0e473x"),
            None,
            "non-hex trace id",
        ),
        (
            Some("00000000000000000000000000000000"),
            None,
            "all-zero trace id",
        ),
        (Some(TID), Some("00F067AA0BA902B7"), "uppercase span id"),
        (Some(TID), Some("0000000000000000"), "all-zero span id"),
        (None, Some("00f067aa0ba902"), "short span id"),
    ];
    for (trace, span, label) in cases {
        let err = init_trace_context(trace, span).expect_err(label);
        let bad = match err {
            Error::InvalidTraceId { ref value, .. } => {
                assert!(
                    trace.is_some_and(|t| t.starts_with(&value.as_str()[..4])),
                    "{label}"
                );
                trace.unwrap()
            }
            Error::InvalidSpanId { ref value, .. } => {
                assert!(
                    span.is_some_and(|s| s.starts_with(&value.as_str()[..4])),
                    "{label}"
                );
                span.unwrap()
            }
            other => panic!("{label}: {other}"),
        };
        assert!(err.to_string().contains(bad), "{label}: {err}");
        assert_eq!(get_trace_id(), None, "{label}: nothing became current");
    }
}

#[test]
fn clear_hides_the_trace_until_its_guard_drops() {
    let _trace = init_trace_context(Some(TID), None).unwrap();
    {
        let _cleared = clear_trace_context();
        assert_eq!(get_trace_id(), None);
        assert_eq!(get_span_id(), None);
        assert_eq!(propagate_trace_context(), None);
        assert_eq!(get_trace_context_dict(), TraceContextDict::default());
    }
    assert_eq!(get_trace_id().as_deref(), Some(TID));
}

#[test]
fn traceparent_out_is_the_current_span() {
    let _g = init_trace_context(Some(TID), Some(SID)).unwrap();
    let flags = get_trace_flags().unwrap();
    assert_eq!(
        propagate_trace_context().unwrap(),
        format!("00-{TID}-{SID}-{flags}")
    );
    let mut out = http::HeaderMap::new();
    inject_trace_context(&mut out);
    assert_eq!(
        out["traceparent"],
        format!("00-{TID}-{SID}-{flags}").as_str()
    );
}

#[test]
fn extract_from_valid_empty_malformed_and_wrong_version_headers() {
    let valid = format!("00-{TID}-{SID}-01");
    let remote = extract_trace_context_from_headers(&headers(&[("traceparent", &valid)])).unwrap();
    assert_eq!(remote.trace_id().to_string(), TID);
    assert_eq!(remote.span_id().to_string(), SID);
    assert!(remote.is_sampled());
    let unsampled = format!("00-{TID}-{SID}-00");
    assert!(
        !extract_trace_context_from_headers(&headers(&[("traceparent", &unsampled)]))
            .unwrap()
            .is_sampled()
    );

    assert!(
        extract_trace_context_from_headers(&http::HeaderMap::new()).is_none(),
        "empty"
    );
    for bad in [
        "",
        "garbage",
        &format!("00-{TID}-{SID}"),
        &format!("00-{}-{SID}-01", TID.to_uppercase()),
        &format!("ff-{TID}-{SID}-01"),
        &format!("00-{TID}-{SID}-01-extra"),
        &format!("0-{TID}-{SID}-01"),
    ] {
        let h = headers(&[("traceparent", bad)]);
        assert!(extract_trace_context_from_headers(&h).is_none(), "{bad:?}");
    }
    // A higher version with extra fields is parsed, as the W3C spec says.
    let future = format!("01-{TID}-{SID}-01-future-field");
    assert!(extract_trace_context_from_headers(&headers(&[("traceparent", &future)])).is_some());
}

#[test]
fn extract_from_plain_maps_is_case_insensitive() {
    let valid = format!("00-{TID}-{SID}-01");
    let mut map = HashMap::new();
    map.insert("TraceParent".to_string(), valid.clone());
    map.insert("TRACESTATE".to_string(), "congo=t61rcWkgMzE".to_string());
    let remote = extract_trace_context_from_pairs(&map).unwrap();
    assert_eq!(remote.trace_id().to_string(), TID);
    assert_eq!(remote.tracestate().as_deref(), Some("congo=t61rcWkgMzE"));
    let remote = extract_trace_context_from_pairs([("traceparent", valid.as_str())]).unwrap();
    assert_eq!(remote.tracestate(), None);
    let none: [(&str, &str); 0] = [];
    assert!(extract_trace_context_from_pairs(none).is_none());
}

#[test]
fn repeated_tracestate_lines_are_joined_and_two_traceparents_are_invalid() {
    let valid = format!("00-{TID}-{SID}-01");
    let h = headers(&[
        ("traceparent", &valid),
        ("tracestate", "a=1,b=2"),
        ("Tracestate", "c=3"),
    ]);
    let remote = extract_trace_context_from_headers(&h).unwrap();
    assert_eq!(remote.tracestate().as_deref(), Some("a=1,b=2,c=3"));

    let other = format!("00-{}-{SID}-01", "a".repeat(32));
    let h = headers(&[("traceparent", &valid), ("traceparent", &other)]);
    assert!(extract_trace_context_from_headers(&h).is_none());
    let pairs = [
        ("traceparent", valid.as_str()),
        ("TRACEPARENT", valid.as_str()),
    ];
    assert!(extract_trace_context_from_pairs(pairs).is_none());
}

#[test]
fn init_from_headers_continues_as_a_child_or_starts_a_new_trace() {
    let valid = format!("00-{TID}-{SID}-01");
    {
        let h = headers(&[("traceparent", &valid), ("tracestate", "congo=t61rcWkgMzE")]);
        let guard = init_trace_from_headers(&h);
        assert_eq!(get_trace_id().as_deref(), Some(TID), "same trace");
        let span = get_span_id().unwrap();
        assert_ne!(span, SID, "a new span id");
        assert_eq!(guard.span_id().to_string(), span);
        assert_eq!(
            get_trace_flags().as_deref(),
            Some("01"),
            "the caller's flags"
        );
        let dict = get_trace_context_dict();
        assert_eq!(dict.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
        let mut out = http::HeaderMap::new();
        inject_trace_context(&mut out);
        assert_eq!(out["traceparent"], format!("00-{TID}-{span}-01").as_str());
        assert_eq!(out["tracestate"], "congo=t61rcWkgMzE");
    }
    assert_eq!(get_trace_id(), None);
    for h in [
        http::HeaderMap::new(),
        headers(&[("traceparent", "00-invalid")]),
    ] {
        let guard = init_trace_from_headers(&h);
        let trace = get_trace_id().expect("a new trace");
        assert_ne!(trace, TID);
        assert_eq!(trace, guard.trace_id().to_string());
    }
}

#[test]
fn unsampled_callers_stay_unsampled() {
    let h = headers(&[("traceparent", &format!("00-{TID}-{SID}-00"))]);
    let _guard = init_trace_from_headers(&h);
    assert_eq!(get_trace_flags().as_deref(), Some("00"));
    assert!(propagate_trace_context().unwrap().ends_with("-00"));
}

#[test]
fn context_dict_with_and_without_a_trace() {
    assert_eq!(get_trace_context_dict(), TraceContextDict::default());
    let json = serde_json::to_value(get_trace_context_dict()).unwrap();
    assert_eq!(json["trace_id"], serde_json::Value::Null);

    let _g = init_trace_context(Some(TID), Some(SID)).unwrap();
    let dict = get_trace_context_dict();
    let flags = dict.trace_flags.clone().unwrap();
    assert_eq!(dict.trace_id.as_deref(), Some(TID));
    assert_eq!(dict.span_id.as_deref(), Some(SID));
    assert_eq!(dict.traceparent, Some(format!("00-{TID}-{SID}-{flags}")));
    assert_eq!(dict.tracestate, None);
    let json = serde_json::to_value(&dict).unwrap();
    for key in [
        "trace_id",
        "span_id",
        "trace_flags",
        "traceparent",
        "tracestate",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["trace_id"], TID);
}

#[test]
fn scope_type_sync_enters_and_restores() {
    let outer = DistributedTraceContext::new_root("outer").enter();
    let outer_id = get_trace_id();
    {
        let inner = DistributedTraceContext::new_root("inner").enter();
        assert_eq!(get_trace_id(), Some(inner.trace_id().to_string()));
        assert_ne!(get_trace_id(), outer_id);
    }
    assert_eq!(get_trace_id(), outer_id);
    assert_eq!(outer_id, Some(outer.trace_id().to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_type_async_enters_and_restores() {
    let scope = DistributedTraceContext::new_root("async");
    let id = scope.trace_id().to_string();
    assert_eq!(get_trace_id(), None, "not current before it is awaited");
    let seen = scope
        .scope(async {
            tokio::task::yield_now().await;
            get_trace_id()
        })
        .await;
    assert_eq!(seen, Some(id));
    assert_eq!(get_trace_id(), None, "not current after");
}

/// The old suite's "full request flow": a request arrives with a traceparent,
/// the handler logs and fans out to child tasks, calls a downstream service with
/// the propagated header, and the downstream continues the same trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_request_flow() {
    let incoming = headers(&[("traceparent", &format!("00-{TID}-{SID}-01"))]);
    let remote = extract_trace_context_from_headers(&incoming).unwrap();
    let scope = DistributedTraceContext::from_extracted(remote);
    let handler_span = scope.span_id().to_string();
    let (outgoing, children) = scope
        .scope(async {
            let children = futures::future::join_all(
                (0..3).map(|_| spawn(async { (get_trace_id(), get_span_id()) })),
            )
            .await;
            let mut outgoing = http::HeaderMap::new();
            inject_trace_context(&mut outgoing);
            (outgoing, children)
        })
        .await;
    for child in children {
        assert_eq!(
            child.unwrap(),
            (Some(TID.to_string()), Some(handler_span.clone()))
        );
    }
    assert_eq!(
        outgoing["traceparent"],
        format!("00-{TID}-{handler_span}-01").as_str()
    );
    // The downstream service.
    let downstream = init_trace_from_headers(&outgoing);
    assert_eq!(get_trace_id().as_deref(), Some(TID));
    assert_ne!(downstream.span_id().to_string(), handler_span);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_operations_keep_their_own_traces() {
    let tasks = (0..100).map(|i| {
        let trace = format!("{:032x}", i + 1);
        let scope = DistributedTraceContext::from_ids(
            Some(distributed_tracing::parse_trace_id(&trace).unwrap()),
            None,
        );
        tokio::spawn(scope.scope(async move {
            for _ in 0..10 {
                tokio::task::yield_now().await;
                assert_eq!(get_trace_id().as_deref(), Some(&*trace));
                assert_eq!(propagate_trace_context().unwrap()[3..35], trace);
            }
        }))
    });
    for t in futures::future::join_all(tasks).await {
        t.unwrap();
    }
}
