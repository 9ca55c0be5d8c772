//! The server of the HTTP layer benchmarks (`benches/http_load.sh`,
//! `benches/http_instructions.sh`, `benches/metrics_instructions.sh`): one
//! axum route, `GET /hello`, in one of these set-ups, all with the same
//! OpenTelemetry SDK and `tracing` subscriber installed (`init_observability`'s,
//! spans recorded and sampled, not exported):
//!
//! * `plain`: no middleware (the baseline);
//! * `ours`: `distributed_tracing::middleware::ServerTraceLayer` as a service
//!   has it: the route from axum's `MatchedPath` (`route_fn`), request metrics
//!   on (`http.server.request.duration`, with exemplars), recorded into a
//!   `RequestMetrics` store given with `.request_metrics(&store)`;
//! * `ours-metrics-off`: the same with `.metrics(false)`: the span alone;
//! * `upstream`: the usual hand-rolled upstream stack: a middleware that
//!   extracts the caller's context with the SDK's `TraceContextPropagator`,
//!   opens a `tracing` span (`otel.kind = "server"`), `set_parent`s it and
//!   instruments the handler with it (tracing-opentelemetry bridges the span);
//! * `axum-otel`: axum-tracing-opentelemetry's `OtelAxumLayer` (0.42, on the
//!   same opentelemetry 0.33), its span at `INFO`;
//! * `contrib`: opentelemetry-instrumentation-tower's layer (0.19, same
//!   opentelemetry 0.33) recording `http.server.request.duration` alone, its
//!   tracing off (`with_tracing(false)`), the route from `MatchedPath` (as its
//!   `AxumMatchedPathExtractor`), into the SDK's `SdkMeterProvider` installed
//!   as the global one (which the layer reads), with a `PeriodicReader`
//!   whose exporter discards (an interval of an hour: it exports once, at
//!   shutdown). Its three other instruments (`http.server.active_requests`,
//!   `http.server.request.body.size`, `http.server.response.body.size`) are
//!   dropped by views (`Aggregation::Drop`): the same histogram as ours;
//! * `contrib-all`: the same with its four instruments, as it comes;
//! * `contrib+ours-off`: `ours-metrics-off` around `contrib`: what a service
//!   gets that keeps the crate's tracing and takes its metrics from the
//!   contrib layer.
//!
//! ```text
//! cargo run --release --example http_bench_server --features reqwest -- ours 127.0.0.1:8081
//! LISTENING ours http://127.0.0.1:8081
//! ```
//!
//! On SIGTERM (Ctrl-C off Unix) the server stops accepting and waits for its
//! open connections, then prints `MEASURED <n> <attributes>` in the modes
//! that record `http.server.request.duration`: the measurements the
//! histogram holds (every series) and the attributes of its first series,
//! read from the crate's store (with the exemplars it keeps) or the SDK's
//! export (with the names of the metrics exported), and, on Linux,
//! `CPU_TICKS <n>`: the process's user + system time, every thread, in clock
//! ticks (`getconf CLK_TCK`), from `/proc/self/stat`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use distributed_tracing::config::TracesExporter;
use distributed_tracing::metrics::{Instrument, RequestMetrics, Temporality};
use distributed_tracing::middleware::ServerTraceLayer;
use distributed_tracing::ObservabilityBuilder;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_instrumentation_tower::http::extractors::FnRouteExtractor;
use opentelemetry_instrumentation_tower::http::server::LayerBuilder;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{
    Aggregation, PeriodicReader, SdkMeterProvider, Stream, Temporality as SdkTemporality,
};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const MODES: &str =
    "plain, ours, ours-metrics-off, upstream, axum-otel, contrib, contrib-all or contrib+ours-off";

const DURATION: &str = "http.server.request.duration";

async fn hello() -> &'static str {
    "hello"
}

/// The hand-rolled upstream middleware.
async fn upstream(request: Request, next: Next) -> Response {
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(request.headers()));
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        otel.name = %format!("{} /hello", request.method()),
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    let _ = span.set_parent(parent);
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

/// The route template, as a service gives it to `ServerTraceLayer`.
fn matched_path(extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

/// The layer of the `ours*` modes (metrics into `store`, or off).
fn ours_layer(store: Option<&RequestMetrics>) -> ServerTraceLayer {
    let layer = ServerTraceLayer::new().route_fn(matched_path);
    match store {
        Some(store) => layer.request_metrics(store),
        None => layer.metrics(false),
    }
}

/// What the SDK's reader exported last: the `http.server.request.duration`
/// measurements, the attributes of its first point and the metrics exported.
#[derive(Debug, Clone, Default)]
struct Exported(Arc<Mutex<Option<(u64, String)>>>);

/// A metric exporter that keeps only what `MEASURED` prints.
impl PushMetricExporter for Exported {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let metrics: Vec<_> = metrics.scope_metrics().flat_map(|s| s.metrics()).collect();
        let names: Vec<&str> = metrics.iter().map(|m| m.name()).collect();
        for metric in metrics {
            if let (DURATION, AggregatedMetrics::F64(MetricData::Histogram(h))) =
                (metric.name(), metric.data())
            {
                let count = h.data_points().map(|p| p.count()).sum();
                let attributes = h
                    .data_points()
                    .next()
                    .map(|p| attributes(p.attributes().map(|kv| (kv.key.as_str(), &kv.value))))
                    .unwrap_or_default();
                let names = names.join(",");
                *self.0.lock().unwrap() = Some((count, format!("{attributes} metrics={names}")));
            }
        }
        std::future::ready(Ok(()))
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> SdkTemporality {
        SdkTemporality::Cumulative
    }
}

/// `key=value` pairs, sorted, comma-separated.
fn attributes<'a>(kvs: impl Iterator<Item = (&'a str, &'a opentelemetry::Value)>) -> String {
    let mut kvs: Vec<String> = kvs.map(|(k, v)| format!("{k}={v}")).collect();
    kvs.sort();
    kvs.join(",")
}

