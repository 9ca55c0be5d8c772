//! Where a request came from and where it went, as a server sees it: the
//! `Host` (or `:authority`) split into `server.address` and `server.port`, and
//! the proxies' headers (`Forwarded`, RFC 7239, and the older
//! `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`), which a
//! [`Forwarded`] policy decides whether to believe.
//!
//! Pure functions over header values, table-tested below; nothing here
//! allocates, and only the first element of a list is read.

use super::attributes::capped_utf8;

/// Whether a server layer believes the proxies' headers (`Forwarded`,
/// `X-Forwarded-For`, `X-Forwarded-Proto`, `X-Forwarded-Host`) for
/// `client.address`, `url.scheme` and `server.address` / `server.port`.
///
/// Any caller can send these headers: believed at an edge service, they let
/// the caller choose the client address its requests are recorded with. So
/// they are ignored by default, and believed only when you say so: behind a
/// proxy of yours that sets (replaces, not appends to) them, with
/// [`Believe`](Self::Believe), or per request, e.g. only when the peer is
/// that proxy, with [`BelieveWhen`](Self::BelieveWhen). The first element of
/// each list (the proxy's view of the original client) is the one recorded.
///
/// ```
/// use distributed_tracing::middleware::{Forwarded, ServerTraceLayer};
///
/// // Believe the headers only from the proxy at 10.0.0.2 (the peer address
/// // axum's `ConnectInfo` holds).
/// let layer = ServerTraceLayer::new()
///     .peer_fn(|ext| ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0))
///     .forwarded(Forwarded::BelieveWhen(|_headers, ext| {
///         ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
///             .is_some_and(|c| c.0.ip() == std::net::Ipv4Addr::new(10, 0, 0, 2))
///     }));
/// # drop(layer);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "http-server")))]
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub enum Forwarded {
    /// Ignore them (default): `client.address` is the peer's address, the
    /// scheme and server are the request's own.
    #[default]
    Ignore,
    /// Believe them on every request.
    Believe,
    /// Believe them on the requests for which the function says so (from the
    /// request's headers and extensions, which hold the peer address).
    BelieveWhen(fn(&http::HeaderMap, &http::Extensions) -> bool),
}

impl Forwarded {
    pub(crate) fn believed(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> bool {
        match self {
            Forwarded::Ignore => false,
            Forwarded::Believe => true,
            Forwarded::BelieveWhen(f) => f(headers, extensions),
        }
    }
}

/// What the proxies' headers say about a request, each cut to `max` bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForwardedInfo<'a> {
    /// The original client (`for`), without port or brackets.
    pub(crate) client: Option<&'a str>,
    /// The scheme the client used (`proto`).
    pub(crate) proto: Option<&'a str>,
    /// The `Host` the client sent (`host`), with its port if any.
    pub(crate) host: Option<&'a str>,
}

const X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: http::HeaderName = http::HeaderName::from_static("x-forwarded-host");

impl<'a> ForwardedInfo<'a> {
    /// Reads `Forwarded` first (RFC 7239), then the `X-Forwarded-*` headers
    /// for what it did not say.
    pub(crate) fn of(headers: &'a http::HeaderMap, max: usize) -> Self {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &http::HeaderValue| capped_utf8(v.as_bytes(), max))
        };
        let mut info = text(http::header::FORWARDED)
            .map(forwarded_element)
            .unwrap_or_default();
        if info.client.is_none() {
            info.client = text(X_FORWARDED_FOR)
                .and_then(first_of_list)
                .map(node_address);
        }
        if info.proto.is_none() {
            info.proto = text(X_FORWARDED_PROTO).and_then(first_of_list);
        }
        if info.host.is_none() {
            info.host = text(X_FORWARDED_HOST).and_then(first_of_list);
        }
        info
    }
}

/// The first member of a comma-separated list, trimmed; `None` when empty.
fn first_of_list(list: &str) -> Option<&str> {
    let first = crate::untrusted::trim_ows(list.split(',').next().unwrap_or(""));
    (!first.is_empty()).then_some(first)
}

/// The `for`, `proto` and `host` of the first element of a `Forwarded`
/// value (`for=192.0.2.60;proto=https;host=example.com, for=...`); quoted
/// values lose their quotes. Parameter names are case-insensitive.
fn forwarded_element(value: &str) -> ForwardedInfo<'_> {
    let mut info = ForwardedInfo::default();
    // A `,` inside a quoted value (rare: none of the three can hold one
    // legitimately) ends the element early: the parameters before it stay.
    let element = value.split(',').next().unwrap_or("");
    for pair in element.split(';') {
        let Some((name, v)) = crate::untrusted::trim_ows(pair).split_once('=') else {
            continue;
        };
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        if v.is_empty() {
            continue;
        }
        let slot = match name {
            n if n.eq_ignore_ascii_case("for") => &mut info.client,
            n if n.eq_ignore_ascii_case("proto") => &mut info.proto,
            n if n.eq_ignore_ascii_case("host") => &mut info.host,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v);
        }
    }
    info.client = info.client.map(node_address);
    info
}

