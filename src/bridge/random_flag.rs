//! The W3C Level 2 `random` flag on the spans the OpenTelemetry SDK builds.
//!
//! Trace Context Level 2: "If the flag is set in the incoming `traceparent`
//! header, it MUST also be set in all outgoing `traceparent` headers which use
//! the same `trace-id`", and a component that generates a trace id SHOULD set it.
//! The SDK (0.33) builds a span's flags from its parent's with only `sampled`
//! changed, except in two cases:
//!
//! * a span its sampler drops gets `TraceFlags::default()`: a caller's `02`
//!   (random, not sampled) would go out as `00`;
//! * a root's trace id comes from the SDK's random id generator, but its flags
//!   from no parent: `01` or `00`, never random.
//!
//! [`RandomFlagTracer`] wraps a tracer and corrects exactly those: a span it
//! builds carries the `random` flag when its parent did (same trace, so the
//! flag is kept through any number of dropped spans), or when it starts a trace.
//! It never sets the flag on a trace whose parent did not have it (the mirror
//! rule: an unset flag stays unset). Every other method goes to the wrapped span.
//!
//! `init_observability` wraps everything it installs: the global tracer
//! provider ([`RandomFlagProvider`]), the tracer of the crate's own spans, and
//! the `tracing` bridge's tracer.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, Status, TraceContextExt, TraceFlags, Tracer,
    TracerProvider,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use crate::propagation::FLAG_RANDOM;

/// A tracer whose spans keep the W3C `random` flag (see the [module docs](self)).
#[derive(Debug, Clone)]
pub(crate) struct RandomFlagTracer<T>(pub(crate) T);

impl<T: Tracer> Tracer for RandomFlagTracer<T> {
    type Span = RandomFlagSpan<T::Span>;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        // A valid parent passes its flag on; a span with none starts a trace,
        // whose id the SDK generated at random.
        let random = {
            let parent = parent_cx.span();
            let psc = parent.span_context();
            !psc.is_valid() || psc.trace_flags().to_u8() & FLAG_RANDOM != 0
        };
        let inner = self.0.build_with_context(builder, parent_cx);
        let sc = inner.span_context();
        let corrected = match random && sc.is_valid() {
            true => with_random_flag(sc),
            false => None,
        };
        RandomFlagSpan { inner, corrected }
    }
}

/// `sc` with the `random` flag set; `None` when it has it already.
pub(crate) fn with_random_flag(sc: &SpanContext) -> Option<SpanContext> {
    let flags = sc.trace_flags().to_u8();
    (flags & FLAG_RANDOM == 0).then(|| {
        SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            TraceFlags::new(flags | FLAG_RANDOM),
            sc.is_remote(),
            sc.trace_state().clone(),
        )
    })
}

/// A span of [`RandomFlagTracer`]: the wrapped span, with its span context's
/// flags corrected when the SDK left the `random` flag out.
#[derive(Debug)]
pub(crate) struct RandomFlagSpan<S> {
    inner: S,
    corrected: Option<SpanContext>,
}

impl<S: opentelemetry::trace::Span> opentelemetry::trace::Span for RandomFlagSpan<S> {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        self.inner
            .add_event_with_timestamp(name, timestamp, attributes);
    }

    fn span_context(&self) -> &SpanContext {
        match &self.corrected {
            Some(sc) => sc,
            None => self.inner.span_context(),
        }
    }

    fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.inner.set_attribute(attribute);
    }

    fn set_status(&mut self, status: Status) {
        self.inner.set_status(status);
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.inner.update_name(new_name);
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.inner.add_link(span_context, attributes);
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.end_with_timestamp(timestamp);
    }
}

/// A tracer provider whose tracers are [`RandomFlagTracer`]s: what
/// `init_observability` installs as the global provider.
#[derive(Debug, Clone)]
pub(crate) struct RandomFlagProvider<P>(pub(crate) P);

impl<P: TracerProvider> TracerProvider for RandomFlagProvider<P> {
    type Tracer = RandomFlagTracer<P::Tracer>;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Self::Tracer {
        RandomFlagTracer(self.0.tracer_with_scope(scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceId, TraceState};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

    const TID: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;

    fn remote(flags: u8) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(TID),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::new(flags),
            true,
            TraceState::NONE,
        ))
    }

    fn child_flags(sampler: Sampler, parent: &Context) -> (u8, bool) {
        let provider = SdkTracerProvider::builder().with_sampler(sampler).build();
        let tracer = RandomFlagProvider(provider).tracer("test");
        let span = tracer.build_with_context(SpanBuilder::from_name("child"), parent);
        let sc = opentelemetry::trace::Span::span_context(&span);
        if parent.span().span_context().is_valid() {
            assert_eq!(sc.trace_id(), TraceId::from(TID));
        }
        (sc.trace_flags().to_u8(), sc.is_valid())
    }

    #[test]
    fn random_flag_follows_the_parent_and_new_traces() {
        use Sampler::{AlwaysOff, AlwaysOn, ParentBased};
        let parent_based = || ParentBased(Box::new(AlwaysOn));
        // (sampler, parent flags or None for a root, expected flags, label)
        let cases: Vec<(Sampler, Option<u8>, u8, &str)> = vec![
            (
                parent_based(),
                Some(0x02),
                0x02,
                "random, unsampled parent: dropped, flag kept",
            ),
            (
                parent_based(),
                Some(0x03),
                0x03,
                "random, sampled parent: recorded",
            ),
            (
                parent_based(),
                Some(0x01),
                0x01,
                "sampled parent without random: unset stays",
            ),
            (
                parent_based(),
                Some(0x00),
                0x00,
                "unsampled parent without random: unset stays",
            ),
            (
                AlwaysOff,
                Some(0x03),
                0x02,
                "sampler drops a random, sampled parent's child",
            ),
            (
                AlwaysOn,
                Some(0x02),
                0x03,
                "sampler records a random, unsampled parent's child",
            ),
            (parent_based(), None, 0x03, "new trace, recorded"),
            (AlwaysOff, None, 0x02, "new trace, dropped"),
        ];
        for (sampler, parent, expected, label) in cases {
            let parent = parent.map(remote).unwrap_or_default();
            let (flags, valid) = child_flags(sampler, &parent);
            assert!(valid, "{label}");
            assert_eq!(flags, expected, "{label}");
        }
    }

    #[test]
    fn kept_through_a_chain_of_dropped_spans() {
        let provider = SdkTracerProvider::builder()
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .build();
        let tracer = RandomFlagTracer(provider.tracer("test"));
        let mut cx = remote(0x02);
        for depth in 0..3 {
            let span = tracer.build_with_context(SpanBuilder::from_name("hop"), &cx);
            cx = cx.with_span(span);
            let flags = cx.span().span_context().trace_flags().to_u8();
            assert_eq!(flags, 0x02, "depth {depth}");
        }
    }

    #[test]
    fn the_sdk_alone_drops_the_flag() {
        // What the wrapper corrects; if this fails, the SDK keeps the flag itself
        // and the wrapper may go.
        let provider = SdkTracerProvider::builder().build();
        let tracer = provider.tracer("test");
        let dropped = tracer.build_with_context(SpanBuilder::from_name("x"), &remote(0x02));
        let root = tracer.build_with_context(SpanBuilder::from_name("x"), &Context::new());
        use opentelemetry::trace::Span as _;
        assert_eq!(dropped.span_context().trace_flags().to_u8(), 0x00);
        assert_eq!(root.span_context().trace_flags().to_u8(), 0x01);
    }
}
