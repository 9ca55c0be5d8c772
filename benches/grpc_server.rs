//! The per-call cost of the gRPC server layer: one unary `demo.Inventory/Check`
//! call through tonic's server stack, in one criterion group (`grpc_unary`),
//! three ways side by side:
//!
//! * `floor_plain_tonic`: the tonic `Routes` alone (no tracing layer);
//! * `ours_grpc_server_layer`: the same behind [`GrpcServerLayer`];
//! * `peer_tonic_tracing_opentelemetry`: the same behind the peer crate's
//!   `tonic_tracing_opentelemetry::middleware::server::OtelGrpcLayer` (0.42).
//!
//! What is measured is the layer, not the network: each iteration builds an
//! `http::Request` as hyper hands one to a tonic server (an HTTP/2 URI with
//! the authority, `content-type: application/grpc`, `te: trailers`, a
//! `traceparent` and a gRPC-framed protobuf body), calls the service
//! directly (`ready().call()`, as `Server::builder().layer(..)` would wrap
//! the routes), and collects the response body up to its trailers, checking
//! `grpc-status: 0`.
//!
//! The same things are installed for all three, once, as a service does:
//! an OpenTelemetry SDK tracer provider (parent-based always-on: the caller's
//! `traceparent` is sampled) as the global provider, whose one span processor
//! counts the ended spans and drops them (it receives the span data as an
//! exporter would, and adds only a counter to that); this crate's default global
//! propagator (W3C trace context + baggage), which the peer reads too; and a
//! global `tracing` subscriber that is a registry with tracing-opentelemetry's
//! layer (its defaults) on the same provider, which the peer's span needs (no
//! log format layer, no filter). Both traced variants continue the caller's
//! trace with one SERVER span, checked before measuring.
//!
//! `GrpcServerLayer` starts its span with the global provider's tracer here
//! (a look-up of the global provider, a boxed tracer and a boxed span per
//! call: a few hundred instructions), as with any provider that
//! `init_observability` did not install itself; with `init_observability` it
//! uses a tracer it cached: these figures overstate its cost a little.
//!
//! `GRPC_BENCH_CALLS="<variant> <n>"` makes `n` calls of one variant without
//! criterion, for `benches/grpc_instructions.sh` (instructions per call).
//!
//! Run (short, for a 2-core machine); the last lines are a table of each
//! variant's time and of each layer's overhead over plain tonic: criterion's
//! medians, then the fastest of 40 rounds in which the three take turns
//! (see [`interleaved`]):
//!
//! ```text
//! cargo bench --bench grpc_server --features grpc -- --warm-up-time 1 --measurement-time 3
//! ```

use std::fmt::Debug;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use criterion::Criterion;
use distributed_tracing::middleware::{GrpcServerLayer, GrpcServerService};
use distributed_tracing::opentelemetry::trace::{SpanKind, TraceId, TracerProvider as _};
use distributed_tracing::opentelemetry::{global, Context};
use distributed_tracing::opentelemetry_sdk::error::OTelSdkResult;
use distributed_tracing::opentelemetry_sdk::trace::{
    SdkTracerProvider, Span, SpanData, SpanProcessor,
};
use distributed_tracing::propagation::W3cPropagator;
use grpc_demo::inventory_server::{Inventory, InventoryServer};
use grpc_demo::{CheckReply, CheckRequest, WatchRequest};
use http_body_util::{BodyExt as _, Full};
use prost::Message as _;
use tonic::codegen::Bytes;
use tonic::service::Routes;
use tonic::{Request, Response, Status, Streaming};
use tonic_tracing_opentelemetry::middleware::server::{OtelGrpcLayer, OtelGrpcService};
use tower::{Layer as _, Service, ServiceExt as _};
use tracing_subscriber::layer::SubscriberExt as _;

/// The caller's context: a sampled trace.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";
/// The URI hyper gives a tonic server for an HTTP/2 call.
const URI: &str = "http://127.0.0.1:50051/demo.Inventory/Check";

/// `demo.Inventory`: `Check` answers at once; the streaming methods are not
/// called.
struct Stock;

type Replies = Pin<Box<dyn tokio_stream::Stream<Item = Result<CheckReply, Status>> + Send>>;

#[tonic::async_trait]
impl Inventory for Stock {
    async fn check(&self, request: Request<CheckRequest>) -> Result<Response<CheckReply>, Status> {
        Ok(Response::new(CheckReply {
            item: request.into_inner().item,
            in_stock: 7,
            trace_id: String::new(),
            price_cents: 0,
        }))
    }

    type WatchStream = Replies;

    async fn watch(&self, _: Request<WatchRequest>) -> Result<Response<Replies>, Status> {
        Err(Status::unimplemented("not in the benchmark"))
    }

    type ChatStream = Replies;

