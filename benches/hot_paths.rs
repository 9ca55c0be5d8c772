//! Hot-path benchmarks: each operation of this crate measured side by side with
//! the plain OpenTelemetry / tracing-opentelemetry way of doing the same thing,
//! in the same criterion group, plus a cheap "floor" where one exists.
//!
//! Groups (one per row of the comparison):
//!
//! 1. `trace_id_hex`: a new trace id as 32 hex characters;
//! 2. `span_id_hex`: a new span id as 16 hex characters;
//! 3. `current_trace_id_hex`: the current trace id inside an entered bridged span;
//! 4. `inject`: outgoing `traceparent` (+ `tracestate`) for the current span;
//! 5. `extract`: incoming `traceparent` + `tracestate` into a remote context;
//! 6. `continue_from_headers`: incoming headers to a current child context;
//! 7. `span_lifecycle`: a bridged `tracing` span created, entered, exited, closed;
//! 8. `span_enter_exit`: entering and exiting an existing bridged span;
//! 9. `trace_context_dict`: `get_trace_context_dict()` inside a span;
//! 10. `log_line`: one `info!` line through the plain fmt layer and ours;
//! 11. `messaging`: per message, the PRODUCER span + its context into the
//!     headers, and the CONSUMER span from a message's headers.
//!
//! Function names: `ours*` is this crate, `upstream*` the plain upstream
//! equivalent, `floor*` a lower bound (the bare primitive underneath), and
//! `experiment*` a configuration this crate does not use, for comparison.
//!
//! `init_observability`'s builder installs, once, what a service gets: the
//! global SDK tracer provider (here `AlwaysOn` and no exporter) and this
//! crate's default propagator (W3C trace context + baggage); each group picks
//! its own subscriber with `tracing::dispatcher::with_default`.
//!
//! Run (short, for a 2-core machine):
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-bench cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Append a group name (e.g. `extract`) to run only that group.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{criterion_main, Criterion};
use distributed_tracing::bridge::{BridgeOptions, SpanEvents};
use distributed_tracing::compat::TraceContextDict;
use distributed_tracing::logging::{JsonFormat, TraceContextFormat};
use distributed_tracing::messaging::{Destination, Message, Messaging, PairsInjector};
use distributed_tracing::opentelemetry::propagation::TextMapPropagator;
use distributed_tracing::opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _,
};
use distributed_tracing::opentelemetry::{global, Context, KeyValue};
use distributed_tracing::opentelemetry_sdk::propagation::TraceContextPropagator;
use distributed_tracing::opentelemetry_sdk::trace::{
    IdGenerator, RandomIdGenerator, SdkTracer, SdkTracerProvider,
};
use distributed_tracing::propagation::W3cTraceContextPropagator;
use distributed_tracing::propagation::{HeaderMapExtractor, HeaderMapInjector, PairsExtractor};
use distributed_tracing::tracing_opentelemetry::OpenTelemetrySpanExt;
use distributed_tracing::{SpanIdHex, TraceIdHex};
use http::HeaderMap;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

/// A valid incoming `traceparent`.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// A valid incoming `tracestate` with two members.
const TRACESTATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

/// Installs the global tracer provider, propagator and subscriber once, as a
/// service does, with `init_observability`'s builder (always-on sampler, no
/// exporter: the export thread's cost is not on the request path, and no log
/// lines); returns the provider.
fn provider() -> &'static SdkTracerProvider {
    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let guard = distributed_tracing::ObservabilityBuilder::default()
            .env_vars([
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_TRACES_SAMPLER", "always_on"),
                ("RUST_LOG", "off"),
            ])
            .init()
            .expect("observability installed once");
        let provider = guard.tracer_provider().expect("SDK enabled").clone();
        // Installed for the whole run.
        std::mem::forget(guard);
        provider
    })
}

/// An SDK tracer taken once from the provider (no global lookup per call).
fn sdk_tracer() -> SdkTracer {
    provider().tracer("bench")
}

/// The tracing registry alone: the floor of any `tracing` span work.
fn registry_only() -> Dispatch {
    Dispatch::new(tracing_subscriber::registry())
}

