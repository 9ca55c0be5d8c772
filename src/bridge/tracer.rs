//! The tracer the crate's own spans (scopes, server and client spans) are
//! started with.

use opentelemetry::global;
use opentelemetry::trace::{SpanBuilder, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use super::RandomFlagTracer;

/// The instrumentation scope name of the spans this crate starts.
pub(crate) const TRACER_NAME: &str = "distributed-tracing";

/// The SDK tracer of the provider [`init_observability`](crate::init_observability)
/// installed, cached once it did: `global::tracer` costs a lock and an
/// allocation per call, and its boxed spans one more allocation per span.
/// Before that, or with a provider installed by other code, the global
/// provider's tracer at the time of the call. Both keep the W3C `random` flag
/// ([`RandomFlagTracer`]).
static INSTALLED_TRACER: std::sync::OnceLock<RandomFlagTracer<SdkTracer>> =
    std::sync::OnceLock::new();

/// Called by `init_observability` right after it installed `provider` globally.
pub(crate) fn cache_installed_tracer(provider: &SdkTracerProvider) {
    let _ = INSTALLED_TRACER.set(RandomFlagTracer(provider.tracer(TRACER_NAME)));
}

/// Starts a span for this crate (scopes, server and client spans) as a child of
/// `parent` (see [`INSTALLED_TRACER`]); returns `parent` with the span in it.
pub(crate) fn start_span(builder: SpanBuilder, parent: &Context) -> Context {
    match INSTALLED_TRACER.get() {
        Some(tracer) => parent.with_span(tracer.build_with_context(builder, parent)),
        None => parent.with_span(
            RandomFlagTracer(global::tracer(TRACER_NAME)).build_with_context(builder, parent),
        ),
    }
}
