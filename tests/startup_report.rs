//! What `init` reports about its configuration, on JSON lines: a value that is
//! ignored is a warning carrying `"value":"bogus"` (quoted once); an OTLP
//! endpoint that cannot be used is an error saying span export is disabled,
//! and spans still get their ids; no password of an endpoint URL or header
//! value appears anywhere, the debug dump of the configuration included.

use distributed_tracing::compat::get_trace_id;
use distributed_tracing::config::{Disabled, TracesExporter};
use distributed_tracing::logging::{JsonFormat, LogFormat};
use distributed_tracing::ObservabilityBuilder;

#[path = "common/lines.rs"]
mod lines;
use lines::Lines;

#[test]
fn unusable_configuration_is_reported_once_quoted_and_without_secrets() {
    let output = Lines::default();
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("RUST_LOG", "info,distributed_tracing=debug"),
            ("OTEL_TRACES_SAMPLER", "bogus"),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "htps://user:s3cret@collector.example:4318",
            ),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .log_format(LogFormat::Json(JsonFormat::new()))
        .log_output(output.clone())
        .init()
        .expect("a bad value is not an error unless strict");

    // Span export is off, the spans still have their ids.
    assert_eq!(guard.config().traces_exporter, TracesExporter::None);
    assert_eq!(
        guard.config().issues[0].disables,
        Some(Disabled::SpanExport)
    );
    assert!(guard.tracer_provider().is_some());
    let trace_id = tracing::info_span!("request").in_scope(get_trace_id);
    assert!(trace_id.is_some_and(|id| id.len() == 32 && id != "0".repeat(32)));
    drop(guard);

    let text = output.utf8();
    assert!(!text.contains("s3cret"), "{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let with = |variable: &str| -> &serde_json::Value {
        let found: Vec<_> = lines
            .iter()
            .filter(|l| l["fields"]["variable"] == variable)
            .collect();
        assert_eq!(found.len(), 1, "one line for {variable}: {text}");
        found[0]
    };

    let sampler = with("OTEL_TRACES_SAMPLER");
    assert_eq!(sampler["level"], "WARN");
    assert_eq!(
        sampler["fields"]["value"], "bogus",
        "quoted once: {sampler}"
    );

    let endpoint = with("OTEL_EXPORTER_OTLP_ENDPOINT");
    assert_eq!(endpoint["level"], "ERROR");
    assert_eq!(
        endpoint["fields"]["value"],
        "htps://REDACTED:REDACTED@collector.example:4318"
    );
    assert_eq!(endpoint["fields"]["disables"], "span export");
    let message = endpoint["message"].as_str().unwrap();
    assert!(
        message.contains("http:// or https://") && message.contains("span export is disabled"),
        "{message}"
    );

    let dump = lines
        .iter()
        .find(|l| l["message"] == "observability configured")
        .unwrap_or_else(|| panic!("the debug dump: {text}"));
    assert!(
        dump["fields"]["config"]
            .as_str()
            .unwrap()
            .contains("REDACTED:REDACTED@collector.example"),
        "{dump}"
    );
}
