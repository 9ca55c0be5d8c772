//! The tracer the crate's own spans (scopes, server and client spans) are
//! started with, in this order:
//!
//! 1. the provider given to the layer (`.tracer_provider(&provider)` on
//!    [`ServerTraceLayer`](crate::middleware::ServerTraceLayer) and the other
//!    layers), for a provider that is not installed globally;
//! 2. with feature `testing`, the provider of the
//!    [`TestTelemetry`](crate::testing::TestTelemetry) set as this thread's
//!    default;
//! 3. the provider [`init_observability`](crate::init_observability)
//!    installed, its tracer cached;
//! 4. the global provider at the time of the call (installed by other code).
//!
//! All keep the W3C `random` flag ([`RandomFlagTracer`]). When the global
//! provider is the no-op one (nothing installed), the crate's spans are not
//! recorded: that is said once, as a warning.

use std::sync::atomic::{AtomicBool, Ordering};

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
static INSTALLED_TRACER: std::sync::OnceLock<RandomFlagTracer<SdkTracer>> =
    std::sync::OnceLock::new();

/// Called by `init_observability` right after it installed `provider` globally.
pub(crate) fn cache_installed_tracer(provider: &SdkTracerProvider) {
    let _ = INSTALLED_TRACER.set(RandomFlagTracer(provider.tracer(TRACER_NAME)));
}

/// Where a layer's spans are started: the global provider (the default), or
/// one given to the layer.
#[derive(Debug, Clone, Default)]
pub(crate) enum Spans {
    /// The scoped test provider, else the installed one, else the global one.
    #[default]
    Global,
    /// The tracer of a provider given to the layer.
    Provider(RandomFlagTracer<SdkTracer>),
}

impl Spans {
    /// The crate's tracer of `provider`.
    pub(crate) fn of(provider: &SdkTracerProvider) -> Self {
        Self::Provider(RandomFlagTracer(provider.tracer(TRACER_NAME)))
    }

    /// Starts a span as a child of `parent`; returns `parent` with the span in it.
    pub(crate) fn start(&self, builder: SpanBuilder, parent: &Context) -> Context {
        match self {
            Self::Provider(tracer) => parent.with_span(tracer.build_with_context(builder, parent)),
            Self::Global => start_span(builder, parent),
        }
    }
}

#[cfg(feature = "testing")]
thread_local! {
    /// The provider of the `TestTelemetry` set as this thread's default.
    static SCOPED: std::cell::RefCell<Option<RandomFlagTracer<SdkTracer>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes `tracer` this thread's tracer for the crate's spans (`None`: back to
/// the global one); returns the one it replaces.
#[cfg(feature = "testing")]
pub(crate) fn set_scoped(
    tracer: Option<RandomFlagTracer<SdkTracer>>,
) -> Option<RandomFlagTracer<SdkTracer>> {
    SCOPED.with(|scoped| scoped.replace(tracer))
}

/// Starts a span for this crate (scopes, server and client spans) as a child of
/// `parent` (see the [module docs](self)); returns `parent` with the span in it.
pub(crate) fn start_span(builder: SpanBuilder, parent: &Context) -> Context {
    #[cfg(feature = "testing")]
    {
        let scoped = SCOPED.with(|scoped| {
            scoped
                .borrow()
                .as_ref()
                .map(|tracer| tracer.build_with_context(builder.clone(), parent))
        });
        if let Some(span) = scoped {
            return parent.with_span(span);
        }
    }
    match INSTALLED_TRACER.get() {
        Some(tracer) => parent.with_span(tracer.build_with_context(builder, parent)),
        None => {
            let cx = parent.with_span(
                RandomFlagTracer(global::tracer(TRACER_NAME)).build_with_context(builder, parent),
            );
            warn_once_if_not_recorded(&cx, parent);
            cx
        }
    }
}

/// The global provider is the no-op one when the span it built is not a new
/// span: it carries no span context of its own, or its parent's (the no-op
/// tracer passes the parent's on). A span a real provider's sampler drops
/// still gets a span id of its own.
fn warn_once_if_not_recorded(cx: &Context, parent: &Context) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let span = cx.span();
    let sc = span.span_context();
    let parent_span = parent.span();
    let noop = !sc.is_valid() || sc.span_id() == parent_span.span_context().span_id();
    if noop && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: "distributed_tracing::bridge",
            "no tracer provider is installed: the spans of distributed-tracing's layers and scopes are not recorded, and log lines show the caller's ids; call init_observability(), install a provider with opentelemetry::global::set_tracer_provider, or give the layer one with .tracer_provider(&provider)"
        );
    }
}
