//! [`Trust`]: what a receiver does with the trace context that came with a
//! request or a message (continue it, only link to it, or ignore it); the
//! server layers ([`crate::middleware`]) and the consumers of messages
//! ([`crate::messaging`]) decide with it.

use opentelemetry::trace::Link;
use opentelemetry::Context;

use super::ExtractedContext;

/// What to do with a caller's trace context (`traceparent`, `baggage`), or a
/// message's.
///
/// Internal services continue their callers' traces. A service that faces the
/// internet may not: anyone can send a `traceparent` that forces sampling, or
/// `baggage` that its handlers then trust. The W3C Trace Context specification
/// leaves this decision to the receiving service.
///
/// Messages from outside the system are no more trustworthy than requests:
/// a consumer uses the same policy.
///
/// The HTTP and gRPC server layers take it (or a function deciding per
/// request: [`TrustPolicy`](crate::middleware::TrustPolicy), with an example),
/// and so do the consumers of [`crate::messaging`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Trust {
    /// Continue the caller's trace: the server span is a child of the caller's
    /// span, and the caller's sampling decision and baggage are kept (default).
    #[default]
    Continue,
    /// Start a new trace whose server span links to the caller's span. The
    /// caller's `sampled` flag does not decide sampling and its baggage is dropped.
    NewTraceWithLink,
    /// Start a new trace; the caller's context is not used at all.
    Ignore,
}

impl Trust {
    /// The parent context and links of a receiver's span for a caller's
    /// `extracted` context (if it sent a valid one).
    #[cfg_attr(not(feature = "http-server"), allow(dead_code))]
    pub(crate) fn parent(self, extracted: Option<ExtractedContext>) -> (Context, Vec<Link>) {
        match self {
            Trust::Continue => (
                extracted
                    .map(ExtractedContext::into_context)
                    .unwrap_or_default(),
                Vec::new(),
            ),
            Trust::NewTraceWithLink => (
                Context::new(),
                extracted
                    .map(|remote| vec![Link::with_context(remote.span_context())])
                    .unwrap_or_default(),
            ),
            Trust::Ignore => (Context::new(), Vec::new()),
        }
    }
}