    async fn chat(&self, _: Request<Streaming<CheckRequest>>) -> Result<Response<Replies>, Status> {
        Err(Status::unimplemented("not in the benchmark"))
    }
}

/// The span processor: counts the spans it is given and drops them, and
/// keeps them while `capture` is on (for the checks before measuring).
#[derive(Debug, Default)]
struct CountingSink {
    ended: AtomicU64,
    capture: AtomicBool,
    captured: Mutex<Vec<SpanData>>,
}

impl SpanProcessor for &'static CountingSink {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.ended.fetch_add(1, Ordering::Relaxed);
        if self.capture.load(Ordering::Relaxed) {
            self.captured.lock().expect("not poisoned").push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Installs the provider, the propagator and the subscriber for the whole run.
fn install() -> &'static CountingSink {
    let sink: &'static CountingSink = Box::leak(Box::default());
    let provider = SdkTracerProvider::builder()
        .with_span_processor(sink)
        .build();
    global::set_text_map_propagator(W3cPropagator::new());
    global::set_tracer_provider(provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(otel))
        .expect("the only subscriber");
    sink
}

/// The request body: one gRPC message (not compressed, length, protobuf).
fn body() -> Bytes {
    let message = CheckRequest {
        item: "widget".into(),
    }
    .encode_to_vec();
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
    framed.extend_from_slice(&message);
    framed.into()
}

/// One unary call through `service`: the request as a tonic server receives
/// it, the whole response (messages and trailers); returns the bytes of the
/// answer's messages.
fn call<S, B>(service: &mut S, body: &Bytes) -> usize
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: Debug,
    B: http_body::Body,
    B::Error: Debug,
{
    let request = http::Request::builder()
        .method(http::Method::POST)
        .uri(URI)
        .version(http::Version::HTTP_2)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("traceparent", TRACEPARENT)
        .body(Full::new(body.clone()))
        .expect("a valid request");
    futures::executor::block_on(async {
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(request)
            .await
            .expect("an answer");
        let collected = response.into_body().collect().await.expect("a whole body");
        let status = collected.trailers().and_then(|t| t.get("grpc-status"));
        assert_eq!(status.map(|s| s.as_bytes()), Some(&b"0"[..]), "grpc-status");
        collected.to_bytes().len()
    })
}

/// Makes one call with `service` and checks the spans it produced: none
/// (`server_span` false), or one SERVER span named `demo.Inventory/Check`,
/// a child of the caller's span in the caller's trace.
fn check<S, B>(sink: &CountingSink, name: &str, service: &mut S, body: &Bytes, server_span: bool)
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: Debug,
    B: http_body::Body,
    B::Error: Debug,
{
    let before = sink.ended.load(Ordering::Relaxed);
    sink.capture.store(true, Ordering::Relaxed);
    let answer = call(service, body);
    sink.capture.store(false, Ordering::Relaxed);
    assert!(answer > 5, "{name}: a reply message");
    let spans = std::mem::take(&mut *sink.captured.lock().expect("not poisoned"));
    let ended = sink.ended.load(Ordering::Relaxed) - before;
    assert_eq!(
        ended,
        spans.len() as u64,
        "{name}: every span ended was kept"
    );
    if !server_span {
        assert!(spans.is_empty(), "{name}: no span expected, got {spans:?}");
        return;
    }
    assert_eq!(spans.len(), 1, "{name}: one span expected, got {spans:?}");
    let span = &spans[0];
    assert_eq!(span.span_kind, SpanKind::Server, "{name}");
    assert_eq!(span.name, "demo.Inventory/Check", "{name}");
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE_ID).expect("hex"),
        "{name}"
    );
    assert_eq!(span.parent_span_id.to_string(), PARENT_SPAN_ID, "{name}");
    assert!(span.span_context.is_sampled(), "{name}");
}

const GROUP: &str = "grpc_unary";
const PLAIN: &str = "floor_plain_tonic";
const OURS: &str = "ours_grpc_server_layer";
const PEER: &str = "peer_tonic_tracing_opentelemetry";

/// The three services.
struct Services {
    plain: Routes,
    ours: GrpcServerService<Routes>,
    peer: OtelGrpcService<Routes>,
}

/// The three services over the same routes, each checked with one call.
fn services(sink: &CountingSink, body: &Bytes) -> Services {
    let routes = Routes::new(InventoryServer::new(Stock)).prepare();
    let mut s = Services {
        plain: routes.clone(),
        ours: GrpcServerLayer::new().layer(routes.clone()),
        peer: OtelGrpcLayer::default().layer(routes),
    };
    check(sink, PLAIN, &mut s.plain, body, false);
    check(sink, OURS, &mut s.ours, body, true);
    check(sink, PEER, &mut s.peer, body, true);
    s
}

