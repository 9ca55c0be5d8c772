//! Context activation turned off, in a user's own OpenTelemetry layer or with
//! `BridgeOptions::context_activation(false)`: the shims still read the
//! entered `tracing` span's trace, and the headers they write name that span.

use distributed_tracing::compat::{
    get_span_id, get_trace_context_dict, get_trace_id, propagate_trace_context,
};
use distributed_tracing::inject_trace_context;
use distributed_tracing::opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use distributed_tracing::opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn shims_read_the_entered_span_when_context_activation_is_off() {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("test"))
            .with_context_activation(false),
    );
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(get_trace_id(), None);
        let span = tracing::info_span!("work");
        let _entered = span.enter();
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid());
        let trace = format!("{:032x}", sc.trace_id());
        let span_id = format!("{:016x}", sc.span_id());
        assert_eq!(get_trace_id(), Some(trace.clone()));
        assert_eq!(get_span_id(), Some(span_id.clone()));
        let expected = format!("00-{trace}-{span_id}-01");
        assert_eq!(propagate_trace_context(), Some(expected.clone()));
        assert_eq!(get_trace_context_dict().traceparent, Some(expected.clone()));
        let mut headers = http::HeaderMap::new();
        inject_trace_context(&mut headers);
        assert_eq!(headers["traceparent"], expected.as_str());
    });
}

#[tokio::test(flavor = "current_thread")]
async fn bridge_option_context_activation_off() {
    use distributed_tracing::bridge::{otel_layer_with, BridgeOptions};
    use distributed_tracing::opentelemetry::Context;
    use distributed_tracing::TraceFutureExt as _;
    use tracing::Instrument as _;

    let provider = SdkTracerProvider::builder().build();
    distributed_tracing::opentelemetry::global::set_tracer_provider(provider.clone());
    let options = BridgeOptions::default().context_activation(false);
    let subscriber = tracing_subscriber::registry().with(otel_layer_with(options));
    let _default = tracing::subscriber::set_default(subscriber);

    let span = tracing::info_span!("request");
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    let trace = format!("{:032x}", sc.trace_id());
    let span_id = format!("{:016x}", sc.span_id());
    async {
        // The trade-off: OpenTelemetry's own current context does not see the span.
        assert!(!Context::current().span().span_context().is_valid());
        // Everything this crate offers does.
        assert_eq!(get_trace_id(), Some(trace.clone()));
        assert_eq!(get_span_id(), Some(span_id.clone()));
        // The crate's bridge sets the W3C `random` flag on a trace it starts.
        let expected = format!("00-{trace}-{span_id}-03");
        assert_eq!(propagate_trace_context(), Some(expected.clone()));
        let spawned = distributed_tracing::spawn(async { (get_trace_id(), get_span_id()) });
        assert_eq!(
            spawned.await.unwrap(),
            (Some(trace.clone()), Some(span_id.clone()))
        );
        let child = tracing::info_span!("child");
        let child_trace = async { get_trace_id() }.instrument(child).await;
        assert_eq!(child_trace, Some(trace.clone()));
        let in_scope = async { get_trace_id() }.in_current_trace().await;
        assert_eq!(in_scope, Some(trace));
    }
    .instrument(span)
    .await;
}
