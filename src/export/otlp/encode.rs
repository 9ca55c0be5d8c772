//! OTLP's protobuf encoding, item by item: each span (or log record) is encoded
//! once, on the export thread, with its scope; a request is assembled from
//! those bytes with the resource and the scopes encoded once (see
//! `OtlpExporter::request`), and retries resend the same bytes.

pub(super) use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use prost::bytes::BufMut as _;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

/// One kind of OTLP data: how an item is encoded and where it is sent.
pub(crate) trait Signal: Send + 'static {
    /// The SDK's item (a finished span, a log record with its scope).
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
    /// Appends the item's protobuf message (its fields) to `out`.
    fn encode(item: Self::Item, out: &mut Vec<u8>);
}

/// Finished spans (`ExportTraceServiceRequest`), written straight from
/// `SpanData` ([`super::span_proto`]).
#[derive(Debug)]
pub(crate) struct Traces;

impl Signal for Traces {
    type Item = opentelemetry_sdk::trace::SpanData;
    type ScopeKey = opentelemetry::InstrumentationScope;
    const KIND: &'static str = "span";
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    fn has_scope(span: &Self::Item, key: &Self::ScopeKey) -> bool {
        span.instrumentation_scope == *key
    }

    fn scope(span: &Self::Item) -> (Self::ScopeKey, ProtoScope, String) {
        let scope = &span.instrumentation_scope;
        (
            scope.clone(),
            ProtoScope::from((scope, None)),
            scope.schema_url().unwrap_or_default().to_owned(),
        )
    }

    fn encode(span: Self::Item, out: &mut Vec<u8>) {
        super::span_proto::span(out, &span);
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

    fn encode((record, _): Self::Item, out: &mut Vec<u8>) {
        super::log_proto::log_record(out, &record);
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
