//! Reading the OTLP file format back, as strictly as it is written, in
//! bounded memory.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::str::FromStr as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::write::{CONTEXT_HAS_IS_REMOTE, CONTEXT_IS_REMOTE};
use super::Batch;
use crate::untrusted::shorten_untrusted;

/// The longest line [`Reader`] reads by default: 16 MiB (the crate writes
/// lines of at most 4 MiB).
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// How much of a value from the file a message quotes, at most.
pub(super) const QUOTED: usize = 120;

/// Opens a spans file for reading: [`Reader`] over it.
///
/// ```no_run
/// use distributed_tracing::otlp_file;
///
/// for batch in otlp_file::read("checkout.spans.jsonl")? {
///     match batch {
///         Ok(batch) => println!("{} spans", batch.spans.len()),
///         // A line that is not OTLP JSON: reported, and the next one read.
///         Err(e) => eprintln!("{e}"),
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read(path: impl AsRef<Path>) -> io::Result<Reader<BufReader<File>>> {
    Ok(Reader::new(BufReader::new(File::open(path)?)))
}

/// The [`Batch`]es of a file in the OTLP file format, line by line.
///
/// A line that is not valid OTLP JSON (a truncated last line after a crash, a
/// hand-edited one, a line longer than [`max_line_bytes`](Self::max_line_bytes))
/// is an `Err` naming its line number and why; reading goes on with the next
/// line. Memory stays bounded by the longest line read, whatever the file's
/// size: a line over the limit is skipped without being held. Blank lines are
/// skipped. Reading stops after an error of the input itself (an I/O error).
///
/// What a line may hold beyond what the SDK's types can (a `kvlistValue` or a
/// `bytesValue`, an array of mixed types, a span kind of 0) is read as close as
/// they allow: maps and mixed arrays as their JSON text, bytes as their base64
/// text, kind 0 (unspecified) as `Internal`. Unknown fields are ignored, as the
/// OTLP specification asks of receivers.
///
/// `Reader<R>` reads spans (`TracesData` lines); [`MetricsReader`](super::MetricsReader) reads the
/// metrics file (`MetricsData` lines) the same way.
#[derive(Debug)]
pub struct Reader<R, T = Batch> {
    input: R,
    max_line_bytes: usize,
    line: u64,
    buf: Vec<u8>,
    pending: std::vec::IntoIter<T>,
    done: bool,
}

/// What one line of a file gives: [`Batch`]es of spans, or
/// [`MetricsBatch`](super::MetricsBatch)es.
pub trait FromLine: Sized + sealed::Sealed {
    #[doc(hidden)]
    fn from_line(json: &[u8], line: u64, ended: bool) -> Result<Vec<Self>, String>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Batch {}
    impl Sealed for super::super::MetricsBatch {}
}

impl FromLine for Batch {
    fn from_line(json: &[u8], line: u64, ended: bool) -> Result<Vec<Self>, String> {
        serde_json::from_slice::<TracesData>(json)
            .map_err(|e| json_error(&e, ended))
            .and_then(|data| batches(data, line))
    }
}

/// Why a line could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    line: u64,
    reason: String,
}

impl LineError {
    /// The line's number (the first line is 1).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Why it was skipped (values quoted from the file are shortened and
    /// escaped).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for LineError {}

/// One line as read: its bytes, whether a line feed ended it, or its length
/// when it was too long to hold.
enum RawLine {
    Line { ended: bool },
    TooLong(u64),
}

impl<R: BufRead> Reader<R> {
    /// Reads the spans of `input`, lines of at most [`DEFAULT_MAX_LINE_BYTES`].
    pub fn new(input: R) -> Self {
        Self::of(input)
    }
}

impl<R: BufRead> Reader<R, super::MetricsBatch> {
    /// Reads the metrics of `input` (a [`MetricsReader`](super::MetricsReader)),
    /// lines of at most [`DEFAULT_MAX_LINE_BYTES`].
    pub fn metrics(input: R) -> Self {
        Self::of(input)
    }
}

impl<R: BufRead, T: FromLine> Reader<R, T> {
    fn of(input: R) -> Self {
        Self {
            input,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            line: 0,
            buf: Vec::new(),
            pending: Vec::new().into_iter(),
            done: false,
        }
    }

