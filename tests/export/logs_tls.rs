//! Feature `logs`: log records go over TLS with their own settings
//! (`OTEL_EXPORTER_OTLP_LOGS_*`, over the generic ones), both transports,
//! through a TLS-terminating proxy that requires a client certificate, to
//! the in-process receiver; the spans go to their own plain endpoint.

use crate::common;

use common::otlp::{hex, Protocol, Receiver, Store};
use common::tls::{var, Pki, Served, TlsProxy};
use distributed_tracing::compat::get_trace_id;
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::TracerProvider as _;
use distributed_tracing::ObservabilityBuilder;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn log_records_go_over_mutual_tls_with_their_own_settings() {
    let pki = Pki::new("logs");
    for (protocol, otlp) in [
        (Protocol::Grpc, OtlpProtocol::Grpc),
        (Protocol::Http, OtlpProtocol::HttpProtobuf),
    ] {
        let spans = Receiver::start(protocol, 0, Store::default());
        let logs = Receiver::start(protocol, 0, Store::default());
        let proxy = TlsProxy::start(&pki, logs.addr, Served::Localhost, true);
        let logs_endpoint = match protocol {
            Protocol::Grpc => format!("https://localhost:{}", proxy.addr.port()),
            Protocol::Http => format!("https://localhost:{}/v1/logs", proxy.addr.port()),
        };
        let guard = ObservabilityBuilder::default()
            .env_vars([
                ("OTEL_SERVICE_NAME", "billing".to_string()),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    spans.endpoint(protocol),
                ),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs_endpoint),
                ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "gzip".into()),
                // The generic files would fail the handshake: the logs' own win.
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", var(&pki.other_ca)),
                ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", var(&pki.ca)),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
                    var(&pki.client_cert),
                ),
                ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", var(&pki.client_key)),
            ])
            .otlp_protocol(otlp)
            .build()
            .unwrap();
        let config = guard.config();
        assert!(config.logs_otlp, "{:?}", config.issues);
        // The spans' endpoint is plain text: the generic CA is reported unused.
        assert_eq!(
            config.issues.iter().map(|i| i.variable).collect::<Vec<_>>(),
            ["OTEL_EXPORTER_OTLP_CERTIFICATE"],
            "{:?}",
            config.issues
        );
        let subscriber = tracing_subscriber::registry()
            .with(OpenTelemetryTracingBridge::new(
                guard.logger_provider().unwrap(),
            ))
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(guard.tracer_provider().unwrap().tracer("t")),
            );
        let trace_id = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("invoice");
            let _e = span.enter();
            tracing::info!(amount = 42, "invoice sent over TLS");
            get_trace_id().unwrap()
        });
        drop(guard);
        let handshakes = proxy.handshakes();
        drop(proxy);
        let logs = logs.stop();
        let records = logs.logs();
        assert_eq!(
            records.len(),
            1,
            "{protocol:?}: {records:#?} {handshakes:?}"
        );
        assert_eq!(hex(&records[0].1.trace_id), trace_id, "{protocol:?}");
        assert!(handshakes.iter().all(Result::is_ok), "{handshakes:?}");
        let encodings: Vec<Option<String>> = logs
            .log_request_headers()
            .iter()
            .map(|h| {
                h.iter()
                    .find(|(k, _)| {
                        k.eq_ignore_ascii_case("grpc-encoding")
                            || k.eq_ignore_ascii_case("content-encoding")
                    })
                    .map(|(_, v)| v.clone())
            })
            .collect();
        assert!(
            !encodings.is_empty() && encodings.iter().all(|e| e.as_deref() == Some("gzip")),
            "{protocol:?}: {encodings:?}"
        );
        assert_eq!(spans.stop().of_trace(&trace_id).len(), 1, "{protocol:?}");
    }
}
