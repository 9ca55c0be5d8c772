//! Trace ids on every log line: the Rust form of the old `TraceContextFilter` and
//! `setup_trace_logging()`.
//!
//! [`TraceContextFormat`] is a `tracing-subscriber` event formatter that writes
//! each event with the trace id, span id and flags of the span the event belongs
//! to, following a pattern such as the default
//! `"[{trace_id}] [{level:<8}] {message}{fields}"`, which reproduces the old
//! module's lines:
//!
//! ```text
//! [4bf92f3577b34da6a3ce929d0e0e4736] [INFO    ] Batch processing started
//! ```
//!
//! Use it in your own subscriber stack with [`trace_context_fmt_layer`], or let
//! [`setup_trace_logging`] install a complete one.
//!
//! Outside any trace the ids are never zeros: the pattern shows a placeholder
//! (`-` unless set with [`TraceContextFormat::with_placeholder`]).

use std::fmt::{self, Write as _};

use opentelemetry::trace::{SpanContext, TraceContextExt};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use crate::error::{Error, Result, Shown};
use crate::ids::{SpanIdHex, TraceIdHex};

/// The default line pattern: the old module's `[%(trace_id)s] [%(levelname)-8s] %(message)s`,
/// plus the event's fields (if any) after the message.
pub const DEFAULT_PATTERN: &str = "[{trace_id}] [{level:<8}] {message}{fields}";

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    TraceId,
    SpanId,
    TraceFlags,
    Level,
    Target,
    Timestamp,
    Message,
    /// The event's fields other than `message`, each as ` name=value`.
    Fields,
}

impl Placeholder {
    const ALL: [(&'static str, Placeholder); 8] = [
        ("trace_id", Placeholder::TraceId),
        ("span_id", Placeholder::SpanId),
        ("trace_flags", Placeholder::TraceFlags),
        ("level", Placeholder::Level),
        ("target", Placeholder::Target),
        ("timestamp", Placeholder::Timestamp),
        ("message", Placeholder::Message),
        ("fields", Placeholder::Fields),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
    Center,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Value {
        what: Placeholder,
        /// Alignment and minimum width, from `{name:<8}`, `{name:>8}`, `{name:^8}`, `{name:8}`.
        pad: Option<(Align, usize)>,
    },
}

/// An event formatter that puts the trace context on every line; see the
/// [module docs](self).
///
/// Placeholders: `{trace_id}`, `{span_id}`, `{trace_flags}`, `{level}`,
/// `{target}`, `{timestamp}` (RFC 3339, UTC), `{message}`, `{fields}`; each may
/// carry a width and alignment (`{level:<8}`). `{{` and `}}` are literal braces.
///
/// ```
/// use distributed_tracing::TraceContextFormat;
/// assert!(TraceContextFormat::new("{timestamp} [{trace_id}/{span_id}] {level:>5} {target}: {message}").is_ok());
/// let err = TraceContextFormat::new("[{trace}] {message}").unwrap_err();
/// assert!(err.to_string().contains("unknown placeholder {trace}"));
/// ```
#[derive(Debug, Clone)]
pub struct TraceContextFormat {
    pieces: Vec<Piece>,
    placeholder: String,
}

impl Default for TraceContextFormat {
    fn default() -> Self {
        Self::new(DEFAULT_PATTERN).unwrap_or_else(|_| unreachable!("the default pattern parses"))
    }
}

impl TraceContextFormat {
    /// A formatter for `pattern`; an error names an unknown placeholder or a
    /// malformed one.
    pub fn new(pattern: &str) -> Result<Self> {
        Ok(Self {
            pieces: parse_pattern(pattern)?,
            placeholder: "-".to_string(),
        })
    }

    /// What the id placeholders show outside a trace (default `-`).
    pub fn with_placeholder(mut self, placeholder: impl Into<String>) -> Self {
        self.placeholder = placeholder.into();
        self
    }
}

fn parse_pattern(pattern: &str) -> Result<Vec<Piece>> {
    let err = |reason: String| Error::InvalidPattern {
        pattern: Shown::new(pattern),
        reason,
    };
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let brace = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix(brace as char) {
            literal.push(brace as char);
            rest = after;
            continue;
        }
        if brace == b'}' {
            return Err(err("unmatched '}' (write '}}' for a literal brace)".into()));
        }
        let end = rest
            .find('}')
            .ok_or_else(|| err("unclosed '{' (write '{{' for a literal brace)".into()))?;
        let spec = &rest[..end];
        rest = &rest[end + 1..];
        let (name, format) = match spec.split_once(':') {
            Some((name, format)) => (name, Some(format)),
            None => (spec, None),
        };
        let what = Placeholder::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                let known: Vec<&str> = Placeholder::ALL.iter().map(|(n, _)| *n).collect();
                err(format!(
                    "unknown placeholder {{{name}}}; known: {}",
                    known.join(", ")
                ))
            })?;
        let pad = format
            .map(|f| {
                parse_pad(f).ok_or_else(|| {
                    err(format!(
                        "bad format {{{spec}}}: expected a width such as <8, >8, ^8 or 8"
                    ))
                })
            })
            .transpose()?;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Value { what, pad });
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

