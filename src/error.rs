//! The crate's one error type.

use std::fmt;

/// The result type of this crate's fallible functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// Propagation never fails: an invalid incoming header is ignored, as the W3C
/// Trace Context specification says, and a new trace starts. Errors are for
/// values a program hands us directly (ids, logging patterns, configuration).
///
/// Each message names the offending input, quoted and shortened
/// ([`Shown`]), so it is safe to log:
///
/// ```
/// use distributed_tracing::{parse_trace_id, Error};
///
/// let err = parse_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap_err();
/// match &err {
///     Error::InvalidTraceId { value, reason } => {
///         assert_eq!(value.as_str(), "4BF92F3577B34DA6A3CE929D0E0E4736");
///         println!("rejected because: {reason}");
///     }
///     // The enum is `#[non_exhaustive]`: a match needs a catch-all arm.
///     other => panic!("unexpected: {other}"),
/// }
/// assert!(err.to_string().starts_with("invalid trace id \"4BF92F35"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A trace id given to [`parse_trace_id`](crate::parse_trace_id) or
    /// [`compat::init_trace_context`](crate::compat::init_trace_context) is not 32 lowercase hex digits,
    /// or is all zeros.
    #[error("invalid trace id {value}: {reason}")]
    InvalidTraceId {
        /// The offending input (shortened if it is long).
        value: Shown,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A span id is not 16 lowercase hex digits, or is all zeros.
    #[error("invalid span id {value}: {reason}")]
    InvalidSpanId {
        /// The offending input (shortened if it is long).
        value: Shown,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A log line pattern given to
    /// [`TraceContextFormat::new`](crate::logging::TraceContextFormat::new) (or
    /// [`ObservabilityBuilder::log_pattern`](crate::ObservabilityBuilder::log_pattern),
    /// [`compat::setup_trace_logging`](crate::compat::setup_trace_logging)) cannot be parsed.
    #[error("invalid log pattern {pattern}: {reason}")]
    InvalidPattern {
        /// The pattern (shortened if it is long).
        pattern: Shown,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration value (an environment variable, or its builder
    /// equivalent) cannot be used; only with
    /// [`ObservabilityBuilder::strict`](crate::ObservabilityBuilder::strict), since
    /// the OpenTelemetry specification otherwise asks to report and ignore it.
    #[error("invalid configuration {variable}={value}: {reason}")]
    Config {
        /// The environment variable.
        variable: &'static str,
        /// Its value (shortened if long).
        value: Shown,
        /// Why it cannot be used.
        reason: String,
    },
    /// The span exporter could not be built.
    #[error("building the span exporter: {0}")]
    Exporter(String),
    /// A global `tracing` subscriber was already installed.
    #[error("a global tracing subscriber is already installed: {0}")]
    SubscriberAlreadySet(#[from] tracing_subscriber::util::TryInitError),
    /// The OpenTelemetry SDK reported an error (export, flush, shutdown).
    #[error("OpenTelemetry SDK: {0}")]
    Sdk(#[from] opentelemetry_sdk::error::OTelSdkError),
    /// An I/O error, with what we were doing.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing (e.g. the path we tried to open).
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// An input value as shown in an error message: quoted, with control characters
/// escaped, and cut after 64 characters so that a hostile megabyte-long value
/// cannot flood a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Shown(String);

impl Shown {
    const MAX: usize = 64;

    pub(crate) fn new(value: &str) -> Self {
        let mut out: String = value.chars().take(Self::MAX).collect();
        if value.chars().nth(Self::MAX).is_some() {
            out.push('…');
        }
        Shown(out)
    }

    /// The (possibly shortened) value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_and_quoted() {
        let long = "a".repeat(10_000);
        let shown = Shown::new(&long).to_string();
        assert!(shown.len() < 80, "{shown}");
        assert!(shown.starts_with('"') && shown.ends_with("…\""));
        assert_eq!(Shown::new("x\ny").to_string(), "\"x\\ny\"");
    }
}
