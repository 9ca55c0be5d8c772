//! `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` over both transports, into the
//! in-process OTLP receiver (tonic and axum on 127.0.0.1): the request says it
//! is compressed (`grpc-encoding: gzip`, `Content-Encoding: gzip`), the
//! receiver decompresses it and finds the same spans, with their attributes;
//! without the variable nothing is compressed.

use crate::common;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::opentelemetry::KeyValue;
use distributed_tracing::ObservabilityBuilder;

/// Exports 50 spans with `compression` set by environment (`None`: unset);
/// returns what the receiver got.
fn export(protocol: Protocol, compression: Option<&str>) -> Store {
    let receiver = Receiver::start(protocol, 0, Store::default());
    let mut env = vec![("OTEL_SERVICE_NAME", "gzip")];
    if let Some(value) = compression {
        env.push(("OTEL_EXPORTER_OTLP_COMPRESSION", value));
    }
    let guard = ObservabilityBuilder::default()
        .env_vars(env)
        .otlp_endpoint(receiver.endpoint(protocol))
        .otlp_protocol(match protocol {
            Protocol::Grpc => OtlpProtocol::Grpc,
            Protocol::Http => OtlpProtocol::HttpProtobuf,
        })
        .build()
        .expect("pipeline");
    let tracer = guard.tracer_provider().unwrap().tracer("gzip");
    for i in 0..50 {
        let mut span = tracer.start(format!("op-{i}"));
        // Repetitive text, as span attributes are: gzip shrinks it.
        span.set_attribute(KeyValue::new("note", "the same words again ".repeat(20)));
        span.end();
    }
    drop(guard); // flushes
    receiver.stop()
}

#[test]
fn gzip_over_grpc_and_http_arrives_decoded() {
    // (protocol, OTEL_EXPORTER_OTLP_COMPRESSION, header, its value on every request)
    let cases = [
        (Protocol::Grpc, Some("gzip"), "grpc-encoding", Some("gzip")),
        (
            Protocol::Http,
            Some("gzip"),
            "content-encoding",
            Some("gzip"),
        ),
        (Protocol::Grpc, None, "grpc-encoding", None),
        (Protocol::Http, None, "content-encoding", None),
        (Protocol::Http, Some("none"), "content-encoding", None),
    ];
    for (protocol, compression, name, expected) in cases {
        let label = format!("{protocol:?} with {compression:?}");
        let store = export(protocol, compression);
        let spans = store.spans();
        let mut names: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 50, "{label}: every span arrived once");
        assert!(
            spans.iter().all(|s| s.attribute("note").as_deref()
                == Some("the same words again ".repeat(20).as_str())),
            "{label}: attributes intact"
        );
        let values = store.header_values(name);
        assert!(!values.is_empty(), "{label}: requests");
        assert!(
            values.iter().all(|v| v.as_deref() == expected),
            "{label}: {name} {values:?}"
        );
    }
}
