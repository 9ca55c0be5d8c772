//! What the HTTP layers copy from a request into span attributes, bounded:
//! every value cut to a byte cap at a character boundary, the method reduced
//! to the semantic conventions' known set, and the query values the
//! conventions call sensitive redacted.
//!
//! Spans wait in the exporter's queue with their attributes; a value copied
//! whole from a request lets any caller decide how much memory that queue
//! holds. The cuts here borrow from the request and allocate nothing: a short
//! value costs a length check, a long one a few comparisons at the cut.
//!
//! Here too are the attributes both HTTP sides record of an answer
//! (`http.response.status_code`, `error.type`, `network.protocol.version`),
//! and the peer's address (`PeerFn`, `network.peer.*`) that the HTTP and gRPC
//! servers record alike.

use opentelemetry::KeyValue;

pub(crate) use crate::untrusted::capped;

/// The default cap, in bytes, on each value the HTTP layers copy from a
/// request into a span (user agent, path, query, route, scheme, URL, method).
#[cfg_attr(docsrs, doc(cfg(any(feature = "http-server", feature = "reqwest"))))]
pub const DEFAULT_MAX_ATTRIBUTE_LEN: usize = 1024;

/// The methods recorded as they are in `http.request.method` by default: those
/// of RFC 9110, `PATCH` (RFC 5789) and `QUERY`, the list of the HTTP semantic
/// conventions. Any other method is recorded as `_OTHER`, with the method
/// itself in `http.request.method_original`.
#[cfg_attr(docsrs, doc(cfg(any(feature = "http-server", feature = "reqwest"))))]
pub const DEFAULT_KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
];

/// The query keys whose values the semantic conventions (v1.44.0) say SHOULD
/// be redacted (`url.query`, `url.full`): signed-URL credentials; and the two
/// of AWS's older signed URLs that earlier releases listed (redacting more is
/// never less safe).
const SENSITIVE_QUERY_KEYS: [&str; 7] = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "sig",
    "X-Goog-Signature",
    "AWSAccessKeyId",
    "Signature",
];

/// What a redacted value is replaced by.
const REDACTED: &str = "REDACTED";

/// The first `max` bytes of a header value as text, cut at a character
/// boundary; `None` when those bytes are not UTF-8. Only the bytes that can be
/// recorded are validated, so a long value costs no more than a short one.
#[cfg(feature = "http-server")]
pub(crate) fn capped_utf8(bytes: &[u8], max: usize) -> Option<&str> {
    let head = &bytes[..bytes.len().min(max)];
    match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        // The cut fell inside a character: keep the ones before it.
        Err(e) if e.error_len().is_none() && head.len() < bytes.len() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// Appends `s` to `out` without letting `out` grow past `max` bytes; false
/// when `s` did not fit whole (the caller stops there).
pub(crate) fn push_capped(out: &mut String, s: &str, max: usize) -> bool {
    let piece = capped(s, max.saturating_sub(out.len()));
    out.push_str(piece);
    piece.len() == s.len()
}

/// The key of a query pair whose value is to be redacted (`sig=...`).
fn sensitive_key(pair: &str) -> Option<&'static str> {
    SENSITIVE_QUERY_KEYS.iter().copied().find(|key| {
        pair.len() > key.len() && pair.as_bytes()[key.len()] == b'=' && pair.starts_with(key)
    })
}

/// Whether a query (without its `?`) holds a value to redact.
pub(crate) fn has_sensitive_value(query: &str) -> bool {
    query.split('&').any(|pair| sensitive_key(pair).is_some())
}

/// Appends a query (without its `?`) to `out`, sensitive values replaced by
/// `REDACTED`, without letting `out` grow past `max` bytes; false when it
/// did not fit whole.
pub(crate) fn push_redacted_query(out: &mut String, query: &str, max: usize) -> bool {
    for (i, pair) in query.split('&').enumerate() {
        let whole = (i == 0 || push_capped(out, "&", max))
            && match sensitive_key(pair) {
                Some(key) => {
                    push_capped(out, key, max)
                        && push_capped(out, "=", max)
                        && push_capped(out, REDACTED, max)
                }
                None => push_capped(out, pair, max),
            };
        if !whole {
            return false;
        }
    }
    true
}

/// `url.query`: the query (without its `?`), sensitive values redacted, cut
/// to `max` bytes. Only the part that fits under the cap is searched.
#[cfg(feature = "http-server")]
pub(crate) fn query(query: &str, max: usize) -> String {
    let head = capped(query, max);
    if !has_sensitive_value(head) {
        return head.to_owned();
    }
    // Each `REDACTED` may be longer than the value it replaces.
    let mut out = String::with_capacity(max.min(head.len() + 64));
    push_redacted_query(&mut out, head, max);
    out
}

