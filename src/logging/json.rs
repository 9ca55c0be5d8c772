//! [`JsonFormat`]: one JSON object a line, with the trace context at the top
//! level, and optionally Datadog's log-trace correlation attributes.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::event_ids;
use crate::ids::{
    datadog_span_id, datadog_trace_id, Decimal, SpanIdHex, TraceFlagsHex, TraceIdHex,
};
use crate::untrusted::is_untrusted;

/// Datadog's log-trace correlation attributes, added to every JSON line inside
/// a trace:
///
/// * `dd.trace_id`: the lower 64 bits of the 128-bit trace id, as an unsigned
///   decimal integer, and `dd.span_id`: the 64-bit span id in decimal. This is
///   the conversion Datadog documents for OpenTelemetry ids
///   (<https://docs.datadoghq.com/tracing/other_telemetry/connect_logs_and_traces/opentelemetry/>:
///   `str(trace_id & 0xFFFFFFFFFFFFFFFF)`); Datadog matches a 128-bit trace on
///   its lower 64 bits (<https://docs.datadoghq.com/opentelemetry/reference/trace_ids/>),
///   so the line joins the trace exported over OTLP;
/// * `dd.service`, `dd.env`, `dd.version`: unified service tagging, on every
///   line (in a trace or not), when set.
///
/// ```
/// use distributed_tracing::logging::DatadogTags;
/// let tags = DatadogTags::default().service("checkout").env("prod").version("1.4.2");
/// # drop(tags);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatadogTags {
    service: Option<String>,
    env: Option<String>,
    version: Option<String>,
}

impl DatadogTags {
    /// `dd.service`.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// `dd.env`.
    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    /// `dd.version`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }
}

/// An event formatter writing one JSON object a line:
///
/// ```json
/// {"timestamp":"2026-11-25T09:00:00.000000Z","level":"INFO","target":"shop",
///  "message":"Batch processing started","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",
///  "span_id":"00f067aa0ba902b7","trace_flags":"01","fields":{"items":3}}
/// ```
///
/// (one line in reality). Outside a trace, `trace_id`, `span_id` and
/// `trace_flags` are omitted (never zeros). With [`datadog`](Self::datadog),
/// Datadog's correlation attributes are added ([`DatadogTags`]).
#[derive(Debug, Clone, Default)]
pub struct JsonFormat {
    datadog: Option<DatadogTags>,
}

impl JsonFormat {
    /// JSON lines with the trace context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds Datadog's correlation attributes.
    pub fn datadog(mut self, tags: DatadogTags) -> Self {
        self.datadog = Some(tags);
        self
    }
}

/// Writes `s` as the contents of a JSON string (without the quotes).
///
/// Besides what JSON requires (`"`, `\\`, the C0 controls), the characters
/// that must not reach a reader raw ([`is_untrusted`]: DEL, the C1
/// controls, the Unicode bidirectional controls, U+2028 and U+2029) are
/// written as `\u` escapes (`\u202e`): the line decodes to the same string,
/// but a terminal or viewer showing the raw line is not reordered by a
/// value, and U+2028/U+2029 cannot end a line for JavaScript.
struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for Escaped<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let (len, escape): (usize, Option<&str>) = match b {
                b'"' => (1, Some("\\\"")),
                b'\\' => (1, Some("\\\\")),
                b'\n' => (1, Some("\\n")),
                b'\r' => (1, Some("\\r")),
                b'\t' => (1, Some("\\t")),
                0..=0x1f | 0x7f => (1, None),
                // The first bytes of the other characters escaped: U+0080 to
                // U+009F (0xc2), U+061C (0xd8), U+200E to U+2069 (0xe2). A
                // first byte is a character boundary.
                0xc2 | 0xd8 | 0xe2 => match s[i..].chars().next() {
                    Some(c) if is_untrusted(c) => (c.len_utf8(), None),
                    _ => continue,
                },
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            match escape {
                Some(e) => self.0.write_str(e)?,
                // All of them are in the Basic Multilingual Plane: one `\u`.
                None => {
                    let c = s[i..].chars().next().unwrap_or('\u{fffd}');
                    write!(self.0, "\\u{:04x}", c as u32)?
                }
            }
            start = i + len;
        }
        self.0.write_str(&s[start..])
    }
}

fn json_str(w: &mut Writer<'_>, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(w).write_str(s)?;
    w.write_char('"')
}

/// Writes the event's fields as JSON members (the message separately).
struct JsonFields<'a, 'w> {
    out: &'a mut Writer<'w>,
    /// `true`: write only the message's value; `false`: the other fields.
    message: bool,
    first: bool,
    result: fmt::Result,
}

