//! The cases of the W3C Trace Context test suite (w3c/trace-context, `test/test.py`,
//! STRICT_LEVEL 2), transcribed: a service receives these headers, continues or
//! restarts the trace with `init_trace_from_headers`, and sends the context on
//! with `inject_trace_context`. What it sends is checked as the suite checks it,
//! except the `tracestate` key and duplicate-key cases, which follow the current
//! Level 2 text (the suite still encodes Level 1's key grammar and rejects
//! duplicates; Level 2 allows `@` anywhere after the first character and lets a
//! receiver drop the later duplicates).

use distributed_tracing::compat::init_trace_from_headers;
use distributed_tracing::inject_trace_context;

const TID: &str = "12345678901234567890123456789012";
const PID: &str = "1234567890123456";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Same trace id as the incoming `traceparent` (`12345678...`), a new parent id.
    Continued,
    /// A newly generated trace id.
    NewTrace,
}

/// Runs one request through a service and returns the outgoing
/// `(trace id, parent id, tracestate)`.
fn hop(headers: &[(&str, String)]) -> (String, String, Option<String>) {
    let mut incoming = http::HeaderMap::new();
    for (name, value) in headers {
        incoming.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            http::HeaderValue::from_str(value).expect("header value"),
        );
    }
    let _guard = init_trace_from_headers(&incoming);
    let mut out = http::HeaderMap::new();
    inject_trace_context(&mut out);
    assert_eq!(
        out.get_all("traceparent").iter().count(),
        1,
        "one traceparent out"
    );
    let tp = out["traceparent"].to_str().unwrap().to_string();
    // The suite's format check: ^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(
        parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
        [2, 32, 16, 2],
        "{tp}"
    );
    assert!(tp
        .bytes()
        .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    let tracestate = out
        .get("tracestate")
        .map(|v| v.to_str().unwrap().to_string());
    (parts[1].to_string(), parts[2].to_string(), tracestate)
}