/// The bridged subscriber: registry + this crate's OpenTelemetry layer.
fn bridged() -> Dispatch {
    provider();
    Dispatch::new(tracing_subscriber::registry().with(distributed_tracing::otel_layer()))
}

/// The bridge with given options (see `BridgeOptions`): to measure what each
/// option costs per span.
fn bridged_with(options: BridgeOptions) -> Dispatch {
    provider();
    Dispatch::new(
        tracing_subscriber::registry().with(distributed_tracing::bridge::otel_layer_with(options)),
    )
}

/// The plain upstream bridge: `tracing_opentelemetry::layer()` with its own
/// defaults (busy/idle timings, thread and location attributes, every event a
/// span event).
fn bridged_upstream() -> Dispatch {
    provider();
    let layer = distributed_tracing::tracing_opentelemetry::layer()
        .with_tracer(global::tracer("distributed-tracing"));
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// Incoming headers as an `http::HeaderMap` (what our API takes).
fn header_map() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", TRACEPARENT.parse().expect("valid header"));
    headers.insert("tracestate", TRACESTATE.parse().expect("valid header"));
    headers
}

/// Incoming headers as a `HashMap<String, String>` (what upstream examples use).
fn hash_map() -> HashMap<String, String> {
    HashMap::from([
        ("traceparent".to_string(), TRACEPARENT.to_string()),
        ("tracestate".to_string(), TRACESTATE.to_string()),
    ])
}

/// The remote context of the incoming headers (with `tracestate`).
fn remote_context() -> Context {
    TraceContextPropagator::new().extract_with_context(&Context::new(), &hash_map())
}

/// A bridged `tracing` span continuing the remote trace, so that its context
/// carries a `tracestate` as a real request's would. Not entered yet.
fn request_span() -> tracing::Span {
    let span = tracing::info_span!("request");
    let _ = span.set_parent(remote_context());
    span
}

/// Row 1: a new trace id as 32 hex characters.
fn trace_id_hex(c: &mut Criterion) {
    let mut g = c.benchmark_group("trace_id_hex");
    g.bench_function("ours_generate_trace_id", |b| {
        b.iter(distributed_tracing::compat::generate_trace_id)
    });
    g.bench_function("ours_stack_TraceIdHex", |b| {
        b.iter(|| TraceIdHex::new(distributed_tracing::new_trace_id()))
    });
    g.bench_function("upstream_to_string", |b| {
        b.iter(|| RandomIdGenerator::default().new_trace_id().to_string())
    });
    g.bench_function("upstream_format", |b| {
        b.iter(|| {
            let id = RandomIdGenerator::default().new_trace_id();
            format!("{id}")
        })
    });
    g.bench_function("floor_stack_to_owned", |b| {
        b.iter(|| {
            TraceIdHex::new(distributed_tracing::new_trace_id())
                .as_str()
                .to_owned()
        })
    });
    g.bench_function("floor_ours_rng_only", |b| {
        b.iter(distributed_tracing::new_trace_id)
    });
    g.bench_function("floor_upstream_rng_only", |b| {
        b.iter(|| RandomIdGenerator::default().new_trace_id())
    });
    g.finish();
}

/// Row 2: a new span id as 16 hex characters.
fn span_id_hex(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_id_hex");
    g.bench_function("ours_generate_span_id", |b| {
        b.iter(distributed_tracing::compat::generate_span_id)
    });
    g.bench_function("ours_stack_SpanIdHex", |b| {
        b.iter(|| SpanIdHex::new(distributed_tracing::new_span_id()))
    });
    g.bench_function("upstream_to_string", |b| {
        b.iter(|| RandomIdGenerator::default().new_span_id().to_string())
    });
    g.bench_function("upstream_format", |b| {
        b.iter(|| {
            let id = RandomIdGenerator::default().new_span_id();
            format!("{id}")
        })
    });
    g.bench_function("floor_stack_to_owned", |b| {
        b.iter(|| {
            SpanIdHex::new(distributed_tracing::new_span_id())
                .as_str()
                .to_owned()
        })
    });
    g.bench_function("floor_ours_rng_only", |b| {
        b.iter(distributed_tracing::new_span_id)
    });
    g.bench_function("floor_upstream_rng_only", |b| {
        b.iter(|| RandomIdGenerator::default().new_span_id())
    });
    g.finish();
}

