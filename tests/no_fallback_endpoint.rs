//! An endpoint that cannot be used as given disables the exporter: nothing,
//! and above all not the API key, goes to the default endpoint instead. A
//! capture server listens where the old fallback sent everything
//! (`localhost:4318`, and `:4317` for gRPC) and sees no connection.

use std::io::Read as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::ObservabilityBuilder;

/// Accepts connections on 127.0.0.1:`port` and keeps what they send.
fn capture(port: u16) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("the capture server needs 127.0.0.1:{port}: {e}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut bytes = Vec::new();
            let _ = (&stream).take(64 * 1024).read_to_end(&mut bytes);
            store.lock().unwrap().push(bytes);
        }
    });
    seen
}

#[test]
fn an_unusable_endpoint_sends_nothing_anywhere() {
    let http = capture(4318);
    let grpc = capture(4317);
    // (the endpoint, its CA file, the variable reported)
    let cases = [
        (
            "htps://api.vendor.example",
            None,
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        // TLS asked for, with a CA file that is not there: no plain text,
        // no system roots instead.
        (
            "https://api.vendor.example",
            Some("/nonexistent/vendor-ca.pem"),
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ),
    ];
    for (protocol, (endpoint, ca, reported)) in ["http/protobuf", "grpc"]
        .into_iter()
        .flat_map(|p| cases.iter().map(move |c| (p, c)))
    {
        let mut vars = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", *endpoint),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cret-key"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ];
        if let Some(ca) = ca {
            vars.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", *ca));
        }
        let guard = ObservabilityBuilder::default()
            .env_vars(vars)
            .build()
            .expect("the service still starts");
        let issues = &guard.config().issues;
        assert!(
            issues
                .iter()
                .any(|i| i.variable == *reported && i.disables.is_some()),
            "{protocol} {endpoint}: reported as disabling the export: {issues:?}"
        );
        let tracer = guard.tracer_provider().expect("ids still work").tracer("t");
        let mut span = tracer.start("request");
        assert!(span.span_context().is_valid());
        span.end();
        let _ = guard.flush();
        drop(guard);
    }
    // Whatever was in flight has had time to arrive.
    std::thread::sleep(Duration::from_millis(500));
    for (port, seen) in [(4318, &http), (4317, &grpc)] {
        let seen = seen.lock().unwrap();
        assert!(
            seen.is_empty(),
            "127.0.0.1:{port} received {} connection(s): {:?}",
            seen.len(),
            seen.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
        );
    }
}

/// In strict mode the same configuration is an error at start-up.
#[test]
fn strict_mode_refuses_an_unusable_endpoint() {
    let error = ObservabilityBuilder::default()
        .env_vars([("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4318")])
        .strict(true)
        .build()
        .expect_err("strict");
    let text = error.to_string();
    assert!(
        text.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && text.contains("ftp://collector"),
        "{text}"
    );
}