impl JsonFields<'_, '_> {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        let is_message = name == "message";
        if is_message != self.message || (!is_message && name.starts_with("log.")) {
            return;
        }
        self.result = (|| {
            if !self.message {
                if !self.first {
                    self.out.write_char(',')?;
                }
                json_str(self.out, name)?;
                self.out.write_char(':')?;
            }
            self.first = false;
            value(self.out)
        })();
    }
}

impl Visit for JsonFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| json_str(w, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        match value.is_finite() {
            true => self.member(field, |w| write!(w, "{value}")),
            false => self.member(field, |w| write!(w, "\"{value}\"")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = event_ids(event);
        #[cfg(feature = "log")]
        let normalized = tracing_log::NormalizeEvent::normalized_metadata(event);
        #[cfg(feature = "log")]
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        #[cfg(not(feature = "log"))]
        let meta = event.metadata();

        w.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut w)?;
        w.write_str("\",\"level\":\"")?;
        w.write_str(meta.level().as_str())?;
        w.write_str("\",\"target\":")?;
        json_str(&mut w, meta.target())?;
        w.write_str(",\"message\":\"")?;
        let mut message = JsonFields {
            out: &mut w,
            message: true,
            first: true,
            result: Ok(()),
        };
        // The message's value is written inside the quotes opened above.
        struct InQuotes<'a, 'b, 'w>(&'a mut JsonFields<'b, 'w>);
        impl Visit for InQuotes<'_, '_, '_> {
            fn record_str(&mut self, field: &Field, value: &str) {
                self.0.member(field, |w| Escaped(w).write_str(value));
            }
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                self.0.member(field, |w| write!(Escaped(w), "{value:?}"));
            }
        }
        event.record(&mut InQuotes(&mut message));
        message.result?;
        w.write_char('"')?;
        if let Some(ids) = ids {
            w.write_str(",\"trace_id\":\"")?;
            w.write_str(&TraceIdHex::new(ids.trace_id))?;
            if let Some(span_id) = ids.span_id {
                w.write_str("\",\"span_id\":\"")?;
                w.write_str(&SpanIdHex::new(span_id))?;
            }
            w.write_str("\",\"trace_flags\":\"")?;
            w.write_str(&TraceFlagsHex::new(ids.flags))?;
            w.write_char('"')?;
        }
        if let Some(dd) = &self.datadog {
            if let Some(ids) = ids {
                let trace = Decimal::new(datadog_trace_id(ids.trace_id));
                write!(w, ",\"dd.trace_id\":\"{trace}\"")?;
                if let Some(span_id) = ids.span_id {
                    let span = Decimal::new(datadog_span_id(span_id));
                    write!(w, ",\"dd.span_id\":\"{span}\"")?;
                }
            }
            for (key, value) in [
                ("dd.service", &dd.service),
                ("dd.env", &dd.env),
                ("dd.version", &dd.version),
            ] {
                if let Some(value) = value {
                    write!(w, ",\"{key}\":")?;
                    json_str(&mut w, value)?;
                }
            }
        }
        w.write_str(",\"fields\":{")?;
        let mut fields = JsonFields {
            out: &mut w,
            message: false,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        w.write_str("}}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_what_must_not_be_shown_raw() {
        // (value, JSON string contents, why)
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str)] = &[
            ("plain é€😀", "plain é€😀", "nothing to escape"),
            ("a\"b\\c", "a\\\"b\\\\c", "JSON's own escapes"),
            ("a\nb\u{1b}", "a\\nb\\u001b", "C0 controls"),
            ("\u{7f}\u{85}\u{9f}", "\\u007f\\u0085\\u009f", "DEL and C1 controls"),
            ("x\u{202e}y", "x\\u202ey", "right-to-left override"),
            ("\u{61c}\u{200e}\u{200f}\u{2066}\u{2069}", "\\u061c\\u200e\\u200f\\u2066\\u2069", "the other bidirectional controls"),
            ("\u{2028}\u{2029}", "\\u2028\\u2029", "line and paragraph separators"),
            ("\u{a0}\u{600}\u{2030}\u{20ac}", "\u{a0}\u{600}\u{2030}\u{20ac}", "neighbours with the same first bytes"),
        ];
        for (value, expected, why) in cases {
            let mut out = String::new();
            Escaped(&mut Writer::new(&mut out))
                .write_str(value)
                .unwrap();
            assert_eq!(out, *expected, "{why}");
            let decoded: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
            assert_eq!(decoded, *value, "{why}: the same string once decoded");
        }
    }
}