/// The SDK meter provider of the contrib modes, installed as the global one
/// (the contrib layer reads it when it is built); `only_duration`: the
/// layer's other instruments dropped.
fn contrib_meter_provider(exported: &Exported, only_duration: bool) -> SdkMeterProvider {
    let reader = PeriodicReader::builder(exported.clone())
        .with_interval(Duration::from_secs(3600))
        .build();
    let mut builder = SdkMeterProvider::builder().with_reader(reader);
    if only_duration {
        builder = builder.with_view(|i: &opentelemetry_sdk::metrics::Instrument| {
            (i.name() != DURATION).then(|| {
                Stream::builder()
                    .with_aggregation(Aggregation::Drop)
                    .build()
                    .unwrap()
            })
        });
    }
    let provider = builder.build();
    opentelemetry::global::set_meter_provider(provider.clone());
    provider
}

/// The route of a request as the contrib layer reads it.
type ContribRoute = FnRouteExtractor<fn(&Request) -> Option<String>>;

/// opentelemetry-instrumentation-tower's layer: metrics only, the route from
/// `MatchedPath`.
fn contrib_layer() -> opentelemetry_instrumentation_tower::http::server::Layer<ContribRoute> {
    let route: fn(&Request) -> Option<String> = |req| matched_path(req.extensions());
    LayerBuilder::builder()
        .with_route_extractor(FnRouteExtractor::new(route))
        .with_tracing(false)
        .build()
        .unwrap()
}

/// Listens for SIGTERM (Ctrl-C off Unix) from now on; the future ends when
/// it comes.
fn terminated() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    async move {
        #[cfg(unix)]
        term.recv().await;
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.unwrap();
    }
}

/// This process's user + system time, every thread (those ended included),
/// in clock ticks: fields 14 and 15 of `/proc/self/stat` (Linux).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "plain".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    // Spans are recorded (sampled) but not exported: the comparison is about
    // the middleware, not the exporter.
    let _guard = ObservabilityBuilder::default()
        .service_name("bench")
        .traces_exporter(TracesExporter::None)
        // `info`: the upstream middlewares' spans are `INFO` spans, which a
        // stricter filter would disable (and so not measure).
        .env_vars([("RUST_LOG", "info")])
        .init()
        .unwrap();
    let store = RequestMetrics::new();
    let exported = Exported::default();
    let mut meter_provider = None;
    let app = Router::new().route("/hello", get(hello));
    let app = match mode.as_str() {
        "plain" => app,
        "ours" => app.layer(ours_layer(Some(&store))),
        "ours-metrics-off" => app.layer(ours_layer(None)),
        "upstream" => app.layer(axum::middleware::from_fn(upstream)),
        "axum-otel" => app.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
        "contrib" | "contrib-all" => {
            meter_provider = Some(contrib_meter_provider(&exported, mode == "contrib"));
            app.layer(contrib_layer())
        }
        "contrib+ours-off" => {
            meter_provider = Some(contrib_meter_provider(&exported, true));
            app.layer(contrib_layer()).layer(ours_layer(None))
        }
        other => panic!("mode {other}: {MODES}"),
    };
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    // Answers to pipelined requests are written one by one: without
    // TCP_NODELAY, each after the first waits for the client's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let terminated = terminated();
    println!("LISTENING {mode} http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(terminated)
        .await
        .unwrap();

    let measured = match (&mode[..], meter_provider) {
        ("ours", _) => store
            .collect(Temporality::Cumulative)
            .into_iter()
            .find(|h| h.instrument == Instrument::HttpServer)
            .map(|h| {
                let count = h.points.iter().map(|p| p.count).sum::<u64>();
                let first = &h.points[0];
                let attributes = attributes(
                    first
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.as_str(), &kv.value)),
                );
                let exemplars: usize = h.points.iter().map(|p| p.exemplars.len()).sum();
                (count, format!("{attributes} exemplars={exemplars}"))
            }),
        (_, Some(provider)) => {
            // The periodic reader's one export.
            provider.shutdown().unwrap();
            exported.0.lock().unwrap().take()
        }
        _ => None,
    };
    if let Some((count, attributes)) = measured {
        println!("MEASURED {count} {attributes}");
    }
    if let Some(ticks) = cpu_ticks() {
        println!("CPU_TICKS {ticks}");
    }
}