    /// The longest line to read (the memory a line may take is a few times
    /// this); a longer one is skipped and reported.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Lines read so far (blank ones and skipped ones included).
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    /// The next line into `self.buf`; `None` at the end of the input.
    fn next_raw(&mut self) -> io::Result<Option<RawLine>> {
        self.buf.clear();
        let mut len: u64 = 0;
        let mut too_long = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(match (len, too_long) {
                    (0, _) => None,
                    (n, true) => Some(RawLine::TooLong(n)),
                    (_, false) => Some(RawLine::Line { ended: false }),
                });
            }
            let (part, ended) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (&available[..at], true),
                None => (available, false),
            };
            len += part.len() as u64;
            if !too_long && len > self.max_line_bytes as u64 {
                too_long = true;
                self.buf = Vec::new();
            }
            if !too_long {
                self.buf.extend_from_slice(part);
            }
            let used = part.len() + usize::from(ended);
            self.input.consume(used);
            if ended {
                return Ok(Some(match too_long {
                    true => RawLine::TooLong(len),
                    false => RawLine::Line { ended: true },
                }));
            }
        }
    }

    fn error(&self, reason: impl Into<String>) -> LineError {
        LineError {
            line: self.line,
            reason: reason.into(),
        }
    }
}

impl<R: BufRead, T: FromLine> Iterator for Reader<R, T> {
    type Item = Result<T, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.pending.next() {
                return Some(Ok(batch));
            }
            if self.done {
                return None;
            }
            let raw = match self.next_raw() {
                Ok(Some(raw)) => raw,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    self.line += 1;
                    return Some(Err(self.error(format!("cannot read the file: {e}"))));
                }
            };
            self.line += 1;
            let ended = match raw {
                RawLine::TooLong(len) => {
                    return Some(Err(self.error(format!(
                        "{len} bytes, longer than the {} this reader takes (Reader::max_line_bytes); skipped",
                        self.max_line_bytes
                    ))))
                }
                RawLine::Line { ended } => ended,
            };
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = T::from_line(&self.buf, self.line, ended);
            self.buf = Vec::new();
            match parsed {
                Ok(batches) => self.pending = batches.into_iter(),
                Err(reason) => return Some(Err(self.error(reason))),
            }
        }
    }
}

/// serde_json's message without its position in the whole input (the line is
/// one line: the column is what helps), shortened and escaped.
pub(super) fn json_error(e: &serde_json::Error, ended: bool) -> String {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(at) => &text[..at],
        None => &text,
    };
    let message = shorten_untrusted(message, 2 * QUOTED);
    match (e.classify(), ended) {
        (serde_json::error::Category::Eof, false) => format!(
            "not complete JSON and no line feed after it: the file ends in the middle of a line (was the writer stopped while writing?): {message}"
        ),
        (serde_json::error::Category::Eof, true) => {
            format!("not complete JSON (the line ends early): {message}")
        }
        (serde_json::error::Category::Syntax, _) => {
            format!("not JSON, at column {}: {message}", e.column())
        }
        _ => format!("not OTLP JSON, at column {}: {message}", e.column()),
    }
}

