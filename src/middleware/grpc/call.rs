//! One traced gRPC call ([`Call`]), on either side: the span it starts with,
//! the status it reads from the response's headers or trailers, and how it
//! ends; the status codes and which of them are errors on each side.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use crate::metrics::{Instrument, Recorder};
use crate::middleware::attributes::{capped, push_peer};
use crate::middleware::metered::{AttrBuf, Meter};

/// `rpc.system.name` (and the span name of a call whose method is not known).
const GRPC: &str = "grpc";

/// The names of a status's metadata, made once (a `&str` name is parsed again
/// at every look-up).
const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");

/// The attributes a span starts with (`rpc.system.name`, `rpc.method`,
/// `rpc.method_original`, `server.address`, `server.port`,
/// `network.peer.address`, `network.peer.port`, `client.address`) and the
/// most it gets at its end (`rpc.response.status_code`, `error.type`): the
/// SDK keeps the `Vec` the span starts with, so one with room for all never
/// grows.
const MAX_ATTRIBUTES: usize = 10;

/// The gRPC status codes by number, as `rpc.response.status_code` records them.
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

pub(super) const CANCELLED: u8 = 1;
const UNKNOWN: u8 = 2;
const UNIMPLEMENTED: u8 = 12;
pub(super) const UNAVAILABLE: u8 = 14;

/// The side of a call, which decides what is an error: every status but OK
/// for a client; for a server, only those the semantic conventions list
/// (a caller's bad argument is not the server's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Server,
    Client,
}

impl Side {
    fn is_error(self, code: u8) -> bool {
        match self {
            Side::Client => code != 0,
            // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
            Side::Server => matches!(code, 2 | 4 | 12 | 13 | 14 | 15),
        }
    }
}

/// `"pkg.Service/Method"` of a request path `/pkg.Service/Method`, if it has
/// that form.
fn method_of(path: &str) -> Option<&str> {
    let method = path.strip_prefix('/')?;
    // Bytes, not `char` patterns: a path is short, and `/` is ASCII.
    let slash = method.bytes().position(|b| b == b'/')?;
    let name = &method.as_bytes()[slash + 1..];
    (slash > 0 && !name.is_empty() && !name.contains(&b'/')).then_some(method)
}

/// A status code from a `grpc-status` value (`0` to `16`).
fn parse_code(value: &http::HeaderValue) -> Option<u8> {
    let code: u8 = std::str::from_utf8(value.as_bytes()).ok()?.parse().ok()?;
    (usize::from(code) < CODES.len()).then_some(code)
}

/// One traced call: its span's context and what is known of its end.
#[derive(Debug)]
pub(super) struct Call {
    pub(super) cx: Context,
    pub(super) side: Side,
    /// A server's call whose method was recorded as it came: an
    /// `UNIMPLEMENTED` answer renames the span `grpc`.
    renamable: bool,
    /// The status the response's headers carried (a trailers-only response).
    pub(super) status: Option<(u8, Option<String>)>,
    max_attribute_len: usize,
    /// The call's measurement (`rpc.server.call.duration`,
    /// `rpc.client.call.duration`), when the layer records metrics.
    meter: Option<Meter>,
    /// `rpc.method` (`None`: `_OTHER`), shared with the span.
    method: Option<Arc<str>>,
    /// `server.address` and `server.port` of a client's call.
    server: Option<(Arc<str>, Option<u16>)>,
}

/// What a layer knows of the calls it traces, besides the request.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Known<'a> {
    /// The server the channel talks to (client).
    pub(super) server: Option<&'a (String, Option<u16>)>,
    /// The services served (server), if the user listed them.
    pub(super) services: Option<&'static [&'static str]>,
    /// The peer's address (server, from its `peer_fn`).
    pub(super) peer: Option<std::net::SocketAddr>,
    /// Where the layer records its measurements (`None`: nowhere).
    pub(super) metrics: Option<&'a Recorder>,
}