fn grpc_unary(c: &mut Criterion, s: &mut Services, body: &Bytes) {
    let mut g = c.benchmark_group(GROUP);
    g.bench_function(PLAIN, |b| b.iter(|| call(&mut s.plain, body)));
    g.bench_function(OURS, |b| b.iter(|| call(&mut s.ours, body)));
    g.bench_function(PEER, |b| b.iter(|| call(&mut s.peer, body)));
    g.finish();
}

/// Rounds and calls per round of [`interleaved`].
const ROUNDS: u32 = 40;
const CALLS: u32 = 1000;

/// The three variants in turns, `ROUNDS` rounds of `CALLS` calls each; the
/// fastest round of each, in ns per call. Criterion measures one variant
/// after the other, so a load that comes and goes on a shared machine can
/// favour any of them; here each round of a variant is next to one of the
/// others, and a round that the load slowed down is not the fastest.
fn interleaved(s: &mut Services, body: &Bytes) -> [f64; 3] {
    let mut best = [f64::INFINITY; 3];
    let time = |f: &mut dyn FnMut() -> usize| {
        let start = std::time::Instant::now();
        for _ in 0..CALLS {
            std::hint::black_box(f());
        }
        start.elapsed().as_nanos() as f64 / f64::from(CALLS)
    };
    for _ in 0..ROUNDS {
        best[0] = best[0].min(time(&mut || call(&mut s.plain, body)));
        best[1] = best[1].min(time(&mut || call(&mut s.ours, body)));
        best[2] = best[2].min(time(&mut || call(&mut s.peer, body)));
    }
    best
}

/// `GRPC_BENCH_CALLS="<variant> <n>"` (`plain`, `ours` or `peer`): `n` calls
/// of one variant and nothing else, for an instruction count
/// (`benches/grpc_instructions.sh`).
fn fixed_calls(sink: &CountingSink, spec: &str) {
    let (variant, n) = spec
        .split_once(' ')
        .expect("GRPC_BENCH_CALLS=\"<variant> <n>\"");
    let n: u64 = n.parse().expect("a number of calls");
    let body = body();
    let mut s = services(sink, &body);
    let mut bytes = 0;
    for _ in 0..n {
        bytes += match variant {
            "plain" => call(&mut s.plain, &body),
            "ours" => call(&mut s.ours, &body),
            "peer" => call(&mut s.peer, &body),
            other => panic!("variant {other}: plain, ours or peer"),
        };
    }
    println!("{variant}: {n} calls, {bytes} bytes answered");
}

/// The median of a benchmark of this run (written after `since`), in ns,
/// from criterion's `estimates.json` (none when it did not run: filtered out).
fn median_ns(function: &str, since: SystemTime) -> Option<f64> {
    let dir = std::env::var_os("CRITERION_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(|target| std::path::Path::new(&target).join("criterion"))
        })
        .unwrap_or_else(|| "target/criterion".into());
    let path = dir.join(GROUP).join(function).join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

/// The table of the medians and of each layer's overhead over plain tonic,
/// then of the interleaved rounds (when the whole group ran).
fn summary(since: SystemTime, s: &mut Services, body: &Bytes) {
    let medians = [PLAIN, OURS, PEER].map(|f| median_ns(f, since));
    let [Some(plain), Some(ours), Some(peer)] = medians else {
        return;
    };
    let best = interleaved(s, body);
    println!("\n| server | ns per call (criterion median) | overhead | ns per call (interleaved, fastest of {ROUNDS} rounds) | overhead |");
    println!("|---|---|---|---|---|");
    let labels = [
        "plain tonic",
        "GrpcServerLayer",
        "tonic-tracing-opentelemetry",
    ];
    for (i, label) in labels.into_iter().enumerate() {
        let median = [plain, ours, peer][i];
        match i {
            0 => println!("| {label} | {median:.0} | | {:.0} | |", best[0]),
            _ => println!(
                "| {label} | {median:.0} | {:.0} | {:.0} | {:.0} |",
                median - plain,
                best[i],
                best[i] - best[0]
            ),
        }
    }
    println!(
        "\nGrpcServerLayer's overhead over the peer's (goal: at most 0.50): {:.2} (criterion), {:.2} (interleaved)",
        (ours - plain) / (peer - plain),
        (best[1] - best[0]) / (best[2] - best[0])
    );
}

fn main() {
    let started = SystemTime::now();
    let sink = install();
    if let Ok(spec) = std::env::var("GRPC_BENCH_CALLS") {
        return fixed_calls(sink, &spec);
    }
    let body = body();
    let mut s = services(sink, &body);
    let mut c = Criterion::default().configure_from_args();
    grpc_unary(&mut c, &mut s, &body);
    c.final_summary();
    summary(started, &mut s, &body);
}
