//! The process environment is read as bytes: a variable that is not UTF-8 is
//! a bad value, reported at start-up, never taken as unset; an endpoint that
//! is not UTF-8 disables span export rather than falling back to the generic
//! one. A binary of its own, with one test: it sets process variables, which
//! nothing else in the process reads meanwhile.
#![cfg(unix)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;

use distributed_tracing::config::{Disabled, TracesExporter};
use distributed_tracing::logging::{DatadogTags, JsonFormat, LogFormat};
use distributed_tracing::ObservabilityBuilder;

#[path = "common/lines.rs"]
mod lines;
use lines::Lines;

/// The JSON lines written to `output`.
fn json_lines(output: &Lines) -> Vec<serde_json::Value> {
    output
        .utf8()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// `text` with a last byte 0xff: not UTF-8.
fn not_utf8(text: &str) -> OsString {
    OsString::from_vec([text.as_bytes(), b"\xff"].concat())
}

#[test]
fn process_variables_that_are_not_utf8_are_reported() {
    // Edition 2021: `set_var` is safe; this binary's only test runs alone.
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        not_utf8("http://traces:4318/v1/traces"),
    );
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318");
    std::env::set_var("OTEL_SERVICE_NAME", not_utf8("checkout"));
    std::env::set_var("RUST_LOG", not_utf8("debug"));
    std::env::set_var("DD_SERVICE", not_utf8("dd-checkout"));
    std::env::set_var("OTEL_LOGS_EXPORTER", "none");

    // What the builder resolves from the process environment.
    let config = ObservabilityBuilder::default().config().unwrap();
    let reported: Vec<&str> = config.issues.iter().map(|i| i.variable).collect();
    assert_eq!(
        reported,
        [
            "OTEL_SERVICE_NAME",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "RUST_LOG",
            "DD_SERVICE"
        ],
        "{:?}",
        config.issues
    );
    assert!(config
        .issues
        .iter()
        .all(|i| i.reason.starts_with("not valid UTF-8")));
    assert_eq!(config.issues[1].disables, Some(Disabled::SpanExport));
    assert_eq!(config.traces_exporter, TracesExporter::None);
    assert!(!config.otlp.endpoint.contains("generic"), "{config:?}");
    assert!(config.service_name.starts_with("unknown_service"));
    assert_eq!(config.log_filter, "info");

    // `DatadogTags::from_env` reads the process environment too: the bad
    // value is left out, and said to the current subscriber.
    let output = Lines::default();
    let writer = output.clone();
    let subscriber = tracing_subscriber::fmt()
        .event_format(JsonFormat::new())
        .with_writer(move || writer.clone())
        .finish();
    let tags = tracing::subscriber::with_default(subscriber, DatadogTags::from_env);
    assert_eq!(tags, DatadogTags::default());
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["fields"]["variable"], "DD_SERVICE");
    assert_eq!(lines[0]["fields"]["value"], "dd-checkout\u{fffd}");

    // `init` reports each once, on its start-up lines.
    let output = Lines::default();
    let guard = ObservabilityBuilder::default()
        .log_format(LogFormat::Json(JsonFormat::new()))
        .log_output(output.clone())
        .init()
        .unwrap();
    drop(guard);
    let lines = json_lines(&output);
    let issues: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["fields"]["variable"].as_str())
        .collect();
    assert_eq!(issues, reported, "{lines:#?}");
    let endpoint = &lines[1];
    assert_eq!(endpoint["level"], "ERROR");
    assert!(
        endpoint["message"]
            .as_str()
            .unwrap()
            .contains("span export is disabled"),
        "{endpoint}"
    );
}