/// Request headers, in the order they are sent.
type Headers = Vec<(&'static str, String)>;

fn tp(value: &str) -> (&'static str, String) {
    ("traceparent", value.to_string())
}

fn ts(value: &str) -> (&'static str, String) {
    ("tracestate", value.to_string())
}

#[test]
fn traceparent_cases() {
    let valid = format!("00-{TID}-{PID}-01");
    let cases: Vec<(Headers, Expect, &str)> = vec![
        (
            vec![],
            Expect::NewTrace,
            "both traceparent and tracestate missing",
        ),
        (
            vec![tp(&valid)],
            Expect::Continued,
            "traceparent included, tracestate missing",
        ),
        (
            vec![tp(&format!("00-{}1-{PID}-01", &TID[..31])), tp(&valid)],
            Expect::NewTrace,
            "traceparent duplicated",
        ),
        (
            vec![("trace-parent", valid.clone())],
            Expect::NewTrace,
            "wrong name trace-parent",
        ),
        (
            vec![("trace.parent", valid.clone())],
            Expect::NewTrace,
            "wrong name trace.parent",
        ),
        (
            vec![("TraceParent", valid.clone())],
            Expect::Continued,
            "casing TraceParent",
        ),
        (
            vec![("TrAcEpArEnT", valid.clone())],
            Expect::Continued,
            "casing TrAcEpArEnT",
        ),
        (
            vec![("TRACEPARENT", valid.clone())],
            Expect::Continued,
            "casing TRACEPARENT",
        ),
        (
            vec![tp(&format!("{valid}."))],
            Expect::NewTrace,
            "version 00 with a trailing dot",
        ),
        (
            vec![tp(&format!("{valid}-what-the-future-will-be-like"))],
            Expect::NewTrace,
            "version 00 with extra fields",
        ),
        (
            vec![tp(&format!("cc-{TID}-{PID}-01"))],
            Expect::Continued,
            "version cc",
        ),
        (
            vec![tp(&format!(
                "cc-{TID}-{PID}-01-what-the-future-will-be-like"
            ))],
            Expect::Continued,
            "version cc with extra fields",
        ),
        (
            vec![tp(&format!(
                "cc-{TID}-{PID}-01.what-the-future-will-be-like"
            ))],
            Expect::NewTrace,
            "version cc, extra fields without a dash",
        ),
        (
            vec![tp(&format!("ff-{TID}-{PID}-01"))],
            Expect::NewTrace,
            "version ff",
        ),
        (
            vec![tp(&format!(".0-{TID}-{PID}-01"))],
            Expect::NewTrace,
            "version .0",
        ),
        (
            vec![tp(&format!("0.-{TID}-{PID}-01"))],
            Expect::NewTrace,
            "version 0.",
        ),
        (
            vec![tp(&format!("000-{TID}-{PID}-01"))],
            Expect::NewTrace,
            "version too long (3)",
        ),
        (
            vec![tp(&format!("0000-{TID}-{PID}-01"))],
            Expect::NewTrace,
            "version too long (4)",
        ),
        (
            vec![tp(&format!("0-{TID}-{PID}-01"))],
            Expect::NewTrace,
            "version too short",
        ),
        (
            vec![tp(&format!("00-{}-{PID}-01", "0".repeat(32)))],
            Expect::NewTrace,
            "trace id all zero",
        ),
        (
            vec![tp(&format!("00-.{}-{PID}-01", &TID[1..]))],
            Expect::NewTrace,
            "trace id illegal first char",
        ),
        (
            vec![tp(&format!("00-{}.-{PID}-01", &TID[..31]))],
            Expect::NewTrace,
            "trace id illegal last char",
        ),
        (
            vec![tp(&format!("00-{TID}3-{PID}-01"))],
            Expect::NewTrace,
            "trace id too long",
        ),
        (
            vec![tp(&format!("00-{}-{PID}-01", &TID[..31]))],
            Expect::NewTrace,
            "trace id too short",
        ),
        (
            vec![tp(&format!("00-{TID}-{}-01", "0".repeat(16)))],
            Expect::NewTrace,
            "parent id all zero",
        ),
        (
            vec![tp(&format!("00-{TID}-.{}-01", &PID[1..]))],
            Expect::NewTrace,
            "parent id illegal first char",
        ),
        (
            vec![tp(&format!("00-{TID}-{}.-01", &PID[..15]))],
            Expect::NewTrace,
            "parent id illegal last char",
        ),
        (
            vec![tp(&format!("00-{TID}-{PID}7-01"))],
            Expect::NewTrace,
            "parent id too long",
        ),
        (
            vec![tp(&format!("00-{TID}-{}-01", &PID[..15]))],
            Expect::NewTrace,
            "parent id too short",
        ),
        (
            vec![tp(&format!("00-{TID}-{PID}-.0"))],
            Expect::NewTrace,
            "flags .0",
        ),
        (
            vec![tp(&format!("00-{TID}-{PID}-0."))],
            Expect::NewTrace,
            "flags 0.",
        ),
        (
            vec![tp(&format!("00-{TID}-{PID}-001"))],
            Expect::NewTrace,
            "flags too long",
        ),
        (
            vec![tp(&format!("00-{TID}-{PID}-1"))],
            Expect::NewTrace,
            "flags too short",
        ),
        (
            vec![tp(&format!(" {valid}"))],
            Expect::Continued,
            "leading space",
        ),
        (
            vec![tp(&format!("\t{valid}"))],
            Expect::Continued,
            "leading tab",
        ),
        (
            vec![tp(&format!("{valid} "))],
            Expect::Continued,
            "trailing space",
        ),
        (
            vec![tp(&format!("{valid}\t"))],
            Expect::Continued,
            "trailing tab",
        ),
        (
            vec![tp(&format!("\t {valid} \t"))],
            Expect::Continued,
            "OWS both sides",
        ),
    ];
    for (headers, expect, label) in cases {
        let (trace_id, parent_id, _) = hop(&headers);
        match expect {
            Expect::Continued => assert_eq!(trace_id, TID, "{label}"),
            Expect::NewTrace => {
                assert_ne!(trace_id, TID, "{label}");
                assert_ne!(trace_id, "0".repeat(32), "{label}");
                assert!(!TID.contains(&trace_id[1..31]), "{label}: {trace_id}");
            }
        }
        assert_ne!(parent_id, PID, "{label}: the service's own span id");
    }
}

#[test]
fn tracestate_cases() {
    let valid = format!("00-{TID}-{PID}-00");
    let lcalpha: String = ('a'..='z').collect();
    let key = format!("{lcalpha}0123456789_-*/");
    let key_with_vendor = format!("{key}@a-z0-9_-*/");
    let all_chars: String = (0x20u8..=0x7e)
        .filter(|c| *c != b',' && *c != b'=')
        .map(char::from)
        .collect();
    let members = |range: std::ops::RangeInclusive<u32>| {
        range
            .map(|i| format!("bar{i:02}={i:02}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let cases: Vec<(Headers, Option<String>, &str)> = vec![
        (
            vec![ts("foo=1")],
            None,
            "tracestate without traceparent is discarded",
        ),
        (
            vec![tp(&valid), ts("foo=1,bar=2")],
            Some("foo=1,bar=2".into()),
            "inherited",
        ),
        (
            vec![tp(&valid), ("trace-state", "foo=1".into())],
            None,
            "wrong name trace-state",
        ),
        (
            vec![tp(&valid), ("trace.state", "foo=1".into())],
            None,
            "wrong name trace.state",
        ),
        (
            vec![tp(&valid), ("TraceState", "foo=1".into())],
            Some("foo=1".into()),
            "casing",
        ),
        (
            vec![tp(&valid), ("TRACESTATE", "foo=1".into())],
            Some("foo=1".into()),
            "upper casing",
        ),
        (vec![tp(&valid), ts("")], None, "empty header"),
        (
            vec![tp(&valid), ts("foo=1"), ts("")],
            Some("foo=1".into()),
            "empty second header",
        ),
        (
            vec![tp(&valid), ts(""), ts("foo=1")],
            Some("foo=1".into()),
            "empty first header",
        ),
        (
            vec![
                tp(&valid),
                ts("foo=1,bar=2"),
                ts("rojo=1,congo=2"),
                ts("baz=3"),
            ],
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3".into()),
            "multiple headers combined in order",
        ),
        // Level 2 has no uniqueness rule; a receiver may discard duplicates it
        // did not generate: the first entry is kept, the list too.
        (
            vec![tp(&valid), ts("foo=1,foo=1")],
            Some("foo=1".into()),
            "duplicated keys",
        ),
        (
            vec![tp(&valid), ts("foo=1,foo=2")],
            Some("foo=1".into()),
            "duplicated keys, other values",
        ),
        (
            vec![tp(&valid), ts("foo=1"), ts("foo=1")],
            Some("foo=1".into()),
            "duplicated keys over headers",
        ),
        (
            vec![tp(&valid), ts("foo=1"), ts("foo=2")],
            Some("foo=1".into()),
            "duplicated keys over headers 2",
        ),
        (
            vec![tp(&valid), ts(&format!("{key}={all_chars}"))],
            Some(format!("{key}={all_chars}")),
            "all allowed characters",
        ),
        (
            vec![tp(&valid), ts(&format!("{key_with_vendor}={all_chars}"))],
            Some(format!("{key_with_vendor}={all_chars}")),
            "all allowed characters, multi-tenant key",
        ),
        (
            vec![tp(&valid), ts("foo=1 \t , \t bar=2, \t baz=3")],
            Some("foo=1,bar=2,baz=3".into()),
            "OWS",
        ),
        (
            vec![tp(&valid), ts("foo=1\t \t,\t \tbar=2,\t \tbaz=3")],
            Some("foo=1,bar=2,baz=3".into()),
            "OWS tabs",
        ),
        (
            vec![tp(&valid), ts(" foo=1")],
            Some("foo=1".into()),
            "leading space",
        ),
        (
            vec![tp(&valid), ts("\tfoo=1")],
            Some("foo=1".into()),
            "leading tab",
        ),
        (
            vec![tp(&valid), ts("foo=1 ")],
            Some("foo=1".into()),
            "trailing space",
        ),
        (
            vec![tp(&valid), ts("foo=1\t")],
            Some("foo=1".into()),
            "trailing tab",
        ),
        (
            vec![tp(&valid), ts("\t foo=1 \t")],
            Some("foo=1".into()),
            "OWS both sides",
        ),
        (vec![tp(&valid), ts("foo =1")], None, "space in key"),
        (vec![tp(&valid), ts("FOO=1")], None, "uppercase key"),
        (vec![tp(&valid), ts("foo.bar=1")], None, "dot in key"),
        // Level 2 keys: `( lcalpha / DIGIT ) 0*255 keychar`, `@` a keychar.
        (
            vec![tp(&valid), ts("foo@=1,bar=2")],
            Some("foo@=1,bar=2".into()),
            "@ last",
        ),
        (vec![tp(&valid), ts("@foo=1,bar=2")], None, "@ first"),
        (
            vec![tp(&valid), ts("foo@@bar=1,bar=2")],
            Some("foo@@bar=1,bar=2".into()),
            "double @",
        ),
        (
            vec![tp(&valid), ts("foo@bar@baz=1,bar=2")],
            Some("foo@bar@baz=1,bar=2".into()),
            "two @",
        ),
        (
            vec![tp(&valid), ts("1foo=1")],
            Some("1foo=1".into()),
            "key starts with a digit",
        ),
        (
            vec![
                tp(&valid),
                ts(&members(1..=10)),
                ts(&members(11..=20)),
                ts(&members(21..=30)),
                ts(&members(31..=32)),
            ],
            Some(members(1..=32)),
            "32 members",
        ),
        (
            vec![
                tp(&valid),
                ts(&members(1..=10)),
                ts(&members(11..=20)),
                ts(&members(21..=30)),
                ts(&members(31..=33)),
            ],
            None,
            "33 members",
        ),
        (
            vec![
                tp(&valid),
                ts("foo=1"),
                ts(&format!("{}=1", "z".repeat(256))),
            ],
            Some(format!("foo=1,{}=1", "z".repeat(256))),
            "256-char key",
        ),
        (
            vec![
                tp(&valid),
                ts("foo=1"),
                ts(&format!("{}=1", "z".repeat(257))),
            ],
            None,
            "257-char key",
        ),
        (
            vec![
                tp(&valid),
                ts("foo=1"),
                ts(&format!("{}@{}=1", "t".repeat(241), "v".repeat(14))),
            ],
            Some(format!("foo=1,{}@{}=1", "t".repeat(241), "v".repeat(14))),
            "241-char tenant, 14-char vendor",
        ),
        (
            vec![
                tp(&valid),
                ts("foo=1"),
                ts(&format!("{}@v=1", "t".repeat(242))),
            ],
            Some(format!("foo=1,{}@v=1", "t".repeat(242))),
            "242-char tenant",
        ),
        (
            vec![
                tp(&valid),
                ts("foo=1"),
                ts(&format!("t@{}=1", "v".repeat(15))),
            ],
            Some(format!("foo=1,t@{}=1", "v".repeat(15))),
            "15-char vendor",
        ),
        (vec![tp(&valid), ts("foo=bar=baz")], None, "= in value"),
        (vec![tp(&valid), ts("foo=,bar=3")], None, "empty value"),
    ];
    for (headers, expected, label) in cases {
        let (trace_id, _, tracestate) = hop(&headers);
        if headers.iter().any(|(n, _)| *n == "traceparent") {
            assert_eq!(trace_id, TID, "{label}: the traceparent still counts");
        }
        assert_eq!(tracestate, expected, "{label}");
    }
}

#[test]
fn repeated_callbacks_share_the_trace_with_distinct_parents() {
    // AdvancedTest: three outgoing calls from one request carry one trace id and
    // three parent ids (one child scope per call).
    let mut incoming = http::HeaderMap::new();
    incoming.insert("traceparent", format!("00-{TID}-{PID}-01").parse().unwrap());
    let _request = init_trace_from_headers(&incoming);
    let mut parents = std::collections::HashSet::new();
    for _ in 0..3 {
        let _call = distributed_tracing::DistributedTraceContext::child_of(
            &distributed_tracing::opentelemetry::Context::current(),
            "call",
        )
        .enter();
        let mut out = http::HeaderMap::new();
        inject_trace_context(&mut out);
        let tp = out["traceparent"].to_str().unwrap().to_string();
        assert_eq!(&tp[3..35], TID);
        parents.insert(tp[36..52].to_string());
    }
    assert_eq!(parents.len(), 3);
}
