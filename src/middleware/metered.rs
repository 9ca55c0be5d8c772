//! The request metrics of the layers ([`crate::metrics`]): the clock read at
//! each end of a request serves both its span and its measurement, so that
//! the duration recorded is the span's, and metrics cost no clock read of
//! their own.

use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;

use crate::metrics::{Attrs, Instrument, Recorder, RequestMetrics, Val};

/// A request being measured: the store it goes to, and when it started.
#[derive(Debug)]
pub(crate) struct Meter {
    store: RequestMetrics,
    start: SystemTime,
}

impl Meter {
    /// Reads the clock when the layer records metrics (`None`: they are off,
    /// or no store is installed; the SDK reads the clock itself).
    pub(crate) fn start(recorder: &Recorder) -> Option<Meter> {
        recorder.store().map(|store| Meter {
            store,
            start: SystemTime::now(),
        })
    }

    /// The span's start time.
    pub(crate) fn start_time(&self) -> SystemTime {
        self.start
    }

    /// Ends the span of `cx` and records its duration, with one clock read.
    pub(crate) fn end(self, cx: &Context, instrument: Instrument, attrs: &Attrs<'_>) {
        let end = SystemTime::now();
        let span = cx.span();
        span.end_with_timestamp(end);
        // A clock set back during the request: zero, as the span shows.
        let seconds = end
            .duration_since(self.start)
            .map_or(0.0, |d| d.as_secs_f64());
        self.store
            .record(instrument, attrs, seconds, end, Some(span.span_context()));
    }
}

/// A measurement's attributes, at most 8, on the stack.
#[derive(Debug)]
pub(crate) struct AttrBuf<'a> {
    items: [(&'static str, Val<'a>); 8],
    len: usize,
}

impl Default for AttrBuf<'_> {
    fn default() -> Self {
        Self {
            items: [("", Val::Int(0)); 8],
            len: 0,
        }
    }
}

impl<'a> AttrBuf<'a> {
    pub(crate) fn str(&mut self, key: &'static str, value: &'a str) {
        self.push(key, Val::Str(value));
    }

    pub(crate) fn int(&mut self, key: &'static str, value: i64) {
        self.push(key, Val::Int(value));
    }

    fn push(&mut self, key: &'static str, value: Val<'a>) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = (key, value);
            self.len += 1;
        }
    }

    pub(crate) fn as_slice(&self) -> &[(&'static str, Val<'a>)] {
        &self.items[..self.len]
    }
}

/// `url.scheme` as the server metric records it: `http`, `https`, else
/// `_OTHER` (a request in absolute form, or a believed proxy, could name
/// any scheme: a metric attribute takes no value a caller chooses).
#[cfg(feature = "http-server")]
pub(crate) fn metric_scheme(scheme: &str) -> &'static str {
    match scheme {
        "http" => "http",
        "https" => "https",
        _ => "_OTHER",
    }
}
