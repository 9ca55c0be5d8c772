//! The OTLP exporter of the export thread: spans (and, with feature `logs`,
//! log records) encoded one by one, sent over OTLP/HTTP (hyper) or OTLP/gRPC
//! (tonic), in plain text or TLS (`tls.rs`), with every failure classified.
//!
//! Why not `opentelemetry-otlp`'s exporters: the export thread must know, for
//! each request, how large it is before it is sent (so one request stays under
//! the collector's limit), whether a failure is worth retrying and after how
//! long (the OTLP specification's retryable codes and throttling hints), and
//! whether the collector rejected it as too large (so the batch is split, not
//! dropped). The upstream exporters take a whole batch and return an opaque
//! error string, and retry inside `export`, where spans are no longer queued.
//!
//! Each item is encoded once, on the export thread, into its protobuf bytes
//! (`Span` or `LogRecord`); a request is assembled from those bytes with the
//! resource and scopes encoded once. Retries resend the same bytes.
//!
//! Parts: `encode` (the protobuf bytes), `http` and `grpc` (the two
//! transports), `answers` (what a collector's answer means: pure functions,
//! table tested) and `tls` (the connector and the handshake's failures in
//! words).

pub(crate) mod answers;
mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;
#[cfg(feature = "logs")]
mod log_proto;
mod metric_proto;
pub(crate) mod span_proto;
mod tls;

use std::fmt;
use std::time::Duration;

use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use prost::bytes::Bytes;
use prost::Message as _;

#[cfg(feature = "logs")]
pub(crate) use encode::Logs;
use encode::{field_len, put_field, put_string};
pub(crate) use encode::{Encoded, Metrics, Signal, SpanBytes, Traces};
#[cfg(feature = "otlp-http")]
use http::HttpClient;

use super::scopes::Scopes;
use super::{Export, Failure, Sent};
use crate::config::{OtlpCompression, OtlpConfig, OtlpProtocol, OtlpTarget};

/// The transport of one exporter.
enum Transport {
    #[cfg(feature = "otlp-http")]
    Http {
        /// Boxed: the client is much larger than the gRPC side.
        client: Box<HttpClient>,
        url: ::http::Uri,
        headers: ::http::HeaderMap,
        /// Whether bodies are sent gzip-compressed (`Content-Encoding: gzip`).
        gzip: bool,
    },
    #[cfg(feature = "otlp-grpc")]
    Grpc {
        grpc: tonic::client::Grpc<tonic::transport::Channel>,
        metadata: tonic::metadata::MetadataMap,
    },
}

/// The connector for `target`'s endpoint: TLS with its files for `https://`,
/// plain TCP otherwise (`http2`: gRPC).
fn connector(
    target: OtlpTarget<'_>,
    timeout: Duration,
    http2: bool,
    failures: &tls::TlsFailures,
) -> crate::Result<tls::Recording> {
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(timeout));
    // A plain-text endpoint never uses the TLS configuration: no roots loaded.
    let config = match crate::config::is_https(target.endpoint) {
        true => crate::config::tls::client_config(target.tls, crate::config::tls::FIELD_NAMES),
        false => crate::config::tls::unused_config(),
    }
    .map_err(|e| {
        crate::Error::Exporter(format!(
            "OTLP TLS for {}: {e}",
            crate::config::redact_url(target.endpoint)
        ))
    })?;
    Ok(tls::connector(config, tcp, http2, failures))
}

/// The OTLP exporter of one signal.
pub(crate) struct OtlpExporter<S: Signal> {
    transport: Transport,
    /// TLS failures the transport's errors do not carry.
    tls_failures: tls::TlsFailures,
    /// The endpoint as shown in reports (credentials masked).
    shown: String,
    /// The resource's fields of `ResourceSpans`/`ResourceLogs`, encoded once.
    resource: Vec<u8>,
    /// Each scope's fields of `ScopeSpans`/`ScopeLogs`, encoded once.
    scopes: Scopes<Vec<u8>, S::ScopeKey>,
    /// The length of the last item encoded (the next one's first capacity).
    last_len: usize,
    max_request_bytes: usize,
    timeout: Duration,
    _signal: std::marker::PhantomData<S>,
}

impl<S: Signal> fmt::Debug for OtlpExporter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("endpoint", &self.shown)
            .finish_non_exhaustive()
    }
}