/// Row 3: the current trace id as hex inside an entered bridged span.
fn current_trace_id_hex(c: &mut Criterion) {
    let dispatch = bridged();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        let mut g = c.benchmark_group("current_trace_id_hex");
        g.bench_function("ours_get_trace_id", |b| {
            b.iter(distributed_tracing::compat::get_trace_id)
        });
        g.bench_function("ours_current_trace_id_hex", |b| {
            b.iter(distributed_tracing::current_trace_id_hex)
        });
        g.bench_function("upstream_span_current_context", |b| {
            b.iter(|| {
                tracing::Span::current()
                    .context()
                    .span()
                    .span_context()
                    .trace_id()
                    .to_string()
            })
        });
        g.bench_function("upstream_otel_context_current", |b| {
            b.iter(|| {
                Context::current()
                    .span()
                    .span_context()
                    .trace_id()
                    .to_string()
            })
        });
        g.bench_function("floor_map_current_typed", |b| {
            b.iter(|| Context::map_current(|cx| cx.span().span_context().trace_id()))
        });
        g.finish();
    });
}

/// Row 4: outgoing `traceparent` (+ `tracestate`) for the current span.
fn inject(c: &mut Criterion) {
    let dispatch = bridged();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = request_span();
        let _entered = span.enter();
        let mut g = c.benchmark_group("inject");
        g.bench_function("ours_propagate_trace_context", |b| {
            b.iter(distributed_tracing::compat::propagate_trace_context)
        });
        g.bench_function("ours_inject_headermap", |b| {
            b.iter(|| {
                let mut headers = HeaderMap::new();
                distributed_tracing::inject_trace_context(&mut headers);
                headers
            })
        });
        g.bench_function("ours_inject_hashmap", |b| {
            b.iter(|| {
                let mut map: HashMap<String, String> = HashMap::new();
                Context::map_current(|cx| {
                    distributed_tracing::propagation::inject_context_into(cx, &mut map)
                });
                map
            })
        });
        g.bench_function("ours_w3c_only_hashmap", |b| {
            let prop = W3cTraceContextPropagator::new();
            b.iter(|| {
                let mut map: HashMap<String, String> = HashMap::new();
                Context::map_current(|cx| prop.inject_context(cx, &mut map));
                map
            })
        });
        g.bench_function("upstream_hashmap", |b| {
            b.iter(|| {
                let mut map: HashMap<String, String> = HashMap::new();
                TraceContextPropagator::new().inject_context(&Context::current(), &mut map);
                map
            })
        });
        g.bench_function("upstream_headermap", |b| {
            b.iter(|| {
                let mut headers = HeaderMap::new();
                TraceContextPropagator::new()
                    .inject_context(&Context::current(), &mut HeaderMapInjector(&mut headers));
                headers
            })
        });
        g.finish();
    });
}

/// Row 5: incoming `traceparent` + `tracestate` parsed into a remote context.
fn extract(c: &mut Criterion) {
    provider();
    let headers = header_map();
    let map = hash_map();
    let mut g = c.benchmark_group("extract");
    g.bench_function("ours_headers", |b| {
        b.iter(|| distributed_tracing::extract_trace_context_from_headers(black_box(&headers)))
    });
    g.bench_function("ours_headers_then_context", |b| {
        b.iter(|| {
            distributed_tracing::extract_trace_context_from_headers(black_box(&headers))
                .map(|remote| remote.into_context())
        })
    });
    g.bench_function("ours_global_hashmap", |b| {
        b.iter(|| distributed_tracing::propagation::extract_context_from(black_box(&map)))
    });
    g.bench_function("ours_w3c_only_hashmap", |b| {
        b.iter(|| W3cTraceContextPropagator::new().extract(black_box(&map)))
    });
    g.bench_function("upstream_hashmap", |b| {
        b.iter(|| TraceContextPropagator::new().extract(black_box(&map)))
    });
    g.bench_function("upstream_headermap", |b| {
        b.iter(|| TraceContextPropagator::new().extract(&HeaderMapExtractor(black_box(&headers))))
    });
    g.finish();
}

