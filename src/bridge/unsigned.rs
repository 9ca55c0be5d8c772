//! Unsigned (and 128-bit) integer fields as OTLP integers.
//!
//! tracing-opentelemetry 0.34's visitors have `record_i64` but no
//! `record_u64`, `record_i128` nor `record_u128`: a `u8` to `u64` or `usize`
//! field (an `#[instrument]`ed function's `u32` argument, `info_span!("x",
//! n = 3u64)`, `Span::record("n", 7usize)`, an event's field) falls back to
//! `record_debug` and reaches the backend as the string `"3"`.
//!
//! [`IntegerFields`] wraps the bridge's layer and hands it each span, record
//! and event with those values given as `i64` when they fit (so its visitor
//! records an integer attribute), and as their decimal text when they do not
//! (a `u64` above `i64::MAX`, a wider `i128`/`u128`: OTLP integers are 64-bit
//! signed, and a rounded float would lie). Every other field reaches it as
//! it was: strings through `record_str` (so `otel.name` and friends keep
//! working), errors through `record_error` (message and source chain), and
//! the rest as the `Debug` text it would have formatted itself. A span or
//! event without such a field (the common case) is handed on untouched,
//! after one look at its fields.
//!
//! Only the bridge sees the converted values: the log lines' layers, beside
//! it, see the fields as they were.

use std::fmt;

use tracing::field::{Field, Value, Visit};
use tracing::span;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// The most fields a rebuilt value set holds (the `tracing` macros' limit);
/// a span or event with more keeps its fields as they were.
const MAX_FIELDS: usize = 32;

/// The bridge's layer, handed unsigned and 128-bit integers as `i64` (see the
/// [module docs](self)).
///
/// It does not forward `downcast_raw` (an `unsafe fn`, which this crate does
/// not write): the bridge's `WithContext`, which `OpenTelemetrySpanExt` looks
/// up, is found on a twin layer beside it (`bridge_layer`).
#[derive(Debug)]
pub(crate) struct IntegerFields<L>(pub(crate) L);

/// Whether any field would lose its integer type in the bridge.
#[derive(Default)]
struct Probe(bool);

impl Visit for Probe {
    fn record_u64(&mut self, _: &Field, _: u64) {
        self.0 = true;
    }
    fn record_i128(&mut self, _: &Field, _: i128) {
        self.0 = true;
    }
    fn record_u128(&mut self, _: &Field, _: u128) {
        self.0 = true;
    }
    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}

/// An error's message and source chain, owned.
#[derive(Debug)]
struct OwnedError {
    message: String,
    source: Option<Box<OwnedError>>,
}

impl fmt::Display for OwnedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OwnedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl OwnedError {
    fn of(error: &(dyn std::error::Error + 'static)) -> OwnedError {
        OwnedError {
            message: error.to_string(),
            source: error.source().map(|s| Box::new(OwnedError::of(s))),
        }
    }
}

/// One field's value, owned, as the bridge is to see it.
enum Owned {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Formatted text (a `Debug` value, a too-wide integer), handed on as
    /// `Display`, which the bridge formats as the text itself.
    Text(String),
    Error(OwnedError),
}

/// The fields of a span, record or event, owned.
#[derive(Default)]
struct Collect(Vec<(Field, Owned)>);

impl Collect {
    fn push(&mut self, field: &Field, value: Owned) {
        self.0.push((field.clone(), value));
    }

    fn wide(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(int) => self.push(field, Owned::Int(int)),
            Err(_) => self.push(field, Owned::Text(value.to_string())),
        }
    }
}