fn parse_pad(format: &str) -> Option<(Align, usize)> {
    let (align, width) = match format.as_bytes().first()? {
        b'<' => (Align::Left, &format[1..]),
        b'>' => (Align::Right, &format[1..]),
        b'^' => (Align::Center, &format[1..]),
        _ => (Align::Left, format),
    };
    let width: usize = width.parse().ok()?;
    (width <= 256).then_some((align, width))
}

/// The trace context an event belongs to: its explicit parent span's, the
/// current one for a contextual event, none for an explicit root.
fn event_span_context(event: &Event<'_>) -> Option<SpanContext> {
    if let Some(parent) = event.parent() {
        let cx = tracing::dispatcher::get_default(|d| {
            tracing_opentelemetry::get_otel_context(parent, d)
        })?;
        let span = cx.span();
        let sc = span.span_context();
        return sc.is_valid().then(|| sc.clone());
    }
    if event.is_root() {
        return None;
    }
    crate::context::current_span_context()
}

/// Collects an event's message and other fields.
#[derive(Default)]
struct FieldsVisitor {
    message: String,
    fields: String,
}

impl Visit for FieldsVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else if !field.name().starts_with("log.") {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else if !field.name().starts_with("log.") {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

fn write_padded(w: &mut Writer<'_>, s: &str, pad: Option<(Align, usize)>) -> fmt::Result {
    match pad {
        None => w.write_str(s),
        Some((Align::Left, n)) => write!(w, "{s:<n$}"),
        Some((Align::Right, n)) => write!(w, "{s:>n$}"),
        Some((Align::Center, n)) => write!(w, "{s:^n$}"),
    }
}

impl<S, N> FormatEvent<S, N> for TraceContextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let sc = event_span_context(event);
        let mut visitor = FieldsVisitor::default();
        event.record(&mut visitor);
        // Records bridged from the `log` crate carry their real target in fields.
        #[cfg(feature = "log")]
        let normalized = tracing_log::NormalizeEvent::normalized_metadata(event);
        #[cfg(feature = "log")]
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        #[cfg(not(feature = "log"))]
        let meta = event.metadata();
        for piece in &self.pieces {
            let (what, pad) = match piece {
                Piece::Literal(s) => {
                    writer.write_str(s)?;
                    continue;
                }
                Piece::Value { what, pad } => (*what, *pad),
            };
            match what {
                Placeholder::TraceId => match &sc {
                    Some(sc) => write_padded(&mut writer, &TraceIdHex::new(sc.trace_id()), pad)?,
                    None => write_padded(&mut writer, &self.placeholder, pad)?,
                },
                Placeholder::SpanId => match &sc {
                    Some(sc) => write_padded(&mut writer, &SpanIdHex::new(sc.span_id()), pad)?,
                    None => write_padded(&mut writer, &self.placeholder, pad)?,
                },
                Placeholder::TraceFlags => match &sc {
                    Some(sc) => {
                        let flags = format!("{:02x}", sc.trace_flags().to_u8());
                        write_padded(&mut writer, &flags, pad)?
                    }
                    None => write_padded(&mut writer, &self.placeholder, pad)?,
                },
                Placeholder::Level => write_padded(&mut writer, meta.level().as_str(), pad)?,
                Placeholder::Target => write_padded(&mut writer, meta.target(), pad)?,
                Placeholder::Timestamp => {
                    let mut ts = String::new();
                    SystemTime.format_time(&mut Writer::new(&mut ts))?;
                    write_padded(&mut writer, &ts, pad)?
                }
                Placeholder::Message => write_padded(&mut writer, &visitor.message, pad)?,
                Placeholder::Fields => write_padded(&mut writer, &visitor.fields, pad)?,
            }
        }
        writeln!(writer)
    }
}

