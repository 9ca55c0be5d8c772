//! Request metrics over OTLP into a real receiver (gRPC and HTTP, gzip): the
//! histograms the server layer recorded arrive decoded by upstream's
//! protobuf types, with the conventions' names, units, buckets and
//! attributes, and exemplars whose ids are those of the exported spans; the
//! guard's drop exports the last collection; delta temporality resets.

use crate::common;

use common::otlp::{hex, Protocol, Receiver, Store};
use distributed_tracing::config::{MetricsExporter, OtlpCompression, OtlpProtocol};
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::ObservabilityBuilder;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, HistogramDataPoint};
use tower::ServiceExt as _;

fn route(ext: &http::Extensions) -> Option<String> {
    ext.get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

/// `requests` GETs through an axum router behind the guard's layer.
fn serve(guard: &distributed_tracing::ObservabilityGuard, paths: &[&str]) {
    let app = axum::Router::new()
        .route("/orders/{id}", axum::routing::get(|| async { "order" }))
        .route(
            "/boom",
            axum::routing::get(|| async { http::StatusCode::SERVICE_UNAVAILABLE }),
        )
        .layer(
            ServerTraceLayer::new()
                .tracer_provider(guard.tracer_provider().unwrap())
                .request_metrics(guard.request_metrics().unwrap())
                .route_fn(route),
        );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for path in paths {
            let request = http::Request::get(*path)
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            drop(axum::body::to_bytes(response.into_body(), usize::MAX).await);
        }
    });
}

/// Every histogram point received, with its metric's name, unit and temporality.
fn points(
    requests: &[ExportMetricsServiceRequest],
) -> Vec<(String, String, i32, HistogramDataPoint)> {
    let mut out = Vec::new();
    for request in requests {
        for rm in &request.resource_metrics {
            for sm in &rm.scope_metrics {
                assert_eq!(sm.scope.as_ref().unwrap().name, "distributed-tracing");
                for m in &sm.metrics {
                    let Some(Data::Histogram(h)) = &m.data else {
                        panic!("not a histogram: {m:?}")
                    };
                    for p in &h.data_points {
                        out.push((
                            m.name.clone(),
                            m.unit.clone(),
                            h.aggregation_temporality,
                            p.clone(),
                        ));
                    }
                }
            }
        }
    }
    out
}

fn attr(p: &HistogramDataPoint, key: &str) -> Option<String> {
    p.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(i) => i.to_string(),
            other => format!("{other:?}"),
        })
}

#[test]
fn histograms_and_exemplars_arrive_over_both_protocols() {
    for (protocol, otlp, gzip) in [
        (Protocol::Grpc, OtlpProtocol::Grpc, true),
        (Protocol::Http, OtlpProtocol::HttpProtobuf, false),
        (Protocol::Http, OtlpProtocol::HttpProtobuf, true),
    ] {
        let receiver = Receiver::start(protocol, 0, Store::default());
        let guard = ObservabilityBuilder::default()
            .env_vars([("OTEL_SERVICE_NAME", "orders")])
            .otlp_protocol(otlp)
            .otlp_endpoint(receiver.endpoint(protocol))
            .otlp_compression(match gzip {
                true => OtlpCompression::Gzip,
                false => OtlpCompression::None,
            })
            .build()
            .unwrap();
        assert_eq!(
            guard.config().metrics.exporter,
            MetricsExporter::Otlp,
            "metrics go where the spans go"
        );
        serve(&guard, &["/orders/1", "/orders/2", "/orders/3", "/boom"]);
        drop(guard);
        let store = receiver.stop();
        let received = points(&store.metrics());
        let what = format!("{protocol:?} gzip={gzip}");
        let orders = received
            .iter()
            .find(|(name, .., p)| {
                name == "http.server.request.duration"
                    && attr(p, "http.route").as_deref() == Some("/orders/{id}")
            })
            .unwrap_or_else(|| panic!("{what}: {received:#?}"));
        let (_, unit, temporality, p) = orders;
        assert_eq!(unit, "s");
        assert_eq!(*temporality, 2, "cumulative by default");
        assert_eq!(p.count, 3, "{what}");
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), 3);
        assert_eq!(
            p.explicit_bounds,
            distributed_tracing::metrics::DURATION_BUCKETS
        );
        assert!(p.sum.unwrap() > 0.0 && p.min.is_some() && p.max.is_some());
        assert_eq!(attr(p, "http.request.method").as_deref(), Some("GET"));
        assert_eq!(attr(p, "http.response.status_code").as_deref(), Some("200"));
        assert!(
            !p.exemplars.is_empty(),
            "{what}: an exemplar per bucket used"
        );
        // Each exemplar is a span the same receiver got: the request's SERVER
        // span, with the exemplar's value its duration.
        for e in &p.exemplars {
            let spans = store.of_trace(&hex(&e.trace_id));
            let span = spans
                .iter()
                .find(|s| s.span_id() == hex(&e.span_id))
                .unwrap_or_else(|| panic!("{what}: exemplar of no exported span"));
            let duration =
                (span.span.end_time_unix_nano - span.span.start_time_unix_nano) as f64 / 1e9;
            let value = match e.value {
                Some(opentelemetry_proto::tonic::metrics::v1::exemplar::Value::AsDouble(v)) => v,
                other => panic!("{other:?}"),
            };
            assert!((value - duration).abs() < 1e-9, "{value} vs {duration}");
        }
        let boom = received
            .iter()
            .find(|(.., p)| attr(p, "http.route").as_deref() == Some("/boom"))
            .unwrap();
        assert_eq!(attr(&boom.3, "error.type").as_deref(), Some("503"));
        // The guard's drop exported the last collection once: one point per
        // series (the interval, 60 s, never came).
        assert_eq!(received.len(), 2, "{what}: {received:#?}");
    }
}

