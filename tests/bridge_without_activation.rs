//! A user's own subscriber stack whose OpenTelemetry layer has context
//! activation turned off: the shims still read the entered `tracing` span's
//! trace, and the headers they write name that span.

use distributed_tracing::opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use distributed_tracing::opentelemetry_sdk::trace::SdkTracerProvider;
use distributed_tracing::{
    get_span_id, get_trace_context_dict, get_trace_id, inject_trace_context,
    propagate_trace_context,
};
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