/// The most of a response body that is read (a partial-success message is a
/// few bytes; a wrong endpoint may answer with anything).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

impl<S: Signal> OtlpExporter<S> {
    /// The exporter for `config`'s endpoint of this signal. Runs inside the
    /// export thread's runtime (tonic's lazy channel needs one).
    pub(crate) fn new(
        config: &OtlpConfig,
        target: OtlpTarget<'_>,
        max_request_bytes: usize,
    ) -> crate::Result<Self> {
        let endpoint = target.endpoint;
        let gzip = target.compression == OtlpCompression::Gzip;
        let shown = crate::config::redact_url(endpoint);
        let tls_failures = tls::TlsFailures::default();
        let transport = match config.protocol {
            #[cfg(feature = "otlp-http")]
            OtlpProtocol::HttpProtobuf => {
                let mut headers = ::http::HeaderMap::new();
                for (k, v) in &config.headers {
                    if let (Ok(name), Ok(value)) = (
                        ::http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
                        ::http::HeaderValue::from_str(v),
                    ) {
                        headers.insert(name, value);
                    }
                }
                let url = endpoint.parse::<::http::Uri>().map_err(|e| {
                    crate::Error::Exporter(format!("OTLP/HTTP endpoint {shown}: {e}"))
                })?;
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(connector(target, config.timeout, false, &tls_failures)?);
                Transport::Http {
                    client: Box::new(client),
                    url,
                    headers,
                    gzip,
                }
            }
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                let endpoint = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
                    .map_err(|e| {
                        crate::Error::Exporter(format!("OTLP/gRPC endpoint {shown}: {e}"))
                    })?
                    .connect_timeout(config.timeout)
                    .tcp_nodelay(true)
                    // A collector's headers and trailers, at most (h2's
                    // default is 16 MiB a response).
                    .http2_max_header_list_size(MAX_RESPONSE_BYTES as u32);
                let channel = match crate::config::is_https(target.endpoint) {
                    true => endpoint.connect_with_connector_lazy(connector(
                        target,
                        config.timeout,
                        true,
                        &tls_failures,
                    )?),
                    false => endpoint.connect_lazy(),
                };
                let mut metadata = tonic::metadata::MetadataMap::new();
                for (k, v) in &config.headers {
                    if let (Ok(name), Ok(value)) = (
                        tonic::metadata::AsciiMetadataKey::from_bytes(
                            k.to_ascii_lowercase().as_bytes(),
                        ),
                        v.parse::<tonic::metadata::AsciiMetadataValue>(),
                    ) {
                        metadata.insert(name, value);
                    }
                }
                // An answer over MAX_RESPONSE_BYTES is refused as its
                // length prefix arrives, before it is buffered.
                let mut grpc =
                    tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_RESPONSE_BYTES);
                if gzip {
                    // `grpc-encoding: gzip`, each message compressed; and the
                    // answer may be too (a Go collector answers a gzip request
                    // in gzip).
                    grpc = grpc
                        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                Transport::Grpc { grpc, metadata }
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err(crate::Error::Exporter(format!(
                    "OTLP over {} is not in this build: enable the crate feature {}",
                    other.as_str(),
                    match other {
                        OtlpProtocol::Grpc => "otlp-grpc",
                        OtlpProtocol::HttpProtobuf => "otlp-http",
                    }
                )))
            }
        };
        Ok(Self {
            transport,
            tls_failures,
            shown,
            resource: Vec::new(),
            scopes: Scopes::default(),
            last_len: 256,
            max_request_bytes,
            timeout: config.timeout,
            _signal: std::marker::PhantomData,
        })
    }

    /// The request for `batch`: one `ResourceSpans` (`ResourceLogs`) holding
    /// one `ScopeSpans` (`ScopeLogs`) per scope, in the order first seen.
    fn request(&self, batch: &[Encoded]) -> Vec<u8> {
        let mut order: Vec<u32> = Vec::new();
        for item in batch {
            if !order.contains(&item.scope) {
                order.push(item.scope);
            }
        }
        let scope_len = |scope: u32| -> usize {
            self.scopes.get(scope).len()
                + batch
                    .iter()
                    .filter(|i| i.scope == scope)
                    .map(|i| field_len(2, i.bytes.len()))
                    .sum::<usize>()
        };
        let scope_lens: Vec<usize> = order.iter().map(|&s| scope_len(s)).collect();
        let resource_len =
            self.resource.len() + scope_lens.iter().map(|&l| field_len(2, l)).sum::<usize>();
        let mut out = Vec::with_capacity(field_len(1, resource_len));
        put_field(&mut out, 1, resource_len);
        out.extend_from_slice(&self.resource);
        for (&scope, &len) in order.iter().zip(&scope_lens) {
            put_field(&mut out, 2, len);
            out.extend_from_slice(self.scopes.get(scope));
            for item in batch.iter().filter(|i| i.scope == scope) {
                put_field(&mut out, 2, item.bytes.len());
                out.extend_from_slice(&item.bytes);
            }
        }
        out
    }
}

