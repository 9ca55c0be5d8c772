//! Feature `logs`: `tracing` events exported as OTLP log records next to the
//! spans, received by a real OTLP receiver (gRPC and HTTP), their trace and span
//! ids those of the span they were written in.

use crate::common;

use common::otlp::{hex, Protocol, Receiver, Store};
use distributed_tracing::compat::{get_span_id, get_trace_id};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::TracerProvider as _;
use distributed_tracing::ObservabilityBuilder;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn events_become_log_records_with_their_span_ids() {
    for (protocol, otlp) in [
        (Protocol::Grpc, OtlpProtocol::Grpc),
        (Protocol::Http, OtlpProtocol::HttpProtobuf),
    ] {
        let receiver = Receiver::start(protocol, 0, Store::default());
        let guard = ObservabilityBuilder::default()
            .env_vars([("OTEL_SERVICE_NAME", "billing")])
            .otlp_protocol(otlp)
            .otlp_endpoint(receiver.endpoint(protocol))
            .build()
            .unwrap();
        assert!(
            guard.config().logs_otlp,
            "log records go where the spans go"
        );
        let subscriber = tracing_subscriber::registry()
            .with(OpenTelemetryTracingBridge::new(
                guard.logger_provider().unwrap(),
            ))
            .with(
                tracing_opentelemetry::layer()
                    .with_tracer(guard.tracer_provider().unwrap().tracer("t")),
            );
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            tracing::warn!("outside any span");
            let span = tracing::info_span!("invoice");
            let _e = span.enter();
            tracing::info!(amount = 42, "invoice sent");
            (get_trace_id().unwrap(), get_span_id().unwrap())
        });
        drop(guard);
        let store = receiver.stop();
        let logs = store.logs();
        assert_eq!(logs.len(), 2, "{protocol:?}: {logs:#?}");
        let body = |r: &opentelemetry_proto::tonic::logs::v1::LogRecord| match r
            .body
            .as_ref()
            .and_then(|b| b.value.as_ref())
        {
            Some(Value::StringValue(s)) => s.clone(),
            other => format!("{other:?}"),
        };
        let (service, sent) = logs
            .iter()
            .find(|(_, r)| body(r) == "invoice sent")
            .unwrap();
        assert_eq!(service, "billing");
        assert_eq!(hex(&sent.trace_id), trace_id, "{protocol:?}");
        assert_eq!(hex(&sent.span_id), span_id, "{protocol:?}");
        assert_eq!(sent.severity_text, "INFO");
        let (_, outside) = logs
            .iter()
            .find(|(_, r)| body(r) == "outside any span")
            .unwrap();
        assert!(outside.trace_id.is_empty() || outside.trace_id.iter().all(|b| *b == 0));
        // The span itself arrived too, with the same ids.
        let spans = store.of_trace(&trace_id);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].span_id(), span_id);
    }
}
