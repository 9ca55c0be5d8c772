//! OTLP's protobuf encoding, item by item: each span (or log record) is encoded
//! once, on the export thread, with its scope; a request is assembled from
//! those bytes with the resource and the scopes encoded once (see
//! `OtlpExporter::request`), and retries resend the same bytes.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use prost::bytes::BufMut as _;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

/// One kind of OTLP data: how an item is encoded and where it is sent.
pub(crate) trait Signal: Send + 'static {
    /// The queued item (a span encoded when it ended, a log record with its
    /// scope).
    type Item: Send + 'static;
    /// What tells an item's scope from another's, compared item by item
    /// (kept, cloned, only when the scope changes).
    type ScopeKey: PartialEq + Send + 'static;
    /// The item's name in reports.
    const KIND: &'static str;
    /// The gRPC method.
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str;
    /// Whether `item`'s scope is `key`.
    fn has_scope(item: &Self::Item, key: &Self::ScopeKey) -> bool;
    /// The item's scope: its key, its protobuf message and schema URL.
    fn scope(item: &Self::Item) -> (Self::ScopeKey, ProtoScope, String);
    /// The item's protobuf message (its fields); `capacity`: the length of
    /// the last one.
    fn into_bytes(item: Self::Item, capacity: usize) -> Vec<u8>;
}

/// A finished span as the queue holds it for OTLP: its `Span` message,
/// written straight from `SpanData` ([`super::span_proto`]) when the span
/// ended, and its scope (moved out of it). The rest of the span is freed on
/// the thread that ended it, where its memory came from.
#[derive(Debug)]
pub(crate) struct SpanBytes {
    scope: opentelemetry::InstrumentationScope,
    bytes: Vec<u8>,
}

/// The length of the last span encoded, a new buffer's first capacity (most
/// spans of a service are alike).
static LAST_SPAN_LEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(256);

/// Buffers of sent items, given back by the export thread for the next spans
/// to be encoded into: in a steady state a span's encoding allocates nothing
/// (and no memory goes from one thread's allocator to another's). Bounded:
/// [`POOL_BYTES`] of buffers of at most [`POOL_BUFFER_BYTES`] each.
static POOL: std::sync::Mutex<Pool> = std::sync::Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});
const POOL_BYTES: usize = 1024 * 1024;
const POOL_BUFFER_BYTES: usize = 16 * 1024;

struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

/// A buffer for a span: one given back, else a new one. Never waits: when the
/// export thread holds the pool, a new buffer is made.
fn take_buffer() -> Vec<u8> {
    use std::sync::atomic::Ordering::Relaxed;
    if let Ok(mut pool) = POOL.try_lock() {
        if let Some(buffer) = pool.buffers.pop() {
            pool.bytes -= buffer.capacity();
            return buffer;
        }
    }
    Vec::with_capacity(LAST_SPAN_LEN.load(Relaxed))
}

/// Keeps the buffers of sent items for the next spans, within the pool's bounds.
pub(crate) fn give_back(buffers: impl Iterator<Item = Vec<u8>>) {
    let Ok(mut pool) = POOL.lock() else { return };
    for mut buffer in buffers {
        let capacity = buffer.capacity();
        if capacity == 0 || capacity > POOL_BUFFER_BYTES || pool.bytes + capacity > POOL_BYTES {
            continue;
        }
        buffer.clear();
        pool.bytes += capacity;
        pool.buffers.push(buffer);
    }
}

impl crate::export::queue::FromSpan for SpanBytes {
    fn from_span(span: opentelemetry_sdk::trace::SpanData) -> (Self, usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let mut bytes = take_buffer();
        super::span_proto::span(&mut bytes, &span);
        LAST_SPAN_LEN.store(bytes.len(), Relaxed);
        let scope = span.instrumentation_scope;
        // What it holds: the bytes, and the scope (its texts mostly static).
        let size = std::mem::size_of::<Self>()
            + bytes.capacity()
            + crate::export::size::scope_bytes(&scope);
        (Self { scope, bytes }, size)
    }
}

/// Finished spans (`ExportTraceServiceRequest`).
#[derive(Debug)]
pub(crate) struct Traces;