impl Call {
    /// Starts the call's span with the sampling-relevant attributes
    /// (`rpc.system.name`, `rpc.method`, `server.address`, `server.port`) in
    /// the builder, so a sampler sees them.
    pub(super) fn start<B>(
        req: &http::Request<B>,
        side: Side,
        parent: &Context,
        links: Vec<opentelemetry::trace::Link>,
        known: Known<'_>,
        max: usize,
        spans: &crate::bridge::Spans,
    ) -> Call {
        let meter = known.metrics.and_then(Meter::start);
        let path = req.uri().path();
        // A method is known to the instrumentation when the path has its form
        // and, on a server given its services, one of them serves it.
        let method = method_of(path).filter(|method| match known.services {
            Some(services) => method
                .rsplit_once('/')
                .is_some_and(|(service, _)| services.contains(&service)),
            None => true,
        });
        let mut attributes = Vec::with_capacity(MAX_ATTRIBUTES);
        attributes.push(KeyValue::new("rpc.system.name", GRPC));
        let mut metric_method = None;
        let name: Cow<'static, str> = match method {
            Some(method) => {
                let method: Arc<str> = capped(method, max).into();
                attributes.push(KeyValue::new("rpc.method", method.clone()));
                let name = String::from(&*method);
                metric_method = Some(method);
                name.into()
            }
            // So that callers cannot mint span names or `rpc.method`s.
            None => {
                attributes.push(KeyValue::new("rpc.method", "_OTHER"));
                let original = path.strip_prefix('/').unwrap_or(path);
                attributes.push(KeyValue::new(
                    "rpc.method_original",
                    capped(original, max).to_owned(),
                ));
                GRPC.into()
            }
        };
        let (host, port) = match (req.uri().host(), known.server) {
            (Some(host), _) => (Some(host), req.uri().port_u16()),
            (None, Some((host, port))) => (Some(host.as_str()), *port),
            (None, None) => (None, None),
        };
        let host: Option<Arc<str>> = host.map(|host| capped(host, max).into());
        if let Some(host) = &host {
            attributes.push(KeyValue::new("server.address", host.clone()));
        }
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        // A server's `server.address` is opt-in for its metric (v1.44.0).
        let server = match (side, meter.is_some()) {
            (Side::Client, true) => host.map(|host| (host, port)),
            _ => None,
        };
        if let Some(peer) = known.peer {
            let address = push_peer(peer, &mut attributes);
            attributes.push(KeyValue::new("client.address", address));
        }
        let mut builder = SpanBuilder::from_name(name)
            .with_kind(match side {
                Side::Server => SpanKind::Server,
                Side::Client => SpanKind::Client,
            })
            .with_attributes(attributes);
        if !links.is_empty() {
            builder = builder.with_links(links);
        }
        builder.start_time = meter.as_ref().map(Meter::start_time);
        Call {
            cx: spans.start(builder, parent),
            side,
            renamable: side == Side::Server && method.is_some(),
            status: None,
            max_attribute_len: max,
            method: metric_method.filter(|_| meter.is_some()),
            meter,
            server,
        }
    }

    /// Notes the status of a trailers-only response (or of the trailers).
    pub(super) fn read_status(&mut self, headers: &http::HeaderMap) {
        let Some(code) = headers.get(GRPC_STATUS).and_then(parse_code) else {
            return;
        };
        // Only an error's status carries the message (`finish`): the others
        // are not looked up nor decoded.
        if !self.side.is_error(code) {
            self.status = Some((code, None));
            return;
        }
        // Percent-encoded (gRPC over HTTP/2); cut before and after decoding.
        let max = self.max_attribute_len;
        let message = headers
            .get(GRPC_MESSAGE)
            .and_then(|m| m.to_str().ok())
            .and_then(|m| {
                crate::untrusted::percent_decode(
                    capped(m, max.saturating_mul(3)),
                    crate::untrusted::NotUtf8::Replace,
                )
            })
            .map(|text| capped(&text, max).to_owned())
            .filter(|m| !m.is_empty());
        self.status = Some((code, message));
    }

    /// Ends the span with `code` (its message, if the peer sent one: the
    /// status's description; none otherwise, as the conventions ask of a
    /// description the status code already gives).
    pub(super) fn finish(mut self, code: u8, message: Option<String>) {
        let span = self.cx.span();
        let name = CODES[usize::from(code)];
        // A server cannot tell a method it does not serve from one it does
        // before the answer (the list of services, if given, only tells
        // services apart): UNIMPLEMENTED says so, and the span is renamed so
        // that callers cannot mint span names (its `rpc.method`, given at the
        // start for samplers, stays: the SDK cannot replace an attribute).
        if self.renamable && code == UNIMPLEMENTED {
            span.update_name(GRPC);
        }
        let error = self.side.is_error(code);
        // One `set_attributes`: the span's lock is taken once for all.
        let status = KeyValue::new("rpc.response.status_code", name);
        let error_type = error.then(|| KeyValue::new("error.type", name));
        span.set_attributes([Some(status), error_type].into_iter().flatten());
        if error {
            span.set_status(Status::error(message.unwrap_or_default()));
        }
        let Some(meter) = self.meter.take() else {
            span.end();
            return;
        };
        let mut a = AttrBuf::default();
        a.str("rpc.system.name", GRPC);
        // A method the server does not implement is `_OTHER` in the metric
        // (a caller could otherwise mint series).
        match &self.method {
            Some(method) if !(self.side == Side::Server && code == UNIMPLEMENTED) => {
                a.str("rpc.method", method)
            }
            _ => a.str("rpc.method", "_OTHER"),
        }
        if let Some((host, port)) = &self.server {
            a.str("server.address", host);
            if let Some(port) = port {
                a.int("server.port", i64::from(*port));
            }
        }
        a.str("rpc.response.status_code", name);
        if error {
            a.str("error.type", name);
        }
        let instrument = match self.side {
            Side::Server => Instrument::RpcServer,
            Side::Client => Instrument::RpcClient,
        };
        meter.end(&self.cx, instrument, a.as_slice());
    }

    /// Ends the span of a call whose response stream ended: with the status
    /// its trailers (or the headers of a trailers-only response) carried,
    /// else `UNKNOWN`.
    pub(super) fn end(mut self) {
        match self.status.take() {
            Some((code, message)) => self.finish(code, message),
            // A stream that ends without a status.
            None => self.finish(UNKNOWN, None),
        }
    }

    /// Ends the span of a call whose response never came (the transport
    /// failed on a client, the inner service failed on a server):
    /// `UNAVAILABLE`, with the error's words.
    pub(super) fn fail(self, error: &dyn fmt::Display) {
        let max = self.max_attribute_len;
        let text = error.to_string();
        self.finish(UNAVAILABLE, Some(capped(&text, max).to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_codes() {
        // (path, the method)
        let cases = [
            ("/demo.Inventory/Check", Some("demo.Inventory/Check")),
            ("/Inventory/Check", Some("Inventory/Check")),
            ("/demo.Inventory/", None),
            ("//Check", None),
            ("/demo.Inventory", None),
            ("/a/b/c", None),
            ("demo.Inventory/Check", None),
            ("/", None),
        ];
        for (path, method) in cases {
            assert_eq!(method_of(path), method, "{path}");
        }
        // (grpc-status, the code)
        let codes = [
            ("0", Some(0)),
            ("5", Some(5)),
            ("16", Some(16)),
            ("17", None),
            ("-1", None),
            ("1x", None),
            ("", None),
            ("999999999999", None),
        ];
        for (value, code) in codes {
            assert_eq!(
                parse_code(&http::HeaderValue::from_static(value)),
                code,
                "{value}"
            );
        }
        // Errors by side.
        assert!(Side::Client.is_error(5) && !Side::Server.is_error(5));
        for code in [2, 4, 12, 13, 14, 15] {
            assert!(Side::Server.is_error(code), "{}", CODES[code as usize]);
        }
        assert!(!Side::Server.is_error(0) && !Side::Client.is_error(0));
    }
}
