//! The service chain example, run as a user runs it (three processes on
//! 127.0.0.1, `frontend -> backend -> worker`), exporting over OTLP to a real
//! receiver: one trace, SERVER and CLIENT spans correctly parented across the
//! three services, each under its own `service.name`, and the same trace id on
//! every log line of the three. The order's confirmation job has a trace of its
//! own, linked to the order's.

use crate::common;

use std::process::Command;

use common::otlp::{Protocol, Received, Receiver, Store};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

fn kind(s: &Received) -> SpanKind {
    SpanKind::try_from(s.span.kind).unwrap_or(SpanKind::Unspecified)
}

fn one<'a>(spans: &'a [Received], service: &str, k: SpanKind) -> &'a Received {
    let found: Vec<&Received> = spans
        .iter()
        .filter(|s| s.service == service && kind(s) == k)
        .collect();
    assert_eq!(found.len(), 1, "one {k:?} span of {service}: {spans:#?}");
    found[0]
}

#[test]
fn one_trace_across_three_services() {
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let endpoint = format!("http://{}", receiver.addr);
    let stdout = common::stdout_of(
        Command::new(common::example_binary("service_chain"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("RUST_LOG"),
    );

    // The log lines of the checkout, from the three processes.
    let checkout: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("handling the request") || l.contains(" done answer="))
        .collect();
    assert_eq!(checkout.len(), 6, "{stdout}");
    let trace_id = &checkout[0][12..44];
    for service in ["frontend", "backend ", "worker  "] {
        assert!(
            checkout
                .iter()
                .any(|l| l.starts_with(&format!("[{service}]"))),
            "{service}: {stdout}"
        );
    }
    assert!(
        checkout.iter().all(|l| &l[12..44] == trace_id),
        "one trace id: {stdout}"
    );
    assert!(
        stdout.contains(&format!("GET /checkout -> in stock (trace {trace_id})")),
        "{stdout}"
    );

    let store = receiver.stop();
    let spans = store.of_trace(trace_id);
    let front_server = one(&spans, "frontend", SpanKind::Server);
    let front_client = one(&spans, "frontend", SpanKind::Client);
    let back_server = one(&spans, "backend", SpanKind::Server);
    let back_client = one(&spans, "backend", SpanKind::Client);
    let worker_server = one(&spans, "worker", SpanKind::Server);
    assert_eq!(
        front_server.parent_span_id(),
        "",
        "the frontend started the trace"
    );
    assert_eq!(front_server.span.name, "GET /checkout");
    // W3C Level 2: the frontend started the trace, so its id is random; every
    // span of the three services is exported sampled and random, as its
    // `traceparent` headers were sent.
    for s in &spans {
        assert_eq!(s.span.flags & 0xff, 0x03, "{}: {}", s.service, s.span.name);
    }
    assert_eq!(
        back_server.parent_span_id(),
        front_client.span_id(),
        "backend <- frontend's call"
    );
    assert_eq!(
        worker_server.parent_span_id(),
        back_client.span_id(),
        "worker <- backend's call"
    );
    assert_eq!(back_server.span.name, "GET /price");
    assert_eq!(worker_server.span.name, "GET /stock");
    // The client span is inside the handler's span, itself inside the server span.
    let front_work = spans
        .iter()
        .find(|s| s.service == "frontend" && s.span.name == "work")
        .expect("the frontend's instrumented handler");
    assert_eq!(front_work.parent_span_id(), front_server.span_id());
    assert_eq!(front_client.parent_span_id(), front_work.span_id());
    assert_eq!(
        front_client
            .attribute("http.response.status_code")
            .as_deref(),
        Some("200")
    );
    // Through the real exporter: the conventions' attributes of both kinds.
    for server in [front_server, back_server, worker_server] {
        assert_eq!(server.attribute("url.scheme").as_deref(), Some("http"));
        assert_eq!(
            server.attribute("server.address").as_deref(),
            Some("127.0.0.1")
        );
        assert!(server.attribute("server.port").is_some());
        assert_eq!(
            server.attribute("network.protocol.version").as_deref(),
            Some("1.1")
        );
        // The example's `peer_fn` reads axum's `ConnectInfo`.
        assert_eq!(
            server.attribute("network.peer.address").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            server.attribute("client.address").as_deref(),
            Some("127.0.0.1")
        );
    }
    assert_eq!(
        front_client
            .attribute("network.protocol.version")
            .as_deref(),
        Some("1.1")
    );
    assert_eq!(
        front_client.attribute("network.peer.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(front_client.attribute("error.type"), None);

    // The order and its background job.
    let order_line = stdout
        .lines()
        .find(|l| l.contains("backend received an order"))
        .unwrap();
    let order_trace = &order_line[12..44];
    let job_line = stdout
        .lines()
        .find(|l| l.contains("confirmation e-mail"))
        .unwrap();
    let job_trace = &job_line[12..44];
    assert_ne!(order_trace, job_trace, "the job has a trace of its own");
    let job = store.of_trace(job_trace);
    let root = job
        .iter()
        .find(|s| s.span.name == "send_confirmation")
        .expect("the job's span");
    assert_eq!(root.service, "backend");
    assert_eq!(root.span.links.len(), 1);
    assert_eq!(
        common::otlp::hex(&root.span.links[0].trace_id),
        order_trace,
        "linked to the order"
    );
    // Its first attempt is refused: an `error!` is an event of its span, and
    // makes the span's status an error.
    let attempts: Vec<_> = job.iter().filter(|s| s.span.name == "send_mail").collect();
    assert_eq!(attempts.len(), 2, "{job:#?}");
    let failed = attempts
        .iter()
        .find(|s| s.span.status.as_ref().is_some_and(|st| st.code == 2))
        .expect("the refused attempt");
    assert_eq!(failed.span.events.len(), 1);
    assert_eq!(
        failed.span.events[0].name,
        "the mail server refused the e-mail"
    );
}

/// With nothing configured, the chain prints at exit each route's count,
/// errors and p50/p99 read back from the three services' metrics files: one
/// row per route and call the run made, with the requests it made, and the
/// files hold what the table says.
#[test]
fn the_chain_prints_its_request_metrics_from_the_metrics_files() {
    let state = std::env::temp_dir().join(format!("dt-chain-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let stdout = common::stdout_of(
        Command::new(common::example_binary("service_chain"))
            .env("XDG_STATE_HOME", &state)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_TRACES_EXPORTER")
            .env_remove("OTEL_METRICS_EXPORTER")
            .env_remove("OTEL_SERVICE_NAME")
            .env_remove("RUST_LOG"),
    );
    let table: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("request metrics (read back"))
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // (service, metric, method, route or server)
    let expected = [
        (
            "frontend",
            "http.server.request.duration",
            "GET",
            "/checkout",
        ),
        (
            "frontend",
            "http.server.request.duration",
            "POST",
            "/orders",
        ),
        (
            "frontend",
            "http.client.request.duration",
            "GET",
            "127.0.0.1",
        ),
        (
            "frontend",
            "http.client.request.duration",
            "POST",
            "127.0.0.1",
        ),
        ("backend", "http.server.request.duration", "GET", "/price"),
        ("backend", "http.server.request.duration", "POST", "/orders"),
        (
            "backend",
            "http.client.request.duration",
            "GET",
            "127.0.0.1",
        ),
        ("worker", "http.server.request.duration", "GET", "/stock"),
    ];
    for (service, metric, method, route) in expected {
        let row = table
            .iter()
            .find(|r| r[..4] == [service, metric, method, route])
            .unwrap_or_else(|| panic!("{service} {metric} {method} {route}: {stdout}"));
        // count errors p50 p99
        assert_eq!(row[4..6], ["1", "0"], "one request, no error: {row:?}");
        let p50: f64 = row[6].parse().unwrap();
        let p99: f64 = row[7].parse().unwrap();
        assert!(p50 > 0.0 && p50 <= p99, "{row:?}");
    }
    assert_eq!(table.len(), expected.len(), "no other row: {stdout}");
    // The table is what the files hold: the frontend's last collection.
    let dir = state.join("distributed-tracing");
    let last = distributed_tracing::otlp_file::read_metrics(dir.join("frontend.metrics.jsonl"))
        .unwrap()
        .map(Result::unwrap)
        .last()
        .unwrap();
    let server = last
        .histograms
        .iter()
        .find(|h| h.instrument == distributed_tracing::metrics::Instrument::HttpServer)
        .unwrap();
    assert_eq!(server.points.iter().map(|p| p.count).sum::<u64>(), 2);
    assert_eq!(
        last.resource.get(&"service.name".into()),
        Some("frontend".into())
    );
    let _ = std::fs::remove_dir_all(&state);
}
