//! Log line patterns: `TraceContextFormat::new` on any text (first input line;
//! the second is the id placeholder, the rest the message); a pattern that
//! parses then formats events outside a trace, in a span, and with a remote
//! context attached, one line each, without panicking.
#![no_main]

use std::io::Write;
use std::sync::{Arc, Mutex};

use distributed_tracing::logging::{trace_context_fmt_layer, TraceContextFormat};
use distributed_tracing::opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use distributed_tracing::opentelemetry::Context;
use libfuzzer_sys::fuzz_target;
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let pattern = parts.next().unwrap_or_default();
    let placeholder = parts.next();
    let message = parts.next().unwrap_or("message");

    let Ok(mut format) = TraceContextFormat::new(pattern) else {
        return;
    };
    if let Some(placeholder) = placeholder {
        format = format.placeholder(placeholder);
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::registry()
        .with(trace_context_fmt_layer(format).with_writer(move || writer.clone()));
    let remote = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(field = %message, "{message}");
        let span = tracing::info_span!("span", name = %message);
        let _entered = span.enter();
        tracing::warn!(answer = 42, "inside");
        let _attached = remote.attach();
        tracing::error!(message);
    });
    let out = sink.0.lock().unwrap();
    let out = std::str::from_utf8(&out).expect("UTF-8 lines");
    assert!(out.ends_with('\n'), "{out:?}");
    assert!(out.matches('\n').count() >= 3, "{out:?}");
});
