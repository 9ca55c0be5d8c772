//! OTLP export over TLS, both transports, against a real TLS server on
//! 127.0.0.1 (a TLS-terminating proxy with certificates made in the test, in
//! front of the in-process receiver):
//! * with the CA that signed the server's certificate
//!   (`OTEL_EXPORTER_OTLP_CERTIFICATE`), every span arrives, gzip included
//!   (the receiver sees `grpc-encoding`/`Content-Encoding: gzip` and decodes
//!   the same spans), and a gRPC endpoint without a scheme is TLS;
//! * with another CA, a certificate for another name, or an expired one, nothing arrives,
//!   and the failure is reported once, naming the endpoint and the reason;
//! * with mutual TLS required, spans arrive only when the client certificate
//!   is configured (none, or one from an unknown CA: nothing arrives, the
//!   reason is reported).

use crate::common;

use std::time::Duration;

use common::otlp::{Protocol, Receiver, Store};
use common::tls::{var, Pki, Served, TlsProxy};
use distributed_tracing::config::OtlpProtocol;
use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::opentelemetry::KeyValue;
use distributed_tracing::ObservabilityBuilder;

/// What one export run saw.
struct Run {
    store: Store,
    /// The export thread's warnings that name this run's endpoint.
    warnings: Vec<String>,
    handshakes: Vec<Result<(), String>>,
    endpoint: String,
}

/// Exports 3 rounds of 10 spans to a TLS proxy (`served` certificate, client
/// certificates required or not) in front of a `protocol` receiver, with
/// `env` set; `endpoint` makes the URL from the proxy's port.
fn export(
    pki: &Pki,
    protocol: Protocol,
    served: Served,
    require_client_cert: bool,
    endpoint: impl Fn(u16) -> String,
    env: Vec<(&str, String)>,
) -> Run {
    let captured = common::ExportMessages::global();
    let receiver = Receiver::start(protocol, 0, Store::default());
    let proxy = TlsProxy::start(pki, receiver.addr, served, require_client_cert);
    let endpoint = endpoint(proxy.addr.port());
    let mut vars: Vec<(String, String)> = vec![
        ("OTEL_SERVICE_NAME".into(), "tls".into()),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "50".into()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT".into(), "5000".into()),
    ];
    vars.extend(env.into_iter().map(|(k, v)| (k.to_string(), v)));
    vars.push((
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(),
        endpoint.clone(),
    ));
    let guard = ObservabilityBuilder::default()
        .env_vars(vars)
        .otlp_protocol(match protocol {
            Protocol::Grpc => OtlpProtocol::Grpc,
            Protocol::Http => OtlpProtocol::HttpProtobuf,
        })
        .build()
        .expect("pipeline");
    let config = guard.config();
    assert!(config.issues.is_empty(), "{:?}", config.issues);
    let tracer = guard.tracer_provider().unwrap().tracer("tls");
    for round in 0..3 {
        for i in 0..10 {
            let mut span = tracer.start(format!("op-{round}-{i}"));
            span.set_attribute(KeyValue::new("note", "the same words again ".repeat(20)));
            span.end();
        }
        // Each round its own request (the schedule delay is 50 ms).
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(guard); // flushes
    let handshakes = proxy.handshakes();
    drop(proxy);
    let shown = endpoint.clone();
    let warnings = captured
        .warnings()
        .into_iter()
        .filter(|w| w.contains(&shown))
        .collect();
    Run {
        store: receiver.stop(),
        warnings,
        handshakes,
        endpoint,
    }
}

fn https(protocol: Protocol) -> impl Fn(u16) -> String {
    move |port| match protocol {
        Protocol::Grpc => format!("https://localhost:{port}"),
        Protocol::Http => format!("https://localhost:{port}/v1/traces"),
    }
}

fn assert_all_arrived(label: &str, run: &Run) {
    let mut names: Vec<String> = run
        .store
        .spans()
        .iter()
        .map(|s| s.span.name.clone())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names.len(),
        30,
        "{label}: every span arrived; warnings {:?}, handshakes {:?}",
        run.warnings,
        run.handshakes
    );
    assert!(
        run.store
            .spans()
            .iter()
            .all(|s| s.attribute("note").as_deref()
                == Some("the same words again ".repeat(20).as_str())),
        "{label}: attributes intact"
    );
    assert!(
        !run.handshakes.is_empty() && run.handshakes.iter().all(Result::is_ok),
        "{label}: {:?}",
        run.handshakes
    );
    assert!(run.warnings.is_empty(), "{label}: {:?}", run.warnings);
}