/// Row 6: incoming headers to a current child context, then leaving it.
fn continue_from_headers(c: &mut Criterion) {
    let tracer = sdk_tracer();
    let headers = header_map();
    let map = hash_map();
    let mut g = c.benchmark_group("continue_from_headers");
    g.bench_function("ours_init_trace_from_headers", |b| {
        b.iter(|| {
            drop(distributed_tracing::compat::init_trace_from_headers(
                black_box(&headers),
            ))
        })
    });
    let mut no_tracestate = headers.clone();
    no_tracestate.remove("tracestate");
    g.bench_function("ours_init_trace_from_headers_no_tracestate", |b| {
        b.iter(|| {
            drop(distributed_tracing::compat::init_trace_from_headers(
                black_box(&no_tracestate),
            ))
        })
    });
    let mut map_no_tracestate = map.clone();
    map_no_tracestate.remove("tracestate");
    g.bench_function("upstream_cached_sdk_tracer_no_tracestate", |b| {
        b.iter(|| {
            let cx = TraceContextPropagator::new().extract(black_box(&map_no_tracestate));
            let span = tracer.start_with_context("child", &cx);
            drop(Context::current_with_span(span).attach());
        })
    });
    g.bench_function("upstream_global_tracer", |b| {
        b.iter(|| {
            let cx = TraceContextPropagator::new().extract(black_box(&map));
            let span = global::tracer("x").start_with_context("child", &cx);
            drop(Context::current_with_span(span).attach());
        })
    });
    g.bench_function("upstream_cached_sdk_tracer", |b| {
        b.iter(|| {
            let cx = TraceContextPropagator::new().extract(black_box(&map));
            let span = tracer.start_with_context("child", &cx);
            drop(Context::current_with_span(span).attach());
        })
    });
    g.finish();
}

/// Row 7: a span created, entered, exited and closed.
fn span_lifecycle(c: &mut Criterion) {
    let base = BridgeOptions::default();
    let variants = [
        ("ours_default", bridged()),
        ("upstream_defaults", bridged_upstream()),
        ("option_threads_on", bridged_with(base.threads(true))),
        ("option_timings_on", bridged_with(base.timings(true))),
        ("option_location_off", bridged_with(base.location(false))),
        (
            "option_span_events_all",
            bridged_with(base.span_events(SpanEvents::All)),
        ),
        (
            "option_context_activation_off",
            bridged_with(base.context_activation(false)),
        ),
        ("floor_registry_only", registry_only()),
    ];
    let tracer = sdk_tracer();
    let mut g = c.benchmark_group("span_lifecycle");
    for (name, dispatch) in &variants {
        g.bench_function(*name, |b| {
            tracing::dispatcher::with_default(dispatch, || {
                b.iter(|| tracing::info_span!("x").in_scope(|| ()))
            })
        });
    }
    g.bench_function("sdk_alone_start_end", |b| {
        b.iter(|| tracer.start("x").end())
    });
    g.finish();
}

/// Row 8: entering and exiting an existing span.
fn span_enter_exit(c: &mut Criterion) {
    let base = BridgeOptions::default();
    let variants = [
        ("ours_default", bridged()),
        ("upstream_defaults", bridged_upstream()),
        (
            "option_span_events_all",
            bridged_with(base.span_events(SpanEvents::All)),
        ),
        (
            "option_context_activation_off",
            bridged_with(base.context_activation(false)),
        ),
        ("floor_registry_only", registry_only()),
    ];
    let mut g = c.benchmark_group("span_enter_exit");
    for (name, dispatch) in &variants {
        g.bench_function(*name, |b| {
            tracing::dispatcher::with_default(dispatch, || {
                let span = tracing::info_span!("x");
                b.iter(|| {
                    let _e = span.enter();
                })
            })
        });
    }
    g.finish();
}

