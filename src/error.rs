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

/// An input value as shown in an error message: quoted, with control
/// characters, the Unicode bidirectional controls and the line separators
/// escaped (`\n`, `\u{202e}`), and cut after 64 characters of that escaped
/// form, so that a hostile megabyte-long value cannot flood a log, break a
/// line or reorder what a reader sees.
#[derive(Clone, PartialEq, Eq)]
pub struct Shown {
    /// The kept part of the value, `…` after it when cut.
    kept: String,
    /// `kept` with the characters that must not be shown raw escaped.
    escaped: String,
}

impl Shown {
    const MAX: usize = 64;

    pub(crate) fn new(value: &str) -> Self {
        // Cut where the quoted (`Debug`) form reaches the bound: it escapes
        // at least what `escaped` does, and `"` and `\` besides.
        let (end, cut) = crate::untrusted::cut_chars(value, Self::MAX, |c| c.escape_debug().len());
        let mut kept = value[..end].to_string();
        if cut {
            kept.push('…');
        }
        let escaped = crate::untrusted::escape_untrusted(&kept).into_owned();
        Shown { kept, escaped }
    }

    /// The (possibly shortened) value, its control, bidirectional and line
    /// separator characters escaped (`\n`, `\u{202e}`), unquoted: what a
    /// JSON or text log line may carry as a field.
    pub fn as_str(&self) -> &str {
        &self.escaped
    }
}

impl fmt::Display for Shown {
    /// The value quoted, as Rust writes a string (`"a\nb"`): its `Debug`
    /// form escapes every character [`as_str`](Self::as_str) does, and `"`
    /// and `\\`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.kept, f)
    }
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.kept, f)
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

    #[test]
    fn shown_values_escape_what_must_not_be_shown_raw() {
        // (value, as_str, Display, why)
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str, &str)] = &[
            ("bogus", "bogus", "\"bogus\"", "nothing to escape"),
            ("a\nb", "a\\nb", "\"a\\nb\"", "a newline"),
            ("a\u{202e}b", "a\\u{202e}b", "\"a\\u{202e}b\"", "right-to-left override"),
            ("\u{2028}\u{85}", "\\u{2028}\\u{85}", "\"\\u{2028}\\u{85}\"", "a line separator, a C1 control"),
            ("a\"b", "a\"b", "\"a\\\"b\"", "a quote ends nothing in Display"),
        ];
        for (value, as_str, display, why) in cases {
            let shown = Shown::new(value);
            assert_eq!(shown.as_str(), *as_str, "{why}");
            assert_eq!(shown.to_string(), *display, "{why}");
        }
        // The bound holds for the escaped form too.
        let shown = Shown::new(&"\u{202e}".repeat(1000));
        assert!(shown.as_str().chars().count() <= 65, "{}", shown.as_str());
        assert!(shown.to_string().chars().count() <= 67, "{shown}");
        assert!(shown.as_str().ends_with('…'));
    }
}
