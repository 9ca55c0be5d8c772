//! The tracing-opentelemetry layer, built from [`BridgeOptions`].

use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

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
pub fn otel_layer_with<S>(
    options: BridgeOptions,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    bridge_layer(opentelemetry::global::tracer(TRACER_NAME), options)
}

/// The bridge layer with a given tracer (`init_observability` passes its
/// provider's own, so that nothing global is touched before it succeeds).
pub(crate) fn bridge_layer<S, T>(
    tracer: T,
    options: BridgeOptions,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    T: opentelemetry::trace::Tracer + Send + Sync + 'static,
    T::Span: Send + Sync,
{
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::Layer as _;
    let layer = tracing_opentelemetry::layer()
        // Spans keep the W3C `random` flag through dropped spans and on new traces.
        .with_tracer(RandomFlagTracer(tracer))
        .with_context_activation(options.context_activation)
        .with_location(options.location)
        .with_threads(options.threads)
        .with_tracked_inactivity(options.timings);
    match options.span_events {
        SpanEvents::All => Box::new(layer),
        // A per-layer filter: spans always pass; events only as chosen.
        SpanEvents::Errors => Box::new(layer.with_filter(filter_fn(|meta| {
            meta.is_span() || *meta.level() == tracing::Level::ERROR
        }))),
        SpanEvents::None => Box::new(layer.with_filter(filter_fn(|meta| meta.is_span()))),
    }
}
