//! The quickstart exporting over `https://` to a real OpenTelemetry Collector
//! (built by `scripts/e2e-tools.sh`) whose OTLP receivers speak TLS with
//! certificates made in the test: over gRPC and HTTP, gzip-compressed, with
//! and without required client certificates. The collector forwards to the
//! in-process receiver, where every span of the quickstart's trace is read
//! back; without the client certificate nothing arrives and the quickstart
//! says why. The system's roots are trusted when no CA file is given (set
//! here through `SSL_CERT_FILE`), and a system without any is reported.
//! Everything listens on 127.0.0.1 only.

mod common;

use std::process::Command;
use std::time::Duration;

use common::e2e::{free_ports, spawn_logged, wait_until, Process};
use common::otlp::{Protocol, Receiver, Store};
use common::tls::{var, Pki};

/// A collector with TLS receivers on `grpc` and `http` (client certificates
/// of the PKI's client CA required with `mtls`), forwarding to `upstream`.
fn start_collector(pki: &Pki, mtls: bool, upstream: &Receiver, grpc: u16, http: u16) -> Process {
    let (cert, key) = pki.server_files();
    let client_ca = match mtls {
        true => format!("client_ca_file: {}", var(&pki.client_ca_file())),
        false => String::new(),
    };
    let tls = format!(
        "tls:\n          cert_file: {}\n          key_file: {}\n          {client_ca}",
        var(&cert),
        var(&key)
    );
    let [metrics, _, _, _] = free_ports();
    let config = format!(
        r#"receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
        {tls}
      http:
        endpoint: 127.0.0.1:{http}
        {tls}
processors:
  batch:
    timeout: 200ms
exporters:
  otlp:
    endpoint: {upstream}
    tls:
      insecure: true
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: {metrics}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
"#,
        upstream = upstream.addr,
    );
    let path = pki.dir.join(format!("otelcol-{grpc}.yaml"));
    std::fs::write(&path, config).unwrap();
    let process = spawn_logged(
        Command::new(common::e2e_tool("otelcol"))
            .arg("--config")
            .arg(&path),
        &pki.dir.join(format!("otelcol-{grpc}.log")),
        "otelcol",
    );
    wait_until("the collector to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", grpc)).ok()?;
        std::net::TcpStream::connect(("127.0.0.1", http)).ok()
    });
    process
}

/// The quickstart's output, exporting to `endpoint` with `env`.
fn quickstart(endpoint: &str, protocol: &str, env: &[(&str, String)]) -> String {
    let mut command = Command::new(common::example_binary("quickstart"));
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .env("OTEL_SERVICE_NAME", "quickstart-tls")
        .env("OTEL_LOGS_EXPORTER", "none")
        .env_remove("RUST_LOG")
        // The system's roots are what the case says (the machine's
        // environment may point OpenSSL's variables at its bundle).
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (k, v) in env {
        command.env(k, v);
    }
    common::stdout_of(&mut command)
}

fn check(pki: &Pki, mtls: bool) {
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let [grpc, http, _, _] = free_ports();
    let collector = start_collector(pki, mtls, &receiver, grpc, http);
    let mut env = vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", var(&pki.ca))];
    if mtls {
        env.push((
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            var(&pki.client_cert),
        ));
        env.push(("OTEL_EXPORTER_OTLP_CLIENT_KEY", var(&pki.client_key)));
    }
    for (protocol, port) in [("grpc", grpc), ("http/protobuf", http)] {
        let label = format!("{protocol}, mTLS {mtls}");
        let endpoint = format!("https://localhost:{port}");
        let stdout = quickstart(&endpoint, protocol, &env);
        let trace_id = common::quickstart_trace_id(&stdout);
        assert!(
            stdout.contains("none lost"),
            "{label}: {stdout}\ncollector: {}",
            std::fs::read_to_string(pki.dir.join(format!("otelcol-{grpc}.log")))
                .unwrap_or_default()
        );
        let spans = receiver.store.wait_for(Duration::from_secs(20), |spans| {
            spans.iter().filter(|s| s.trace_id() == trace_id).count() >= 4
        });
        let names: Vec<&str> = spans
            .iter()
            .filter(|s| s.trace_id() == trace_id)
            .map(|s| s.span.name.as_str())
            .collect();
        assert_eq!(names.len(), 4, "{label}: {names:?}");

        if !mtls {
            // Without OTEL_EXPORTER_OTLP_CERTIFICATE the system's roots are
            // trusted: here the CA is the system's (SSL_CERT_FILE, as
            // OpenSSL reads it), so the spans arrive.
            let label = format!("{label}, the system's roots");
            let system = [("SSL_CERT_FILE", var(&pki.ca))];
            let stdout = quickstart(&endpoint, protocol, &system);
            let trace_id = common::quickstart_trace_id(&stdout);
            assert!(stdout.contains("none lost"), "{label}: {stdout}");
            let spans = receiver.store.wait_for(Duration::from_secs(20), |spans| {
                spans.iter().filter(|s| s.trace_id() == trace_id).count() >= 4
            });
            assert!(
                spans.iter().filter(|s| s.trace_id() == trace_id).count() == 4,
                "{label}"
            );
            // A system without any root (a container without
            // ca-certificates): said at start-up, and at the handshake.
            let label = format!("{label}, none at all");
            let empty = pki.dir.join("no-roots.pem");
            std::fs::write(&empty, "").unwrap();
            let stdout = quickstart(&endpoint, protocol, &[("SSL_CERT_FILE", var(&empty))]);
            assert!(
                stdout.contains("this system has no trusted CA certificate")
                    && stdout.contains("TLS handshake failed: the server's certificate is not signed by a trusted CA"),
                "{label}: {stdout}"
            );
        }

        if mtls {
            // Without the client certificate: nothing arrives, and the
            // quickstart says why.
            let label = format!("{label}, no client certificate");
            let stdout = quickstart(&endpoint, protocol, &env[..1]);
            let trace_id = common::quickstart_trace_id(&stdout);
            assert!(
                stdout.contains("TLS handshake failed")
                    && stdout.contains(&endpoint)
                    && stdout.contains("client certificate"),
                "{label}: {stdout}"
            );
            std::thread::sleep(Duration::from_secs(1));
            assert!(
                receiver.store.of_trace(&trace_id).is_empty(),
                "{label}: nothing arrives"
            );
        }
    }
    collector.terminate(Duration::from_secs(10));
    drop(receiver);
}

#[test]
fn the_quickstart_over_tls_into_a_real_collector() {
    let pki = Pki::new("otelcol");
    check(&pki, false);
    check(&pki, true);
}