/// The upstream way to fill a [`TraceContextDict`] from the current context.
fn upstream_dict() -> TraceContextDict {
    let cx = Context::current();
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return TraceContextDict::default();
    }
    let flags = sc.trace_flags().to_u8();
    let state = sc.trace_state().header();
    TraceContextDict {
        trace_id: Some(sc.trace_id().to_string()),
        span_id: Some(sc.span_id().to_string()),
        trace_flags: Some(format!("{flags:02x}")),
        traceparent: Some(format!("00-{}-{}-{flags:02x}", sc.trace_id(), sc.span_id())),
        tracestate: (!state.is_empty()).then_some(state),
    }
}

/// Row 9: `get_trace_context_dict()` inside a span that carries a `tracestate`.
fn trace_context_dict(c: &mut Criterion) {
    let dispatch = bridged();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = request_span();
        let _entered = span.enter();
        let dict = distributed_tracing::compat::get_trace_context_dict();
        assert_eq!(dict, upstream_dict());
        assert_eq!(
            dict.tracestate.as_deref(),
            Some(TRACESTATE),
            "the span has one"
        );
        let mut g = c.benchmark_group("trace_context_dict");
        g.bench_function("ours_get_trace_context_dict", |b| {
            b.iter(distributed_tracing::compat::get_trace_context_dict)
        });
        g.bench_function("upstream_by_hand", |b| b.iter(upstream_dict));
        g.finish();
    });
}

/// Row 10: one log line through the plain fmt layer and through ours.
fn log_line(c: &mut Criterion) {
    provider();
    let upstream_layer = || {
        distributed_tracing::tracing_opentelemetry::layer()
            .with_tracer(global::tracer("distributed-tracing"))
    };
    // The plain upstream stack: the upstream bridge (every event a span event)
    // and the plain fmt layer.
    let plain = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
            .with(upstream_layer()),
    );
    let plain_no_ansi = Dispatch::new(
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::io::sink),
            )
            .with(upstream_layer()),
    );
    let ours_with = |pattern: &str, options: BridgeOptions| {
        Dispatch::new(
            tracing_subscriber::registry()
                .with(
                    distributed_tracing::logging::trace_context_fmt_layer(
                        TraceContextFormat::new(pattern).unwrap(),
                    )
                    .with_writer(std::io::sink),
                )
                .with(distributed_tracing::bridge::otel_layer_with(options)),
        )
    };
    let ours = ours_with(
        distributed_tracing::logging::DEFAULT_PATTERN,
        BridgeOptions::default(),
    );
    // The same line without the ids: the difference is the enrichment's cost.
    let ours_no_ids = ours_with("[{level:<8}] {message}{fields}", BridgeOptions::default());
    let ours_span_events = ours_with(
        distributed_tracing::logging::DEFAULT_PATTERN,
        BridgeOptions::default().span_events(SpanEvents::All),
    );
    let ours_json = Dispatch::new(
        tracing_subscriber::registry()
            .with(
                distributed_tracing::logging::json_fmt_layer(JsonFormat::new())
                    .with_writer(std::io::sink),
            )
            .with(distributed_tracing::otel_layer()),
    );
    let no_fmt = bridged();
    let mut g = c.benchmark_group("log_line");
    let cases = [
        ("upstream_fmt", &plain),
        ("upstream_fmt_no_ansi", &plain_no_ansi),
        ("ours_fmt", &ours),
        ("ours_fmt_without_ids", &ours_no_ids),
        ("ours_fmt_span_events_all", &ours_span_events),
        ("ours_json", &ours_json),
        ("floor_no_fmt_layer", &no_fmt),
    ];
    for (name, dispatch) in cases {
        tracing::dispatcher::with_default(dispatch, || {
            // Spans live across all samples, so the SDK's per-span event limit
            // (128) is reached in warm-up and every variant pays the same.
            let continued = request_span();
            let root = tracing::info_span!("request");
            g.bench_function(format!("{name}/in_span_tracestate"), |b| {
                let _e = continued.enter();
                b.iter(|| tracing::info!("Batch processing started"))
            });
            g.bench_function(format!("{name}/in_root_span"), |b| {
                let _e = root.enter();
                b.iter(|| tracing::info!("Batch processing started"))
            });
            g.bench_function(format!("{name}/no_span"), |b| {
                b.iter(|| tracing::info!("Batch processing started"))
            });
        });
    }
    g.finish();
}