// The OTLP JSON encoding of `TracesData` (lowerCamelCase keys; unknown keys
// ignored; a missing field is its default).

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TracesData {
    #[serde(default)]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceSpans {
    #[serde(default)]
    resource: Option<ResourceJson>,
    #[serde(default)]
    scope_spans: Vec<ScopeSpans>,
    #[serde(default)]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResourceJson {
    #[serde(default)]
    pub(super) attributes: Vec<KeyValueJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeSpans {
    #[serde(default)]
    scope: Option<ScopeJson>,
    #[serde(default)]
    spans: Vec<SpanJson>,
    #[serde(default)]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ScopeJson {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    attributes: Vec<KeyValueJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpanJson {
    #[serde(default)]
    trace_id: String,
    #[serde(default)]
    span_id: String,
    #[serde(default)]
    trace_state: String,
    #[serde(default)]
    parent_span_id: String,
    #[serde(default)]
    flags: u32,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: i32,
    #[serde(default)]
    start_time_unix_nano: U64,
    #[serde(default)]
    end_time_unix_nano: U64,
    #[serde(default)]
    attributes: Vec<KeyValueJson>,
    #[serde(default)]
    dropped_attributes_count: u32,
    #[serde(default)]
    events: Vec<EventJson>,
    #[serde(default)]
    dropped_events_count: u32,
    #[serde(default)]
    links: Vec<LinkJson>,
    #[serde(default)]
    dropped_links_count: u32,
    #[serde(default)]
    status: Option<StatusJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventJson {
    #[serde(default)]
    time_unix_nano: U64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    attributes: Vec<KeyValueJson>,
    #[serde(default)]
    dropped_attributes_count: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkJson {
    #[serde(default)]
    trace_id: String,
    #[serde(default)]
    span_id: String,
    #[serde(default)]
    trace_state: String,
    #[serde(default)]
    attributes: Vec<KeyValueJson>,
    #[serde(default)]
    dropped_attributes_count: u32,
    #[serde(default)]
    flags: u32,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StatusJson {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i32,
}

#[derive(Deserialize)]
pub(super) struct KeyValueJson {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<AnyValueJson>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct AnyValueJson {
    string_value: Option<String>,
    bool_value: Option<bool>,
    int_value: Option<I64>,
    double_value: Option<F64>,
    array_value: Option<ArrayValueJson>,
    kvlist_value: Option<serde_json::Value>,
    bytes_value: Option<String>,
}

#[derive(Deserialize, Default)]
struct ArrayValueJson {
    #[serde(default)]
    values: Vec<AnyValueJson>,
}

/// A 64-bit unsigned integer: a decimal string (the protobuf JSON mapping) or
/// a JSON number.
#[derive(Default)]
pub(super) struct U64(pub(super) u64);

/// A 64-bit signed integer, as [`U64`].
struct I64(i64);

/// A double: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"`, or a
/// number in a string.
pub(super) struct F64(pub(super) f64);

struct IntVisitor<T>(std::marker::PhantomData<T>);

impl<T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr> Visitor<'_> for IntVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a 64-bit integer (a decimal string or a number)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("{v} is out of range")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(|_| {
            E::custom(format!(
                "\"{}\" is not a 64-bit integer",
                shorten_untrusted(v, QUOTED)
            ))
        })
    }
}

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor::<u64>(std::marker::PhantomData))
            .map(U64)
    }
}

impl<'de> Deserialize<'de> for I64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor::<i64>(std::marker::PhantomData))
            .map(I64)
    }
}

impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a double (a number, \"NaN\", \"Infinity\" or \"-Infinity\")")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
                match v {
                    "NaN" => Ok(f64::NAN),
                    "Infinity" => Ok(f64::INFINITY),
                    "-Infinity" => Ok(f64::NEG_INFINITY),
                    _ => v.parse().map_err(|_| {
                        E::custom(format!(
                            "\"{}\" is not a double",
                            shorten_untrusted(v, QUOTED)
                        ))
                    }),
                }
            }
        }
        d.deserialize_any(V).map(F64)
    }
}

// From the JSON's structs to the SDK's types, each check naming where it failed.

fn batches(data: TracesData, line: u64) -> Result<Vec<Batch>, String> {
    data.resource_spans
        .into_iter()
        .enumerate()
        .map(|(r, rs)| {
            let at = format!("resourceSpans[{r}]");
            let attributes = key_values(rs.resource.unwrap_or_default().attributes, &at)?;
            let resource = match rs.schema_url.is_empty() {
                true => Resource::builder_empty().with_attributes(attributes),
                false => Resource::builder_empty().with_schema_url(attributes, rs.schema_url),
            }
            .build();
            let mut spans = Vec::new();
            for (s, ss) in rs.scope_spans.into_iter().enumerate() {
                let at = format!("{at}.scopeSpans[{s}]");
                let scope_json = ss.scope.unwrap_or_default();
                let mut scope = InstrumentationScope::builder(scope_json.name)
                    .with_attributes(key_values(scope_json.attributes, &at)?);
                if !scope_json.version.is_empty() {
                    scope = scope.with_version(scope_json.version);
                }
                if !ss.schema_url.is_empty() {
                    scope = scope.with_schema_url(ss.schema_url);
                }
                let scope = scope.build();
                for (i, span) in ss.spans.into_iter().enumerate() {
                    spans.push(span_data(span, &scope, &format!("{at}.spans[{i}]"))?);
                }
            }
            Ok(Batch {
                line,
                resource,
                spans,
            })
        })
        .collect()
}