impl<S: Signal> Export for OtlpExporter<S> {
    type Item = S::Item;
    type Encoded = Encoded;
    const KIND: &'static str = S::KIND;

    fn encode(&mut self, item: S::Item) -> Encoded {
        let scope = self.scopes.index_of(
            |key| S::has_scope(&item, key),
            || {
                // The scope's fields of ScopeSpans/ScopeLogs: scope = 1, schema_url = 3.
                let (key, scope, schema) = S::scope(&item);
                let mut encoded = Vec::new();
                put_field(&mut encoded, 1, scope.encoded_len());
                scope.encode_raw(&mut encoded);
                put_string(&mut encoded, 3, &schema);
                (key, encoded)
            },
        );
        // Sized as the last item was: most items of a service are alike.
        let bytes = S::into_bytes(item, self.last_len);
        self.last_len = bytes.len();
        Encoded { scope, bytes }
    }

    fn encoded_len(item: &Encoded) -> usize {
        field_len(2, item.bytes.len())
    }

    fn max_request_bytes(&self) -> Option<usize> {
        Some(self.max_request_bytes)
    }

    fn recycle(&mut self, items: Vec<Encoded>) {
        encode::give_back(items.into_iter().map(|item| item.bytes));
    }

    async fn send(&mut self, batch: &[Encoded], timeout: Duration) -> Result<Sent, Failure> {
        let body = Bytes::from(self.request(batch));
        if body.len() > self.max_request_bytes {
            return Err(Failure::TooLarge(format!(
                "{} bytes, over the {} bytes one request may carry",
                body.len(),
                self.max_request_bytes
            )));
        }
        let response = match &mut self.transport {
            #[cfg(feature = "otlp-http")]
            Transport::Http {
                client,
                url,
                headers,
                gzip,
            } => http::send_http(client, url, headers, body, *gzip, timeout).await,
            #[cfg(feature = "otlp-grpc")]
            Transport::Grpc { grpc, metadata } => {
                grpc::send_grpc(grpc, metadata, S::GRPC_PATH, body, timeout).await
            }
        };
        // What the connections noted since the last request.
        let tls_failure = self.tls_failures.take();
        match response {
            Ok(Reply::Body(body)) => Ok(answers::partial_success(&body, batch.len() as u64)),
            Ok(Reply::Unread(why)) => Ok(Sent {
                unread: Some(why),
                ..Sent::default()
            }),
            // A connection that failed in TLS: say so, whatever the
            // transport made of it ("connection closed", "broken pipe").
            Err(
                Failure::Unreachable(_)
                | Failure::Interrupted(_)
                | Failure::TimedOut(_)
                | Failure::Transport(_),
            ) if tls_failure.is_some() => Err(Failure::Tls(tls_failure.unwrap_or_default())),
            Err(failure) => Err(failure),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        // The resource's fields of ResourceSpans/ResourceLogs: resource = 1, schema_url = 3.
        let attributes = ResourceAttributesWithSchema::from(resource);
        let proto = opentelemetry_proto::tonic::resource::v1::Resource {
            attributes: attributes.attributes.0,
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        };
        let mut out = Vec::new();
        put_field(&mut out, 1, proto.encoded_len());
        proto.encode_raw(&mut out);
        put_string(&mut out, 3, attributes.schema_url.as_deref().unwrap_or(""));
        self.resource = out;
    }

    fn request_timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    fn destination(&self) -> &str {
        &self.shown
    }

    fn shutdown(&mut self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// What an accepted request's transport read of the answer.
#[derive(Debug)]
enum Reply {
    /// The answer's body (at most [`MAX_RESPONSE_BYTES`]).
    Body(Vec<u8>),
    /// Why it could not be read.
    Unread(String),
}

fn too_long_answer() -> String {
    format!(
        "its answer is over {} KiB and was not read",
        MAX_RESPONSE_BYTES / 1024
    )
}

fn unfinished_answer(timeout: Duration) -> String {
    format!(
        "its answer did not arrive whole within {} ms",
        timeout.as_millis()
    )
}

/// The error and its causes, `a: b: c`, shortened.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    crate::untrusted::shorten_untrusted(&text, 300).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

    fn span(scope: &str, name: &'static str, n: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(n as u128 + 1),
                SpanId::from(n + 1),
                TraceFlags::SAMPLED,
                false,
                Default::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: name.into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: vec![KeyValue::new("k", "v".repeat(n as usize))],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder(scope.to_owned())
                .with_version("1.0")
                .build(),
        }
    }

    fn exporter() -> OtlpExporter<Traces> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _entered = runtime.enter();
        let config = OtlpConfig {
            protocol: OtlpProtocol::HttpProtobuf,
            endpoint: "http://127.0.0.1:4318/v1/traces".into(),
            logs_endpoint: "http://127.0.0.1:4318/v1/logs".into(),
            metrics_endpoint: "http://127.0.0.1:4318/v1/metrics".into(),
            headers: Vec::new(),
            timeout: Duration::from_secs(1),
            compression: OtlpCompression::None,
            logs_compression: OtlpCompression::None,
            tls: Default::default(),
            logs_tls: Default::default(),
            metrics_compression: OtlpCompression::None,
            metrics_tls: Default::default(),
        };
        let mut exporter =
            OtlpExporter::<Traces>::new(&config, config.traces_target(), 4 * 1024 * 1024).unwrap();
        exporter.set_resource(
            &Resource::builder_empty()
                .with_service_name("svc")
                .with_schema_url([], "https://example.com/schema")
                .build(),
        );
        exporter
    }