/// A `tracing-subscriber` fmt layer writing [`TraceContextFormat`] lines to
/// stdout, to add to your own subscriber stack (registry, `EnvFilter`, the
/// OpenTelemetry layer, ...).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let format = distributed_tracing::TraceContextFormat::default();
/// let subscriber = tracing_subscriber::registry()
///     .with(distributed_tracing::otel_layer())
///     .with(distributed_tracing::trace_context_fmt_layer(format));
/// # drop(subscriber);
/// ```
pub fn trace_context_fmt_layer<S>(
    format: TraceContextFormat,
) -> tracing_subscriber::fmt::Layer<S, DefaultFields, TraceContextFormat>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer().event_format(format)
}

/// The tracing-to-OpenTelemetry bridge layer, with the global tracer provider's
/// tracer (install the provider first) and context activation on, so that
/// entering a `tracing` span makes its OTel context current.
pub fn otel_layer<S>(
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry::global::BoxedTracer>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(opentelemetry::global::tracer(crate::context::TRACER_NAME))
        .with_context_activation(true)
}

/// Installs a global subscriber that writes every event with its trace context,
/// following `pattern` (e.g. [`DEFAULT_PATTERN`]), to stdout.
///
/// The subscriber is: `EnvFilter` from `RUST_LOG` (default `info`), the
/// OpenTelemetry bridge ([`otel_layer`]) and the [`TraceContextFormat`] layer.
/// Records of the `log` crate are bridged too (feature `log`, on by default).
/// Replaces the old `setup_trace_logging()`; an unknown placeholder is an error.
pub fn setup_trace_logging(pattern: &str) -> Result<()> {
    let format = TraceContextFormat::new(pattern)?;
    tracing_subscriber::registry()
        .with(env_filter())
        .with(otel_layer())
        .with(trace_context_fmt_layer(format))
        .try_init()?;
    Ok(())
}

/// `RUST_LOG`, or `info` when it is unset or invalid.
pub(crate) fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse() {
        let p = parse_pattern(DEFAULT_PATTERN).unwrap();
        assert_eq!(p[0], Piece::Literal("[".into()));
        assert_eq!(
            p[1],
            Piece::Value {
                what: Placeholder::TraceId,
                pad: None
            }
        );
        assert_eq!(
            p[3],
            Piece::Value {
                what: Placeholder::Level,
                pad: Some((Align::Left, 8))
            }
        );
        assert_eq!(
            parse_pattern("{{x}}").unwrap(),
            vec![Piece::Literal("{x}".into())]
        );
        assert_eq!(parse_pattern("").unwrap(), vec![]);
    }

    #[test]
    fn bad_patterns_are_errors_that_say_why() {
        for (pattern, needle) in [
            ("{nope}", "unknown placeholder {nope}"),
            ("{message", "unclosed '{'"),
            ("message}", "unmatched '}'"),
            ("{level:<x}", "bad format {level:<x}"),
            ("{level:<99999}", "bad format"),
        ] {
            let err = TraceContextFormat::new(pattern).unwrap_err().to_string();
            assert!(err.contains(needle), "{pattern}: {err}");
        }
    }
}