impl Visit for Collect {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Owned::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Owned::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(int) => self.push(field, Owned::Int(int)),
            Err(_) => self.push(field, Owned::Text(value.to_string())),
        }
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.wide(field, value);
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        match i64::try_from(value) {
            Ok(int) => self.push(field, Owned::Int(int)),
            Err(_) => self.push(field, Owned::Text(value.to_string())),
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Owned::Float(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Owned::Str(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Owned::Error(OwnedError::of(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Owned::Text(format!("{value:?}")));
    }
}

/// Whether any of the values `record` visits is to be converted.
fn needs_conversion(record: impl Fn(&mut dyn Visit)) -> bool {
    let mut probe = Probe::default();
    record(&mut probe);
    probe.0
}

/// The values `record` visits (fields of `meta`), converted: calls `with`
/// with the value set the bridge is to see, or returns `false` when the
/// original is to be handed on (too many fields). Only called when
/// [`needs_conversion`] said so.
fn converted(
    meta: &'static Metadata<'static>,
    record: impl Fn(&mut dyn Visit),
    with: impl FnOnce(&tracing::field::ValueSet<'_>),
) -> bool {
    let mut collect = Collect::default();
    record(&mut collect);
    let fields = collect.0;
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        return false;
    }
    // References to the owned values, as `tracing` records them: an error
    // through `dyn Error` (so `record_error`), text through `Display`.
    enum Ref<'a> {
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(&'a str),
        Text(tracing::field::DisplayValue<&'a String>),
        Error(&'a (dyn std::error::Error + 'static)),
    }
    let refs: Vec<Ref<'_>> = fields
        .iter()
        .map(|(_, value)| match value {
            Owned::Bool(b) => Ref::Bool(*b),
            Owned::Int(i) => Ref::Int(*i),
            Owned::Float(f) => Ref::Float(*f),
            Owned::Str(s) => Ref::Str(s),
            Owned::Text(t) => Ref::Text(tracing::field::display(t)),
            Owned::Error(e) => Ref::Error(e),
        })
        .collect();
    let mut slots: [(&Field, Option<&dyn Value>); MAX_FIELDS] = [(&fields[0].0, None); MAX_FIELDS];
    for (slot, ((field, _), value)) in slots.iter_mut().zip(fields.iter().zip(refs.iter())) {
        let value: &dyn Value = match value {
            Ref::Bool(b) => b,
            Ref::Int(i) => i,
            Ref::Float(f) => f,
            Ref::Str(s) => s,
            Ref::Text(t) => t,
            Ref::Error(e) => e,
        };
        *slot = (field, Some(value));
    }
    with(&meta.fields().value_set(&slots));
    true
}

impl<S, L> Layer<S> for IntegerFields<L>
where
    S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.0.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.0.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.0.max_level_hint()
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if !needs_conversion(|visitor| attrs.record(visitor)) {
            return self.0.on_new_span(attrs, id, ctx);
        }
        let meta = attrs.metadata();
        let mut ctx = Some(ctx);
        let done = converted(
            meta,
            |visitor| attrs.record(visitor),
            |values| {
                let attrs = match (attrs.is_root(), attrs.parent()) {
                    (true, _) => span::Attributes::new_root(meta, values),
                    (false, Some(parent)) => {
                        span::Attributes::child_of(parent.clone(), meta, values)
                    }
                    (false, None) => span::Attributes::new(meta, values),
                };
                if let Some(ctx) = ctx.take() {
                    self.0.on_new_span(&attrs, id, ctx);
                }
            },
        );
        if let (false, Some(ctx)) = (done, ctx) {
            self.0.on_new_span(attrs, id, ctx);
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        // The span's metadata (a look-up in the registry) only when needed.
        if !needs_conversion(|visitor| values.record(visitor)) {
            return self.0.on_record(id, values, ctx);
        }
        let Some(meta) = ctx.metadata(id) else {
            return self.0.on_record(id, values, ctx);
        };
        let mut ctx = Some(ctx);
        let done = converted(
            meta,
            |visitor| values.record(visitor),
            |converted| {
                if let Some(ctx) = ctx.take() {
                    self.0.on_record(id, &span::Record::new(converted), ctx);
                }
            },
        );
        if let (false, Some(ctx)) = (done, ctx) {
            self.0.on_record(id, values, ctx);
        }
    }

    fn on_follows_from(&self, span: &span::Id, follows: &span::Id, ctx: Context<'_, S>) {
        self.0.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.0.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !needs_conversion(|visitor| event.record(visitor)) {
            return self.0.on_event(event, ctx);
        }
        let meta = event.metadata();
        let mut ctx = Some(ctx);
        let done = converted(
            meta,
            |visitor| event.record(visitor),
            |values| {
                let converted = match event.is_contextual() {
                    true => Event::new(meta, values),
                    false => Event::new_child_of(event.parent().cloned(), meta, values),
                };
                if let Some(ctx) = ctx.take() {
                    self.0.on_event(&converted, ctx);
                }
            },
        );
        if let (false, Some(ctx)) = (done, ctx) {
            self.0.on_event(event, ctx);
        }
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        self.0.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &span::Id, new: &span::Id, ctx: Context<'_, S>) {
        self.0.on_id_change(old, new, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a value becomes: an integer, or its text.
    fn seen(owned: &Owned) -> Result<i64, String> {
        match owned {
            Owned::Int(i) => Ok(*i),
            Owned::Text(t) => Err(t.clone()),
            _ => Err("another kind".into()),
        }
    }

    #[rustfmt::skip]
    #[test]
    fn integers_fit_in_i64_or_become_text() {
        // A span needs a subscriber to have metadata (and so a field).
        let span = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!("x", v = tracing::field::Empty)
        });
        let field = span.field("v").expect("the field").clone();
        // (value as the visitor gets it, what the bridge is handed, why)
        type Record = fn(&mut Collect, &Field);
        let cases: [(Record, Result<i64, String>, &str); 7] = [
            (|c, f| c.record_u64(f, 0), Ok(0), "zero"),
            (|c, f| c.record_u64(f, i64::MAX as u64), Ok(i64::MAX), "u64 at i64::MAX"),
            (|c, f| c.record_u64(f, i64::MAX as u64 + 1), Err("9223372036854775808".into()), "u64 past i64::MAX"),
            (|c, f| c.record_i128(f, i128::from(i64::MIN)), Ok(i64::MIN), "i128 at i64::MIN"),
            (|c, f| c.record_i128(f, i128::from(i64::MIN) - 1), Err("-9223372036854775809".into()), "i128 under i64::MIN"),
            (|c, f| c.record_u128(f, 7), Ok(7), "small u128"),
            (|c, f| c.record_u128(f, u128::MAX), Err(u128::MAX.to_string()), "u128::MAX"),
        ];
        for (record, expected, why) in cases {
            let mut collect = Collect::default();
            record(&mut collect, &field);
            assert_eq!(seen(&collect.0[0].1), expected, "{why}");
        }
        let mut probe = Probe::default();
        probe.record_i64(&field, 1);
        probe.record_str(&field, "1");
        assert!(!probe.0, "signed and text fields need nothing");
        probe.record_u64(&field, 1);
        assert!(probe.0);
    }
}