/// Nothing arrived, and the failure was reported once, at once, naming the
/// endpoint and `reason`.
fn assert_refused(label: &str, run: &Run, reason: &str) {
    assert!(run.store.spans().is_empty(), "{label}: nothing arrives");
    let failing: Vec<&String> = run
        .warnings
        .iter()
        .filter(|w| w.contains(&format!("export to {} failed:", run.endpoint)))
        .collect();
    assert_eq!(
        failing.len(),
        1,
        "{label}: reported once: {:?}",
        run.warnings
    );
    assert!(
        failing[0].contains("TLS handshake failed") && failing[0].contains(reason),
        "{label}: {reason:?} in {}",
        failing[0]
    );
    assert!(
        failing[0].contains("not retried"),
        "{label}: {}",
        failing[0]
    );
}

#[test]
fn spans_arrive_over_tls_with_the_right_ca_and_gzip() {
    let pki = Pki::new("right-ca");
    let ca = vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", var(&pki.ca))];
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let label = format!("{protocol:?} with the CA");
        let run = export(
            &pki,
            protocol,
            Served::Localhost,
            false,
            https(protocol),
            ca.clone(),
        );
        assert_all_arrived(&label, &run);

        // gzip inside TLS: the receiver sees compressed requests.
        let label = format!("{protocol:?} with the CA and gzip");
        let mut env = ca.clone();
        env.push(("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip".into()));
        let run = export(
            &pki,
            protocol,
            Served::Localhost,
            false,
            https(protocol),
            env,
        );
        assert_all_arrived(&label, &run);
        let name = match protocol {
            Protocol::Grpc => "grpc-encoding",
            Protocol::Http => "content-encoding",
        };
        let values = run.store.header_values(name);
        assert!(
            !values.is_empty() && values.iter().all(|v| v.as_deref() == Some("gzip")),
            "{label}: {name} {values:?}"
        );
    }
    // gRPC without a scheme is TLS (OTEL_EXPORTER_OTLP_INSECURE unset), and
    // the per-signal CA variable is read.
    let run = export(
        &pki,
        Protocol::Grpc,
        Served::Localhost,
        false,
        |port| format!("localhost:{port}"),
        vec![("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", var(&pki.ca))],
    );
    assert_all_arrived("gRPC without a scheme", &run);
}

#[test]
fn nothing_arrives_with_another_ca_another_name_or_an_expired_certificate() {
    let pki = Pki::new("refused");
    for protocol in [Protocol::Grpc, Protocol::Http] {
        // (case, served certificate, CA trusted, reason in the report)
        let cases = [
            (
                "another CA",
                Served::Localhost,
                &pki.other_ca,
                "not signed by a trusted CA",
            ),
            (
                "a certificate for another name",
                Served::OtherName,
                &pki.ca,
                "not valid for the endpoint's host name",
            ),
            (
                "an expired certificate",
                Served::Expired,
                &pki.ca,
                "has expired",
            ),
        ];
        for (case, served, ca, reason) in cases {
            let label = format!("{protocol:?}, {case}");
            let run = export(
                &pki,
                protocol,
                served,
                false,
                https(protocol),
                vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", var(ca))],
            );
            assert_refused(&label, &run, reason);
        }
    }
}

/// A server whose certificate chain is larger than a TLS client accepts is
/// reported as such, not as a server that does not speak TLS.
#[test]
fn a_certificate_chain_too_large_is_named() {
    let pki = Pki::new("huge-chain");
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let ca = vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", var(&pki.ca))];
        let run = export(
            &pki,
            protocol,
            Served::HugeChain,
            false,
            https(protocol),
            ca,
        );
        assert_refused(
            &format!("{protocol:?} huge chain"),
            &run,
            "larger than a TLS client accepts",
        );
    }
}

#[test]
fn with_mutual_tls_spans_arrive_only_with_the_client_certificate() {
    let pki = Pki::new("mtls");
    for protocol in [Protocol::Grpc, Protocol::Http] {
        let ca = ("OTEL_EXPORTER_OTLP_CERTIFICATE", var(&pki.ca));
        let label = format!("{protocol:?} without a client certificate");
        let run = export(
            &pki,
            protocol,
            Served::Localhost,
            true,
            https(protocol),
            vec![ca.clone()],
        );
        assert_refused(&label, &run, "requires a client certificate");
        assert!(
            run.handshakes.iter().all(Result::is_err),
            "{label}: {:?}",
            run.handshakes
        );

        let label = format!("{protocol:?} with a client certificate of an unknown CA");
        let stranger = vec![
            ca.clone(),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                var(&pki.stranger_cert),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", var(&pki.stranger_key)),
        ];
        let run = export(
            &pki,
            protocol,
            Served::Localhost,
            true,
            https(protocol),
            stranger.clone(),
        );
        assert_refused(&label, &run, "refused the client certificate");

        // The per-signal forms, over the generic ones (which name the stranger).
        let label = format!("{protocol:?} with the client certificate");
        let mut client = stranger.clone();
        client.extend([
            (
                "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                var(&pki.client_cert),
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", var(&pki.client_key)),
        ]);
        let run = export(
            &pki,
            protocol,
            Served::Localhost,
            true,
            https(protocol),
            client,
        );
        assert_all_arrived(&label, &run);
    }
}