/// The attributes the plain upstream way gives a messaging span by hand: the
/// conventions' required and conditionally required ones, as ours records.
fn upstream_messaging_attributes(operation: &'static str, kind: &'static str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "nats"),
        KeyValue::new("messaging.operation.name", operation),
        KeyValue::new("messaging.operation.type", kind),
        KeyValue::new("server.address", "127.0.0.1"),
        KeyValue::new("server.port", 4222_i64),
        KeyValue::new("messaging.destination.name", "orders.created"),
    ]
}

/// Row 11: per message, `Messaging::send` (PRODUCER span, its context into
/// the message's headers, ended) inside a request's context, and
/// `Messaging::process` (CONSUMER span from a message's `traceparent` +
/// `tracestate`, ended), against the plain upstream way: an SDK span of the
/// same kind and attributes, injected or extracted with upstream's
/// `TraceContextPropagator`.
fn messaging(c: &mut Criterion) {
    provider();
    let tracer = sdk_tracer();
    let nats = Messaging::new("nats").server("127.0.0.1", Some(4222));
    let request = remote_context();
    let pairs = [("traceparent", TRACEPARENT), ("tracestate", TRACESTATE)];
    let extractor = PairsExtractor::new(pairs);
    let map = hash_map();
    let destination = Destination::new("orders.created");
    let mut g = c.benchmark_group("messaging");
    g.bench_function("ours_send", |b| {
        let _request = request.clone().attach();
        b.iter(|| {
            let mut headers = Vec::with_capacity(2);
            nats.send(
                black_box("orders.created"),
                &Message::new(),
                &mut PairsInjector(&mut headers),
            )
            .end(Ok(()));
            headers
        })
    });
    g.bench_function("upstream_send", |b| {
        let _request = request.clone().attach();
        b.iter(|| {
            let mut headers = HashMap::with_capacity(2);
            let destination = black_box("orders.created");
            let span = tracer
                .span_builder(format!("publish {destination}"))
                .with_kind(SpanKind::Producer)
                .with_attributes(upstream_messaging_attributes("publish", "send"))
                .start(&tracer);
            let cx = Context::current_with_span(span);
            TraceContextPropagator::new().inject_context(&cx, &mut headers);
            cx.span().end();
            headers
        })
    });
    g.bench_function("ours_process", |b| {
        b.iter(|| {
            nats.process(&destination, &Message::new(), black_box(&extractor))
                .end(Ok(()))
        })
    });
    g.bench_function("upstream_process", |b| {
        b.iter(|| {
            let cx = TraceContextPropagator::new().extract(black_box(&map));
            let destination = black_box("orders.created");
            let mut span = tracer
                .span_builder(format!("process {destination}"))
                .with_kind(SpanKind::Consumer)
                .with_attributes(upstream_messaging_attributes("process", "process"))
                .start_with_context(&tracer, &cx);
            span.end();
        })
    });
    // The same with the globally installed propagator, the one ours reads:
    // `init_observability`'s (this crate's W3C parser + baggage).
    g.bench_function("upstream_process_installed_propagator", |b| {
        b.iter(|| {
            let cx = global::get_text_map_propagator(|p| p.extract(black_box(&map)));
            let destination = black_box("orders.created");
            let mut span = tracer
                .span_builder(format!("process {destination}"))
                .with_kind(SpanKind::Consumer)
                .with_attributes(upstream_messaging_attributes("process", "process"))
                .start_with_context(&tracer, &cx);
            span.end();
        })
    });
    g.finish();
}

/// Runs every group, in row order, with criterion's command-line options
/// (what `criterion_group!` would generate, with a doc comment).
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    trace_id_hex(&mut c);
    span_id_hex(&mut c);
    current_trace_id_hex(&mut c);
    inject(&mut c);
    extract(&mut c);
    continue_from_headers(&mut c);
    span_lifecycle(&mut c);
    span_enter_exit(&mut c);
    trace_context_dict(&mut c);
    log_line(&mut c);
    messaging(&mut c);
}

criterion_main!(benches);