/// Pushes `http.request.method` (and, for a method that is not in `known`,
/// `http.request.method_original`, cut to `max` bytes) and returns the method
/// part of the span name (the method itself, or `HTTP` for an unknown one)
/// and the value of `http.request.method` (the method, or `_OTHER`).
pub(crate) fn push_method(
    method: &str,
    known: &'static [&'static str],
    max: usize,
    attributes: &mut Vec<KeyValue>,
) -> (&'static str, &'static str) {
    match known.iter().copied().find(|k| *k == method) {
        Some(known) => {
            attributes.push(KeyValue::new("http.request.method", known));
            (known, known)
        }
        None => {
            attributes.push(KeyValue::new("http.request.method", "_OTHER"));
            attributes.push(KeyValue::new(
                "http.request.method_original",
                capped(method, max).to_owned(),
            ));
            ("HTTP", "_OTHER")
        }
    }
}

/// Reads the peer's address (`network.peer.address`, `network.peer.port`,
/// and `client.address` unless a believed proxy header says otherwise) from
/// a request's extensions, where the server put it:
///
/// * axum, served with `into_make_service_with_connect_info::<SocketAddr>()`:
///   `|ext| ext.get::<axum::extract::ConnectInfo<SocketAddr>>().map(|c| c.0)`;
/// * tonic: `|ext| ext.get::<tonic::transport::server::TcpConnectInfo>().and_then(|i| i.remote_addr())`;
/// * hyper: insert the address your accept loop has into each request's
///   extensions (`service_fn` over the connection), then
///   `|ext| ext.get::<SocketAddr>().copied()`.
#[cfg(feature = "http-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
pub type PeerFn = fn(&http::Extensions) -> Option<std::net::SocketAddr>;

/// `network.peer.address` and `network.peer.port` of a peer (and its
/// address as text, for `client.address`).
#[cfg(feature = "http-server")]
pub(crate) fn push_peer(peer: std::net::SocketAddr, attributes: &mut Vec<KeyValue>) -> String {
    let address = peer.ip().to_string();
    attributes.push(KeyValue::new("network.peer.address", address.clone()));
    attributes.push(KeyValue::new("network.peer.port", i64::from(peer.port())));
    address
}

/// Which end of an HTTP exchange a span is: it decides which statuses are
/// errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    #[cfg_attr(not(feature = "http-server"), allow(dead_code))]
    Server,
    #[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
    Client,
}

/// Records an HTTP response status on a span: `http.response.status_code`,
/// and for an error `error.type` (the code as text, `"503"`) and an error
/// status without a description (the conventions: none that the status code
/// already says). A 5xx is an error on both sides; a 4xx only on the client
/// (the conventions: 4xx MUST leave a SERVER span unset, the caller's mistake
/// is not the server's error, and SHOULD be an error on a CLIENT span, whose
/// call failed). Returns whether it was an error.
pub(crate) fn record_status(
    span: &opentelemetry::trace::SpanRef<'_>,
    status: ::http::StatusCode,
    side: Side,
    more: Option<opentelemetry::KeyValue>,
) -> bool {
    let code =
        opentelemetry::KeyValue::new("http.response.status_code", i64::from(status.as_u16()));
    let error = status.is_server_error() || (side == Side::Client && status.is_client_error());
    let error_type =
        error.then(|| opentelemetry::KeyValue::new("error.type", status.as_str().to_owned()));
    match (error_type, more) {
        // The common case, a server's success: one attribute, no iterator
        // to move it through.
        (None, None) => span.set_attribute(code),
        // One `set_attributes`: the span's lock is taken once for all.
        (error_type, more) => {
            span.set_attributes([Some(code), error_type, more].into_iter().flatten())
        }
    }
    if error {
        span.set_status(opentelemetry::trace::Status::error(""));
    }
    error
}