#[test]
fn delta_temporality_sends_each_interval_s_measurements_once() {
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_SERVICE_NAME", "orders"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        ])
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .otlp_endpoint(receiver.endpoint(Protocol::Http))
        .build()
        .unwrap();
    serve(&guard, &["/orders/1", "/orders/2"]);
    guard.flush().unwrap();
    serve(&guard, &["/orders/3"]);
    drop(guard);
    let received = points(&receiver.stop().metrics());
    let counts: Vec<(i32, u64)> = received.iter().map(|(.., t, p)| (*t, p.count)).collect();
    assert_eq!(counts, [(1, 2), (1, 1)], "{received:#?}");
    assert!(received[1].3.start_time_unix_nano >= received[0].3.time_unix_nano);
}

/// Durations as large as the variables can say (`u64::MAX` milliseconds)
/// start the pipeline and export at shutdown without a panic or a hang (the
/// gRPC `grpc-timeout` header holds at most 8 digits: tonic panicked on
/// such a deadline, for spans as for metrics, before it was capped).
#[test]
fn the_largest_intervals_and_deadlines_are_held() {
    let receiver = Receiver::start(Protocol::Grpc, 0, Store::default());
    let max = u64::MAX.to_string();
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_METRIC_EXPORT_INTERVAL", max.as_str()),
            ("OTEL_METRIC_EXPORT_TIMEOUT", max.as_str()),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", max.as_str()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", max.as_str()),
            ("OTEL_BSP_EXPORT_TIMEOUT", max.as_str()),
        ])
        .otlp_protocol(OtlpProtocol::Grpc)
        .otlp_endpoint(receiver.endpoint(Protocol::Grpc))
        .build()
        .unwrap();
    assert!(
        guard.config().issues.is_empty(),
        "{:?}",
        guard.config().issues
    );
    serve(&guard, &["/orders/1"]);
    let started = std::time::Instant::now();
    drop(guard);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let store = receiver.stop();
    let received = points(&store.metrics());
    assert_eq!(received.len(), 1, "the last collection, at shutdown");
    assert_eq!(store.spans().len(), 1, "and the span, over gRPC too");
}

/// Metrics go over mutual TLS with their own settings
/// (`OTEL_EXPORTER_OTLP_METRICS_*`, over the generic ones that would fail
/// the handshake), both transports, through a TLS-terminating proxy that
/// requires a client certificate; the spans to their own plain endpoint.
#[test]
fn metrics_go_over_mutual_tls_with_their_own_settings() {
    use common::tls::{var, Pki, Served, TlsProxy};
    let pki = Pki::new("metrics");
    for (protocol, otlp) in [
        (Protocol::Grpc, OtlpProtocol::Grpc),
        (Protocol::Http, OtlpProtocol::HttpProtobuf),
    ] {
        let spans = Receiver::start(protocol, 0, Store::default());
        let metrics = Receiver::start(protocol, 0, Store::default());
        let proxy = TlsProxy::start(&pki, metrics.addr, Served::Localhost, true);
        let endpoint = match protocol {
            Protocol::Grpc => format!("https://localhost:{}", proxy.addr.port()),
            Protocol::Http => format!("https://localhost:{}/v1/metrics", proxy.addr.port()),
        };
        let guard = ObservabilityBuilder::default()
            .env_vars([
                ("OTEL_SERVICE_NAME", "billing".to_string()),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    spans.endpoint(protocol),
                ),
                ("OTEL_LOGS_EXPORTER", "none".into()),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", var(&pki.other_ca)),
                ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", var(&pki.ca)),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
                    var(&pki.client_cert),
                ),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
                    var(&pki.client_key),
                ),
            ])
            .otlp_protocol(otlp)
            .build()
            .unwrap();
        assert_eq!(
            guard.config().metrics.exporter,
            MetricsExporter::Otlp,
            "{:?}",
            guard.config().issues
        );
        serve(&guard, &["/orders/1", "/orders/2"]);
        drop(guard);
        let handshakes = proxy.handshakes();
        drop(proxy);
        let received = points(&metrics.stop().metrics());
        assert_eq!(
            received.len(),
            1,
            "{protocol:?}: {received:#?} {handshakes:?}"
        );
        assert_eq!(received[0].3.count, 2);
        assert!(
            !handshakes.is_empty() && handshakes.iter().all(Result::is_ok),
            "{handshakes:?}"
        );
        assert_eq!(spans.stop().spans().len(), 2, "{protocol:?}");
    }
}

/// A collector that answers 503 to the first metric requests: they are
/// retried within the export deadline and arrive once, nothing lost; the
/// guard's stats say so.
#[test]
fn refused_metric_requests_are_retried() {
    let mut store = Store::default();
    store.refuse_next(2, None);
    let receiver = Receiver::start(Protocol::Http, 0, store);
    let guard = ObservabilityBuilder::default()
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
        ])
        .otlp_protocol(OtlpProtocol::HttpProtobuf)
        .otlp_endpoint(receiver.endpoint(Protocol::Http))
        .build()
        .unwrap();
    serve(&guard, &["/orders/1"]);
    guard.flush().unwrap();
    let stats = guard.metric_export_stats();
    assert_eq!((stats.exported, stats.lost()), (1, 0), "{stats:?}");
    drop(guard);
    let received = points(&receiver.stop().metrics());
    // The flush's collection, then the shutdown's (cumulative: the same count).
    assert_eq!(
        received.iter().map(|(.., p)| p.count).collect::<Vec<_>>(),
        [1, 1]
    );
}