    /// The hand-assembled request decodes as the message prost would have
    /// built: every span under its own scope, the resource once, and its size
    /// is the sum the batching relies on.
    #[test]
    fn assembled_request_decodes() {
        let mut exporter = exporter();
        let spans = [
            span("a", "one", 1),
            span("b", "two", 200),
            span("a", "three", 3),
        ];
        let encoded: Vec<Encoded> = spans
            .iter()
            .cloned()
            .map(|s| exporter.encode(<SpanBytes as crate::export::queue::FromSpan>::from_span(s).0))
            .collect();
        let body = exporter.request(&encoded);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        assert_eq!(request.resource_spans.len(), 1);
        let rs = &request.resource_spans[0];
        assert_eq!(rs.schema_url, "https://example.com/schema");
        assert!(rs
            .resource
            .as_ref()
            .unwrap()
            .attributes
            .iter()
            .any(|kv| kv.key == "service.name"));
        let scopes: Vec<(&str, Vec<&str>)> = rs
            .scope_spans
            .iter()
            .map(|ss| {
                let scope = ss.scope.as_ref().unwrap();
                assert_eq!(scope.version, "1.0");
                (
                    scope.name.as_str(),
                    ss.spans.iter().map(|s| s.name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            scopes,
            vec![("a", vec!["one", "three"]), ("b", vec!["two"])]
        );
        let b = &rs.scope_spans[1].spans[0];
        assert_eq!(b.attributes[0].key, "k");
        // Each span's bytes are what its own encoding gives.
        let direct = opentelemetry_proto::tonic::trace::v1::Span::from(spans[1].clone());
        assert_eq!(b, &direct);
        // The request is no larger than its items' framed lengths, the resource
        // and the scopes (what the batching adds up), plus the framing.
        let items: usize = encoded
            .iter()
            .map(OtlpExporter::<Traces>::encoded_len)
            .sum();
        assert!(body.len() <= items + exporter.resource.len() + 2 * 64 + 16);
        // The estimate used for the queue bounds the encoded size.
        for s in &spans {
            let bytes = opentelemetry_proto::tonic::trace::v1::Span::from(s.clone()).encoded_len();
            let size = crate::export::size::span_bytes(s);
            assert!(size >= bytes, "{size} < {bytes}");
        }
    }
}
