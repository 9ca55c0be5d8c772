#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod context;
mod error;
pub mod http;
pub mod ids;
mod init;
pub mod logging;
pub mod propagation;
pub mod task;
#[cfg(any(
    feature = "http-server",
    feature = "reqwest",
    feature = "otlp-grpc",
    feature = "otlp-http"
))]
mod text;

pub use context::{
    clear_trace_context, current_span_context, current_span_id, current_trace_flags,
    current_trace_id, current_trace_id_hex, get_span_id, get_trace_context_dict, get_trace_flags,
    get_trace_id, init_trace_context, init_trace_from_headers, inject_trace_context,
    propagate_trace_context, with_current_span_context, DistributedTraceContext, Scoped,
    TraceContextDict, TraceContextGuard,
};
pub use error::{Error, Result, Shown};
pub use ids::{
    generate_span_id, generate_trace_id, new_span_id, new_trace_id, parse_span_id, parse_trace_id,
    SpanIdHex, TraceIdHex,
};
pub use init::{
    init_observability, propagator, BatchConfig, ConfigIssue, Disabled, EffectiveConfig,
    ExportStats, LogFormatName, ObservabilityBuilder, ObservabilityGuard, OtlpConfig, OtlpProtocol,
    PropagatorName, SamplerConfig, SpanLimitsConfig, TracesExporter,
};
pub use logging::{
    json_fmt_layer, otel_layer, otel_layer_with, setup_trace_logging, trace_context_fmt_layer,
    BridgeOptions, DatadogTags, JsonFormat, LogFormat, SpanEvents, TraceContextFormat,
    DEFAULT_PATTERN,
};
pub use propagation::{
    default_propagator, extract_context_from, extract_trace_context_from_headers,
    extract_trace_context_from_pairs, inject_context_into, B3Propagator, DatadogPropagator,
    ExtractedContext, HeaderExtractor, HeaderInjector, JaegerPropagator, PairsExtractor,
    W3cBaggagePropagator, W3cPropagator, W3cTraceContextPropagator, XrayPropagator,
};
pub use task::{
    in_current_trace_fn, spawn, spawn_background_job, spawn_blocking, InCurrentTrace,
    TraceFutureExt,
};

// Re-exported so that users build against the exact versions this crate uses.
pub use opentelemetry;
pub use opentelemetry_sdk;
pub use tracing_opentelemetry;
