//! The tracing-opentelemetry layer, built from [`BridgeOptions`].

use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

use super::unsigned::IntegerFields;
use super::{BridgeOptions, RandomFlagTracer, SpanEvents, TRACER_NAME};

/// The tracing-to-OpenTelemetry bridge layer with [`BridgeOptions::default`];
/// see [`otel_layer_with`].
pub fn otel_layer<S>() -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    otel_layer_with(BridgeOptions::default())
}

/// The tracing-to-OpenTelemetry bridge layer, with the global tracer provider's
/// tracer (install the provider first) and context activation on, so that
/// entering a `tracing` span makes its OTel context current.
///
/// Unsigned integer fields (`u8` to `u64`, `usize`: `#[instrument]`ed
/// arguments, span and event fields, `Span::record`) are recorded as OTLP
/// integers when they fit in an `i64`, and as their decimal text when they
/// do not (a `u64` over `i64::MAX`; `i128` and `u128` alike), where
/// tracing-opentelemetry alone records every one as text.
pub fn otel_layer_with<S>(
    options: BridgeOptions,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    bridge_layer_of(
        opentelemetry::global::tracer(TRACER_NAME),
        opentelemetry::global::tracer(TRACER_NAME),
        options,
    )
}

/// The tracing-to-OpenTelemetry bridge layer recording into `provider`, a
/// provider that is not (or not yet) installed globally: spans keep the W3C
/// `random` flag as with [`otel_layer_with`], which uses the global one.
///
/// ```
/// use distributed_tracing::bridge::{otel_layer_for, BridgeOptions};
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let provider = SdkTracerProvider::builder().build(); // your own, not global
/// let subscriber = tracing_subscriber::registry()
///     .with(otel_layer_for(&provider, BridgeOptions::default()));
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("work").entered();
///     assert!(distributed_tracing::current_trace_id().is_some());
/// });
/// ```
pub fn otel_layer_for<S>(
    provider: &opentelemetry_sdk::trace::SdkTracerProvider,
    options: BridgeOptions,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    use opentelemetry::trace::TracerProvider as _;
    bridge_layer(provider.tracer(TRACER_NAME), options)
}

/// The bridge layer with a given tracer (`init_observability` passes its
/// provider's own, so that nothing global is touched before it succeeds).
pub(crate) fn bridge_layer<S, T>(
    tracer: T,
    options: BridgeOptions,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    T: opentelemetry::trace::Tracer + Clone + Send + Sync + 'static,
    T::Span: Send + Sync,
{
    bridge_layer_of(tracer.clone(), tracer, options)
}

/// The bridge: tracing-opentelemetry's layer behind [`IntegerFields`], and
/// a twin of it (`twin`'s tracer, the same options) that sees no span nor
/// event: `OpenTelemetrySpanExt` (`Span::context()`, `set_parent`, ...)
/// finds the bridge by downcasting the subscriber to its type, which the
/// wrapper does not forward; the twin answers instead, and works on the
/// same spans' data (kept in the registry, beside each span).
fn bridge_layer_of<S, T>(
    tracer: T,
    twin: T,
    options: BridgeOptions,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    T: opentelemetry::trace::Tracer + Send + Sync + 'static,
    T::Span: Send + Sync,
{
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::Layer as _;
    let layer = |tracer: T| {
        tracing_opentelemetry::layer()
            // Spans keep the W3C `random` flag through dropped spans and on new traces.
            .with_tracer(RandomFlagTracer(tracer))
            .with_context_activation(options.context_activation)
            .with_location(options.location)
            .with_threads(options.threads)
            .with_tracked_inactivity(options.timings)
    };
    // A per-layer filter: spans always pass; events only as chosen.
    let events = move |meta: &tracing::Metadata<'_>| match options.span_events {
        SpanEvents::All => true,
        SpanEvents::Errors => meta.is_span() || *meta.level() == tracing::Level::ERROR,
        SpanEvents::None => meta.is_span(),
    };
    if !options.integer_fields {
        drop(twin);
        return match options.span_events {
            SpanEvents::All => Box::new(layer(tracer)),
            _ => Box::new(layer(tracer).with_filter(filter_fn(events))),
        };
    }
    let twin = layer(twin).with_filter(filter_fn(|_| false));
    let bridge = IntegerFields(layer(tracer));
    match options.span_events {
        SpanEvents::All => Box::new(twin.and_then(bridge)),
        _ => Box::new(twin.and_then(bridge.with_filter(filter_fn(events)))),
    }
}
