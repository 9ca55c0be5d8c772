//! [`TraceContextFormat`]: text lines following a pattern.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{event_ids, EventIds};
use crate::error::{Error, Result, Shown};
use crate::ids::{
    datadog_span_id, datadog_trace_id, Decimal, SpanIdHex, TraceFlagsHex, TraceIdHex,
};
use crate::untrusted::shorten_untrusted;

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
    /// Datadog's `dd.trace_id`: the lower 64 bits of the trace id, in decimal.
    DdTraceId,
    /// Datadog's `dd.span_id`: the span id in decimal.
    DdSpanId,
}

impl Placeholder {
    const ALL: [(&'static str, Placeholder); 10] = [
        ("dd.trace_id", Placeholder::DdTraceId),
        ("dd.span_id", Placeholder::DdSpanId),
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
/// [module docs](crate::logging).
///
/// Placeholders: `{trace_id}`, `{span_id}`, `{trace_flags}`, `{level}`,
/// `{target}`, `{timestamp}` (RFC 3339, UTC), `{message}`, `{fields}`, and
/// Datadog's `{dd.trace_id}` / `{dd.span_id}` (decimal, see [`DatadogTags`](crate::logging::DatadogTags)); each may
/// carry a width and alignment (`{level:<8}`). `{{` and `}}` are literal braces.
///
/// ```
/// use distributed_tracing::logging::TraceContextFormat;
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
    pub fn placeholder(mut self, placeholder: impl Into<String>) -> Self {
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
                // The pattern's text, escaped and cut as `Shown` is.
                let name = shorten_untrusted(name, 64);
                err(format!(
                    "unknown placeholder {{{name}}}; known: {}",
                    known.join(", ")
                ))
            })?;
        let pad = format
            .map(|f| {
                parse_pad(f).ok_or_else(|| {
                    let spec = shorten_untrusted(spec, 64);
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

/// Writes the message (`message: true`) or the other fields straight into the
/// line, without collecting them first.
///
/// The program's text is written as the program gave it: a message, and a
/// field recorded as a string or with `%` (`Display`), reach the line
/// unchanged, control and bidirectional characters included (a text line
/// is the program's own; escaping them here would change what every
/// service logs). A field recorded with `?` is Rust's `Debug` form, which
/// escapes them. This crate's own messages that quote outside input (the
/// configuration issues, the export warnings) escape it where they are made
/// ([`crate::untrusted::escape_untrusted`]); a service that logs untrusted text
/// should log it with `?`, or use the JSON format, which escapes them in
/// every string.
struct WriteFields<'a, 'w> {
    out: &'a mut Writer<'w>,
    message: bool,
    result: fmt::Result,
}

impl Visit for WriteFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        self.result = match (self.message, name == "message") {
            (true, true) => self.out.write_str(value),
            (false, false) if !name.starts_with("log.") => write!(self.out, " {name}={value}"),
            _ => Ok(()),
        };
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        self.result = match (self.message, name == "message") {
            (true, true) => write!(self.out, "{value:?}"),
            (false, false) if !name.starts_with("log.") => write!(self.out, " {name}={value:?}"),
            _ => Ok(()),
        };
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

/// Writes a value that only some placeholders pad: straight into the line
/// when unpadded, through a small buffer when padded.
fn write_value(
    w: &mut Writer<'_>,
    pad: Option<(Align, usize)>,
    f: impl FnOnce(&mut Writer<'_>) -> fmt::Result,
) -> fmt::Result {
    match pad {
        None => f(w),
        Some(_) => {
            let mut buf = String::new();
            f(&mut Writer::new(&mut buf))?;
            write_padded(w, &buf, pad)
        }
    }
}

impl TraceContextFormat {
    fn write_ids(
        &self,
        w: &mut Writer<'_>,
        what: Placeholder,
        ids: Option<EventIds>,
        pad: Option<(Align, usize)>,
    ) -> fmt::Result {
        let Some(ids) = ids else {
            return write_padded(w, &self.placeholder, pad);
        };
        match what {
            Placeholder::TraceId => write_padded(w, &TraceIdHex::new(ids.trace_id), pad),
            Placeholder::SpanId => match ids.span_id {
                Some(id) => write_padded(w, &SpanIdHex::new(id), pad),
                None => write_padded(w, &self.placeholder, pad),
            },
            Placeholder::TraceFlags => write_padded(w, &TraceFlagsHex::new(ids.flags), pad),
            Placeholder::DdTraceId => {
                write_padded(w, &Decimal::new(datadog_trace_id(ids.trace_id)), pad)
            }
            Placeholder::DdSpanId => match ids.span_id {
                Some(id) => write_padded(w, &Decimal::new(datadog_span_id(id)), pad),
                None => write_padded(w, &self.placeholder, pad),
            },
            _ => Ok(()),
        }
    }
}

impl<S, N> FormatEvent<S, N> for TraceContextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = event_ids(event);
        let lifecycle = super::is_span_lifecycle(event);
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
                Placeholder::TraceId
                | Placeholder::SpanId
                | Placeholder::TraceFlags
                | Placeholder::DdTraceId
                | Placeholder::DdSpanId => self.write_ids(&mut writer, what, ids, pad)?,
                Placeholder::Level => write_padded(&mut writer, meta.level().as_str(), pad)?,
                Placeholder::Target => write_padded(&mut writer, meta.target(), pad)?,
                Placeholder::Timestamp => {
                    write_value(&mut writer, pad, |w| SystemTime.format_time(w))?
                }
                Placeholder::Message | Placeholder::Fields => write_value(&mut writer, pad, |w| {
                    let message = what == Placeholder::Message;
                    if lifecycle && message {
                        // A span's lifecycle line: "<span name> new", "<span name> close".
                        write!(w, "{} ", meta.name())?;
                    }
                    if lifecycle && !message {
                        // The span's own fields, as the fmt layer recorded them.
                        if let Some(span) = event.parent().and_then(|id| ctx.span(id)) {
                            if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                                if !fields.is_empty() {
                                    write!(w, " {}", fields.fields)?;
                                }
                            }
                        }
                    }
                    let mut visit = WriteFields {
                        out: w,
                        message,
                        result: Ok(()),
                    };
                    event.record(&mut visit);
                    visit.result
                })?,
            }
        }
        writeln!(writer)
    }
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