/// A node (`192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::17]:4711`,
/// `2001:db8::17`, `unknown`, `_hidden`) without its port and brackets.
fn node_address(node: &str) -> &str {
    split_host_port(node).0
}

/// A `Host` value or authority split into host and port: `example.com:8080`
/// gives `("example.com", Some(8080))`, `[::1]:80` `("::1", Some(80))`; a
/// port that is not a number is no port. A bare IPv6 address (several
/// colons, no brackets: only a `for` node) is the host whole.
pub(crate) fn split_host_port(value: &str) -> (&str, Option<u16>) {
    // Bytes, not `char` patterns: this runs on every request's `Host`, and
    // `[`, `]` and `:` are ASCII (so the cuts are character boundaries).
    let b = value.as_bytes();
    if b.first() == Some(&b'[') {
        return match b.iter().position(|&c| c == b']') {
            Some(end) => (
                &value[1..end],
                b[end + 1..].strip_prefix(b":").and_then(port),
            ),
            None => (value, None),
        };
    }
    // The port follows the last colon; a colon before it (a bare IPv6
    // address) means there is none.
    match b.iter().rposition(|&c| c == b':') {
        Some(colon) if !b[..colon].contains(&b':') => (&value[..colon], port(&b[colon + 1..])),
        _ => (value, None),
    }
}

/// A port: one to five decimal digits, at most 65535.
fn port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    u16::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn hosts_and_ports() {
        // (value, host, port, why)
        let cases: &[(&str, &str, Option<u16>, &str)] = &[
            ("example.com", "example.com", None, "no port"),
            ("example.com:8080", "example.com", Some(8080), "port"),
            ("127.0.0.1:3000", "127.0.0.1", Some(3000), "IPv4 and port"),
            ("[::1]:80", "::1", Some(80), "IPv6 and port"),
            ("[::1]", "::1", None, "IPv6 without port"),
            ("2001:db8::17", "2001:db8::17", None, "bare IPv6 (a for node)"),
            ("example.com:http", "example.com", None, "a port that is not a number"),
            ("example.com:99999", "example.com", None, "a port out of range"),
            ("example.com:", "example.com", None, "an empty port"),
            ("example.com:+80", "example.com", None, "a sign is not a digit"),
            ("[::1", "[::1", None, "an unclosed bracket: the value whole"),
        ];
        for (value, host, port, why) in cases {
            assert_eq!(split_host_port(value), (*host, *port), "{why}");
        }
    }

    /// (headers, client, proto, host, why)
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
    );

    #[rustfmt::skip]
    #[test]
    fn forwarded_headers() {
        let cases: &[Case<'_>] = &[
            (&[], None, None, None, "none"),
            (&[("forwarded", "for=192.0.2.60;proto=https;host=example.com")],
                Some("192.0.2.60"), Some("https"), Some("example.com"), "RFC 7239"),
            (&[("forwarded", "for=192.0.2.60, for=198.51.100.17")],
                Some("192.0.2.60"), None, None, "first element only"),
            (&[("forwarded", "For=\"[2001:db8:cafe::17]:4711\"")],
                Some("2001:db8:cafe::17"), None, None, "quoted IPv6 with port, name in any case"),
            (&[("forwarded", "proto=http;by=203.0.113.43"), ("x-forwarded-for", "10.1.1.1, 10.0.0.2")],
                Some("10.1.1.1"), Some("http"), None, "X-Forwarded-For for what Forwarded did not say"),
            (&[("x-forwarded-for", " 203.0.113.195:41237 , 70.41.3.18"), ("x-forwarded-proto", "https"),
               ("x-forwarded-host", "shop.example")],
                Some("203.0.113.195"), Some("https"), Some("shop.example"), "X-Forwarded-*"),
            (&[("forwarded", "for=;proto=\"\"")], None, None, None, "empty values"),
            (&[("forwarded", "garbage")], None, None, None, "no parameters"),
            (&[("x-forwarded-for", ",10.0.0.1")], None, None, None, "an empty first member"),
        ];
        for (pairs, client, proto, host, why) in cases {
            let mut headers = http::HeaderMap::new();
            for (k, v) in *pairs {
                headers.append(http::HeaderName::from_static(k), v.parse().unwrap());
            }
            let info = ForwardedInfo::of(&headers, 1024);
            assert_eq!((info.client, info.proto, info.host), (*client, *proto, *host), "{why}");
        }
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-host", "a".repeat(5000).parse().unwrap());
        assert_eq!(ForwardedInfo::of(&headers, 16).host.map(str::len), Some(16), "cut to the bound");
    }
}