fn span_data(span: SpanJson, scope: &InstrumentationScope, at: &str) -> Result<SpanData, String> {
    let id = (
        trace_id(&span.trace_id, &format!("{at}.traceId"))?,
        span_id(&span.span_id, &format!("{at}.spanId"))?,
    );
    let parent_span_id = match span.parent_span_id.is_empty() {
        true => SpanId::INVALID,
        false => parse_hex::<8>(&span.parent_span_id, &format!("{at}.parentSpanId"))
            .map(SpanId::from_bytes)?,
    };
    let state = trace_state(&span.trace_state, &format!("{at}.traceState"))?;
    let span_kind = match span.kind {
        0 | 1 => SpanKind::Internal,
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        n => return Err(format!("{at}.kind: {n} is not a span kind (0 to 5)")),
    };
    let status = span.status.unwrap_or_default();
    let status = match status.code {
        0 => Status::Unset,
        1 => Status::Ok,
        2 => Status::Error {
            description: Cow::Owned(status.message),
        },
        n => {
            return Err(format!(
                "{at}.status.code: {n} is not a status code (0 to 2)"
            ))
        }
    };
    let mut events = Vec::with_capacity(span.events.len());
    for (i, e) in span.events.into_iter().enumerate() {
        let attributes = key_values(e.attributes, &format!("{at}.events[{i}]"))?;
        let mut event = Event::new(e.name, time(e.time_unix_nano), attributes, 0);
        event.dropped_attributes_count = e.dropped_attributes_count;
        events.push(event);
    }
    let mut links = Vec::with_capacity(span.links.len());
    for (i, l) in span.links.into_iter().enumerate() {
        let at = format!("{at}.links[{i}]");
        let context = SpanContext::new(
            trace_id(&l.trace_id, &format!("{at}.traceId"))?,
            span_id(&l.span_id, &format!("{at}.spanId"))?,
            TraceFlags::new(l.flags as u8),
            is_remote(l.flags),
            trace_state(&l.trace_state, &format!("{at}.traceState"))?,
        );
        links.push(Link::new(
            context,
            key_values(l.attributes, &at)?,
            l.dropped_attributes_count,
        ));
    }
    Ok(SpanData {
        span_context: SpanContext::new(id.0, id.1, TraceFlags::new(span.flags as u8), false, state),
        parent_span_id,
        parent_span_is_remote: is_remote(span.flags),
        span_kind,
        name: Cow::Owned(span.name),
        start_time: time(span.start_time_unix_nano),
        end_time: time(span.end_time_unix_nano),
        attributes: key_values(span.attributes, at)?,
        dropped_attributes_count: span.dropped_attributes_count,
        events: span_events(events, span.dropped_events_count),
        links: span_links(links, span.dropped_links_count),
        status,
        instrumentation_scope: scope.clone(),
    })
}

fn span_events(events: Vec<Event>, dropped_count: u32) -> SpanEvents {
    let mut all = SpanEvents::default();
    all.events = events;
    all.dropped_count = dropped_count;
    all
}

fn span_links(links: Vec<Link>, dropped_count: u32) -> SpanLinks {
    let mut all = SpanLinks::default();
    all.links = links;
    all.dropped_count = dropped_count;
    all
}

/// The `is_remote` bit of OTLP's flags, when its "has is_remote" bit says it
/// is set.
fn is_remote(flags: u32) -> bool {
    flags & CONTEXT_HAS_IS_REMOTE != 0 && flags & CONTEXT_IS_REMOTE != 0
}

pub(super) fn time(nanos: U64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos.0)
}