/// `network.protocol.version` of an HTTP version (both sides).
pub(crate) fn protocol_version(version: ::http::Version) -> &'static str {
    match version {
        ::http::Version::HTTP_10 => "1.0",
        ::http::Version::HTTP_11 => "1.1",
        ::http::Version::HTTP_2 => "2",
        ::http::Version::HTTP_3 => "3",
        _ => "0.9",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "http-server")]
    #[test]
    fn capped_utf8_validates_only_what_it_keeps() {
        // (bytes, cap, expected, why)
        let cases: &[(&[u8], usize, Option<&str>, &str)] = &[
            (b"curl/8.5", 64, Some("curl/8.5"), "ASCII under the cap"),
            (b"curl/8.5", 4, Some("curl"), "ASCII over the cap"),
            (
                "aé".as_bytes(),
                2,
                Some("a"),
                "2-byte char straddling the cut",
            ),
            (
                "a😀".as_bytes(),
                4,
                Some("a"),
                "4-byte char straddling the cut",
            ),
            (
                "a😀".as_bytes(),
                5,
                Some("a😀"),
                "4-byte char ending at the cut",
            ),
            (b"ab\xff", 2, Some("ab"), "not UTF-8 past the cut: not read"),
            (b"a\xffb", 8, None, "not UTF-8 before the cut"),
            (
                b"a\xc3",
                8,
                None,
                "a character cut short by the value's end",
            ),
            (b"abc", 0, Some(""), "cap 0"),
        ];
        for (bytes, max, expected, why) in cases {
            assert_eq!(capped_utf8(bytes, *max), *expected, "{why}");
        }
    }

    #[cfg(feature = "http-server")]
    #[test]
    fn query_values_of_signature_keys_are_redacted() {
        // (query, cap, expected, why)
        let cases: &[(&str, usize, &str, &str)] = &[
            ("a=1&b=2", 1024, "a=1&b=2", "nothing to redact"),
            ("", 1024, "", "empty query"),
            ("sig=abc", 1024, "sig=REDACTED", "sig"),
            (
                "AWSAccessKeyId=AKIA&Signature=xyz&Expires=1",
                1024,
                "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1",
                "AWS signed URL",
            ),
            (
                "X-Goog-Signature=abc&x=1",
                1024,
                "X-Goog-Signature=REDACTED&x=1",
                "Google signed URL",
            ),
            (
                "X-Amz-Credential=AKIA%2F20260101&X-Amz-Security-Token=tok&X-Amz-Signature=abc&X-Amz-Expires=60",
                1024,
                "X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires=60",
                "AWS SigV4 presigned URL (v1.44.0's keys)",
            ),
            ("sig=", 1024, "sig=REDACTED", "empty value"),
            ("sig&x=1", 1024, "sig&x=1", "key without a value"),
            (
                "signature=abc",
                1024,
                "signature=abc",
                "keys are case-sensitive",
            ),
            (
                "xsig=abc&sigx=1",
                1024,
                "xsig=abc&sigx=1",
                "whole keys only",
            ),
            ("a=1&sig=abc", 10, "a=1&sig=RE", "cut inside REDACTED"),
            ("a=1&sig=abc", 3, "a=1", "sensitive key past the cut"),
            ("a=1&sig=abc", 6, "a=1&si", "cut inside the key"),
            ("a=é&sig=1", 3, "a=", "2-byte char straddling the cut"),
            (
                "sig=1&a=€",
                15,
                "sig=REDACTED&a=",
                "redacted, then a 3-byte char at the cut",
            ),
        ];
        for (q, max, expected, why) in cases {
            assert_eq!(query(q, *max), *expected, "{why}");
            assert!(query(q, *max).len() <= *max, "{why}");
        }
    }

    #[test]
    fn unknown_methods_are_other_with_the_original_capped() {
        // (method, cap, http.request.method, method_original, name part)
        let cases: &[(&str, usize, &str, Option<&str>, &str)] = &[
            ("GET", 4, "GET", None, "GET"),
            ("PATCH", 1, "PATCH", None, "PATCH"),
            ("QUERY", 8, "QUERY", None, "QUERY"),
            ("FOOBAR", 16, "_OTHER", Some("FOOBAR"), "HTTP"),
            ("FOOBAR", 3, "_OTHER", Some("FOO"), "HTTP"),
            ("get", 16, "_OTHER", Some("get"), "HTTP"),
        ];
        for (method, max, value, original, name) in cases {
            let mut attributes = Vec::new();
            let (part, attribute) =
                push_method(method, DEFAULT_KNOWN_METHODS, *max, &mut attributes);
            assert_eq!(part, *name, "{method}");
            assert_eq!(attribute, *value, "{method}");
            let get = |k: &str| {
                attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == k)
                    .map(|kv| kv.value.to_string())
            };
            assert_eq!(get("http.request.method").as_deref(), Some(*value));
            assert_eq!(get("http.request.method_original").as_deref(), *original);
        }
        let mut attributes = Vec::new();
        assert_eq!(
            push_method("PROPFIND", &["PROPFIND"], 16, &mut attributes),
            ("PROPFIND", "PROPFIND")
        );
        assert_eq!(
            attributes.len(),
            1,
            "a configured list replaces the default"
        );
    }
}
