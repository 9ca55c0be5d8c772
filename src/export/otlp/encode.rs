//! OTLP's protobuf encoding, item by item: each span (or log record) is encoded
//! once, on the export thread, with its scope; a request is assembled from
//! those bytes with the resource and the scopes encoded once (see
//! `OtlpExporter::request`), and retries resend the same bytes.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use prost::bytes::BufMut as _;
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message as _;

/// One kind of OTLP data: how an item is encoded and where it is sent.
pub(crate) trait Signal: Send + 'static {
    /// The SDK's item (a finished span, a log record with its scope).
    type Item: Send + 'static;
    /// The item's name in reports.
    const KIND: &'static str;
    /// The gRPC method.
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str;
    /// The item as (its scope, its schema URL, its encoded protobuf message).
    fn encode(item: Self::Item) -> (ProtoScope, String, Vec<u8>);
}

/// Finished spans (`ExportTraceServiceRequest`).
#[derive(Debug)]
pub(crate) struct Traces;

impl Signal for Traces {
    type Item = opentelemetry_sdk::trace::SpanData;
    const KIND: &'static str = "span";
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    fn encode(span: Self::Item) -> (ProtoScope, String, Vec<u8>) {
        let scope = ProtoScope::from((&span.instrumentation_scope, None));
        let schema = span
            .instrumentation_scope
            .schema_url()
            .unwrap_or_default()
            .to_owned();
        let proto = opentelemetry_proto::tonic::trace::v1::Span::from(span);
        (scope, schema, proto.encode_to_vec())
    }
}

/// Log records (`ExportLogsServiceRequest`: the same field numbers as traces).
#[cfg(feature = "logs")]
#[derive(Debug)]
pub(crate) struct Logs;

#[cfg(feature = "logs")]
impl Signal for Logs {
    type Item = crate::export::queue::LogItem;
    const KIND: &'static str = "log record";
    #[cfg(feature = "otlp-grpc")]
    const GRPC_PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

    fn encode((record, scope): Self::Item) -> (ProtoScope, String, Vec<u8>) {
        let proto_scope = ProtoScope::from((&scope, record.target().cloned()));
        let schema = scope.schema_url().unwrap_or_default().to_owned();
        let proto = opentelemetry_proto::tonic::logs::v1::LogRecord::from(&record);
        (proto_scope, schema, proto.encode_to_vec())
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