fn parse_hex<const N: usize>(text: &str, at: &str) -> Result<[u8; N], String> {
    let wrong = || {
        format!(
            "{at}: expected {} hex digits, found \"{}\"",
            2 * N,
            shorten_untrusted(text, QUOTED)
        )
    };
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return Err(wrong());
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).ok_or_else(wrong)?;
        let lo = (pair[1] as char).to_digit(16).ok_or_else(wrong)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Ok(out)
}

pub(super) fn trace_id(text: &str, at: &str) -> Result<TraceId, String> {
    let id = TraceId::from_bytes(parse_hex::<16>(text, at)?);
    match id == TraceId::INVALID {
        true => Err(format!("{at}: the all-zero trace id is not a valid one")),
        false => Ok(id),
    }
}

pub(super) fn span_id(text: &str, at: &str) -> Result<SpanId, String> {
    let id = SpanId::from_bytes(parse_hex::<8>(text, at)?);
    match id == SpanId::INVALID {
        true => Err(format!("{at}: the all-zero span id is not a valid one")),
        false => Ok(id),
    }
}

fn trace_state(text: &str, at: &str) -> Result<TraceState, String> {
    TraceState::from_str(text).map_err(|e| {
        format!(
            "{at}: \"{}\" is not a W3C tracestate ({e})",
            shorten_untrusted(text, QUOTED)
        )
    })
}

pub(super) fn key_values(kvs: Vec<KeyValueJson>, at: &str) -> Result<Vec<KeyValue>, String> {
    kvs.into_iter()
        .enumerate()
        .map(|(i, kv)| {
            let value = value(kv.value.unwrap_or_default())
                .map_err(|e| format!("{at}.attributes[{i}].value: {e}"))?;
            Ok(KeyValue::new(kv.key, value))
        })
        .collect()
}

/// An `AnyValue` as the SDK's `Value`: exactly one of its fields (none: an
/// empty string).
pub(super) fn value(v: AnyValueJson) -> Result<Value, String> {
    let set = [
        v.string_value.is_some(),
        v.bool_value.is_some(),
        v.int_value.is_some(),
        v.double_value.is_some(),
        v.array_value.is_some(),
        v.kvlist_value.is_some(),
        v.bytes_value.is_some(),
    ];
    if set.iter().filter(|&&s| s).count() > 1 {
        return Err("more than one value in one AnyValue".into());
    }
    Ok(if let Some(s) = v.string_value {
        Value::String(s.into())
    } else if let Some(b) = v.bool_value {
        Value::Bool(b)
    } else if let Some(n) = v.int_value {
        Value::I64(n.0)
    } else if let Some(f) = v.double_value {
        Value::F64(f.0)
    } else if let Some(array) = v.array_value {
        array_value(array.values)?
    } else if let Some(map) = v.kvlist_value {
        Value::String(map.to_string().into())
    } else if let Some(bytes) = v.bytes_value {
        Value::String(bytes.into())
    } else {
        Value::String("".into())
    })
}

/// An array of one type as the SDK's typed array; mixed or nested ones as
/// their JSON text (the SDK has no such arrays). An empty one has no type in
/// OTLP: it reads as an empty array of strings.
fn array_value(values: Vec<AnyValueJson>) -> Result<Value, String> {
    let values = values
        .into_iter()
        .map(value)
        .collect::<Result<Vec<_>, _>>()?;
    macro_rules! all {
        ($variant:ident) => {
            values
                .iter()
                .map(|v| match v {
                    Value::$variant(x) => Some(x.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
        };
    }
    if let Some(v) = all!(String) {
        return Ok(Value::Array(Array::String(v)));
    }
    if let Some(v) = all!(I64) {
        return Ok(Value::Array(Array::I64(v)));
    }
    if let Some(v) = all!(F64) {
        return Ok(Value::Array(Array::F64(v)));
    }
    if let Some(v) = all!(Bool) {
        return Ok(Value::Array(Array::Bool(v)));
    }
    let texts: Vec<String> = values.iter().map(Value::to_string).collect();
    Ok(Value::String(StringValue::from(
        serde_json::Value::from(texts).to_string(),
    )))
}