impl Signal for Traces {
    type Item = SpanBytes;
    type ScopeKey = opentelemetry::InstrumentationScope;
    const KIND: &'static str = "span";
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    fn has_scope(span: &Self::Item, key: &Self::ScopeKey) -> bool {
        crate::export::scopes::same_scope(&span.scope, key)
    }

    fn scope(span: &Self::Item) -> (Self::ScopeKey, ProtoScope, String) {
        let scope = &span.scope;
        (
            scope.clone(),
            ProtoScope::from((scope, None)),
            scope.schema_url().unwrap_or_default().to_owned(),
        )
    }

    fn into_bytes(span: Self::Item, _capacity: usize) -> Vec<u8> {
        span.bytes
    }
}

/// Log records (`ExportLogsServiceRequest`: the same field numbers as traces).
#[cfg(feature = "logs")]
#[derive(Debug)]
pub(crate) struct Logs;

#[cfg(feature = "logs")]
impl Signal for Logs {
    type Item = crate::export::queue::LogItem;
    /// The scope and the record's target (its scope's name over OTLP).
    type ScopeKey = (
        opentelemetry::InstrumentationScope,
        Option<std::borrow::Cow<'static, str>>,
    );
    const KIND: &'static str = "log record";
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

    fn has_scope((record, scope): &Self::Item, key: &Self::ScopeKey) -> bool {
        *scope == key.0 && record.target() == key.1.as_ref()
    }

    fn scope((record, scope): &Self::Item) -> (Self::ScopeKey, ProtoScope, String) {
        let target = record.target().cloned();
        (
            (scope.clone(), target.clone()),
            ProtoScope::from((scope, target)),
            scope.schema_url().unwrap_or_default().to_owned(),
        )
    }

    fn into_bytes((record, _): Self::Item, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        super::log_proto::log_record(&mut out, &record);
        out
    }
}

/// The request metrics' histograms (`ExportMetricsServiceRequest`: the same
/// field numbers as traces), all of the crate's scope.
#[derive(Debug)]
pub(crate) struct Metrics;

impl Signal for Metrics {
    type Item = crate::metrics::Histogram;
    type ScopeKey = ();
    const KIND: &'static str = "metric";
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str =
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

    fn has_scope(_: &Self::Item, _: &()) -> bool {
        true
    }

    fn scope(_: &Self::Item) -> ((), ProtoScope, String) {
        (
            (),
            ProtoScope::from((&crate::metrics::scope(), None)),
            String::new(),
        )
    }

    fn into_bytes(histogram: Self::Item, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        super::metric_proto::metric(&mut out, &histogram);
        out
    }
}

/// One encoded item: its scope (an index into the exporter's scopes) and bytes.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(super) scope: u32,
    pub(super) bytes: Vec<u8>,
}

/// The bytes of a length-delimited field of `len` bytes.
pub(super) fn field_len(tag: u32, len: usize) -> usize {
    prost::encoding::key_len(tag) + encoded_len_varint(len as u64) + len
}

/// The key and length of a length-delimited field of `len` bytes.
pub(super) fn put_field(out: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// A string field (omitted when empty, as protobuf does).
pub(super) fn put_string(out: &mut Vec<u8>, tag: u32, value: &str) {
    if !value.is_empty() {
        put_field(out, tag, value.len());
        out.put_slice(value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::{give_back, take_buffer, POOL, POOL_BUFFER_BYTES, POOL_BYTES};

    /// The pool keeps at most its bytes, no large buffer, and gives buffers
    /// back empty.
    #[test]
    fn the_buffer_pool_is_bounded() {
        give_back((0..10_000).map(|i| {
            let mut b = Vec::with_capacity(if i % 10 == 0 { 64 * 1024 } else { 512 });
            b.extend_from_slice(b"used");
            b
        }));
        {
            let pool = POOL.lock().unwrap();
            assert!(pool.bytes <= POOL_BYTES, "{} bytes", pool.bytes);
            assert!(pool
                .buffers
                .iter()
                .all(|b| b.capacity() <= POOL_BUFFER_BYTES));
            assert_eq!(
                pool.bytes,
                pool.buffers.iter().map(Vec::capacity).sum::<usize>()
            );
        }
        assert!(take_buffer().is_empty());
    }
}
