//! A picture of traces: one self-contained HTML page with a waterfall per
//! trace ([`waterfall_html`] says what it shows). Pure: batches in, a page
//! out; the binary `trace-waterfall` reads a file and writes the page, and
//! `tests/waterfall_browser.rs` checks the layout in Chromium.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, Key, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::Batch;

/// How many spans a page draws at most (the first traces, earliest first).
const MAX_SPANS_PER_PAGE: usize = 10_000;
/// How many spans of one trace a page draws at most (the first rows).
const MAX_SPANS_PER_TRACE: usize = 1_000;
/// How many attributes, events and links of one span the details list.
const MAX_ITEMS: usize = 64;
/// How many characters of one text (a name, a value) the page shows.
const MAX_TEXT_CHARS: usize = 512;
/// Indentation stops growing below this depth (`data-depth` goes on).
const MAX_INDENT_DEPTH: usize = 32;
/// Indentation of one level, in CSS pixels.
const INDENT_PX: usize = 14;

// The batch's constructor lives here, beside its first user outside the
// reader, while `mod.rs` is being written: it belongs beside `Batch`.
/// The page of [`WaterfallOptions::render`], and what it holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Waterfall {
    /// The HTML page.
    pub html: String,
    /// The traces drawn (with at least one span).
    pub traces: usize,
    /// The spans drawn.
    pub spans: usize,
    /// The traces left out whole, over the page's bound of 10,000 spans.
    pub traces_left_out: usize,
    /// The spans left out, over the bound of 10,000 a page or 1,000 a trace
    /// (the spans of the traces left out included).
    pub spans_left_out: usize,
    /// The spans not drawn because a span with the same trace and span id came
    /// before them (a file read twice, say).
    pub duplicate_spans: usize,
}

/// What a waterfall page looks like: its title.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WaterfallOptions {
    title: String,
}

impl Default for WaterfallOptions {
    fn default() -> Self {
        WaterfallOptions {
            title: "Traces".to_owned(),
        }
    }
}

impl WaterfallOptions {
    /// The default options: the title `Traces`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The page's title and first heading (shown as text, like everything else).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Draws the spans of `batches` on one page; [`waterfall_html`] says
    /// what it shows and its bounds.
    pub fn render(&self, batches: &[Batch]) -> Waterfall {
        render(
            batches,
            &self.title,
            Limits {
                page: MAX_SPANS_PER_PAGE,
                trace: MAX_SPANS_PER_TRACE,
            },
        )
    }
}

/// The spans of `batches` as one self-contained HTML page with a waterfall
/// per trace, for a person to look at the spans of a file without a backend;
/// [`WaterfallOptions`] sets the title and tells what was drawn.
///
/// The page groups the spans of all batches by trace id. Each trace (earliest
/// first) gets a heading (its root span's name, the trace id, the duration,
/// the span count, the services) and a waterfall: one row per span, depth
/// first, children under their parent by start time, each a bar on the trace's
/// time axis. Services have a colour each (with a legend); a span whose status
/// is an error has a striped red bar and the text `ERROR` with the status
/// description; span events are ticks on the bar. Clicking a row opens its
/// details: kind, ids, status, service, scope, attributes with their types,
/// events, links, the resource.
///
/// What the page promises:
/// - **Self-contained.** Inline CSS, no script, no font, image or link to load;
///   its `Content-Security-Policy` forbids loading anything and running scripts.
/// - **Escaped.** Every text from the spans (names, keys, values, service
///   names, descriptions) is untrusted and shown as text, never as markup.
/// - **Bounded.** At most 10,000 spans a page and 1,000 a trace are drawn (the
///   first in the order above), at most 64 attributes, events and links a span
///   are listed and a text is cut after 512 characters; the page says how many
///   spans were left out, and so does [`Waterfall`].
/// - **Exact.** Times are integer nanoseconds; a bar's position and width are
///   percentages of the trace's duration, computed in integers.
///
/// A span whose parent is not among the spans is drawn as a root of its trace,
/// marked `parent not in file`; a span whose parent chain loops is drawn as a
/// root marked `parent loop`. A span id seen twice in one trace is drawn once.
///
/// # Example
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use distributed_tracing::opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
/// use distributed_tracing::opentelemetry::{InstrumentationScope, KeyValue};
/// use distributed_tracing::opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
/// use distributed_tracing::opentelemetry_sdk::Resource;
/// use distributed_tracing::otlp_file::{waterfall_html, Batch};
///
/// let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let span = SpanData {
///     span_context: SpanContext::new(
///         TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
///         SpanId::from(0x00f067aa0ba902b7),
///         TraceFlags::SAMPLED,
///         false,
///         TraceState::default(),
///     ),
///     parent_span_id: SpanId::INVALID,
///     parent_span_is_remote: false,
///     span_kind: SpanKind::Server,
///     name: "GET /users/{id}".into(),
///     start_time: start,
///     end_time: start + Duration::from_millis(3),
///     attributes: vec![KeyValue::new("http.response.status_code", 200)],
///     dropped_attributes_count: 0,
///     events: SpanEvents::default(),
///     links: SpanLinks::default(),
///     status: Status::Unset,
///     instrumentation_scope: InstrumentationScope::builder("demo").build(),
/// };
/// let resource = Resource::builder_empty()
///     .with_attributes([KeyValue::new("service.name", "users")])
///     .build();
/// let html = waterfall_html(&[Batch::new(1, resource, vec![span])]);
/// assert!(html.contains(r#"data-trace-id="4bf92f3577b34da6a3ce929d0e0e4736""#));
/// assert!(html.contains("GET /users/{id}"));
/// ```
pub fn waterfall_html(batches: &[Batch]) -> String {
    WaterfallOptions::default().render(batches).html
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    page: usize,
    trace: usize,
}

/// One span with what the page needs beside it.
struct Span<'a> {
    data: &'a SpanData,
    batch: &'a Batch,
    /// Index of its service in the page's service list.
    service: usize,
    /// Nanoseconds since the Unix epoch (0 before it).
    start: u128,
    /// Never before `start`.
    end: u128,
}

impl Span<'_> {
    fn order_key(&self) -> (u128, [u8; 8]) {
        (self.start, self.data.span_context.span_id().to_bytes())
    }
}

/// How a row's span hangs in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    /// A root: it has no parent.
    None,
    /// Its parent is the row it is drawn under.
    Drawn,
    /// Its parent is not among the spans.
    NotInFile,
    /// Its parent is among the spans but its chain of parents loops.
    Loop,
}

struct Row {
    span: usize,
    depth: usize,
    parent: Parent,
}

struct Trace<'a> {
    id: TraceId,
    spans: Vec<Span<'a>>,
    start: u128,
    end: u128,
    /// Every span, depth first.
    rows: Vec<Row>,
    /// How many of `rows` the page draws.
    drawn: usize,
}

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn service_name(resource: &Resource) -> String {
    match resource.get_ref(&Key::from_static_str("service.name")) {
        Some(v) => v.as_str().into_owned(),
        None => "(no service.name)".to_owned(),
    }
}

fn render(batches: &[Batch], title: &str, limits: Limits) -> Waterfall {
    // Services, by name, for stable colours.
    let mut services: Vec<String> = batches
        .iter()
        .filter(|b| !b.spans.is_empty())
        .map(|b| service_name(&b.resource))
        .collect();
    services.sort();
    services.dedup();
    let service_index: HashMap<&str, usize> = services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();

    // Spans by trace, the first of each (trace id, span id) only.
    let mut seen = HashSet::new();
    let mut duplicate_spans = 0;
    let mut by_trace: HashMap<TraceId, Vec<Span<'_>>> = HashMap::new();
    for batch in batches.iter().filter(|b| !b.spans.is_empty()) {
        let service = service_index[service_name(&batch.resource).as_str()];
        for data in &batch.spans {
            let ctx = &data.span_context;
            if !seen.insert((ctx.trace_id(), ctx.span_id())) {
                duplicate_spans += 1;
                continue;
            }
            let start = nanos(data.start_time);
            by_trace.entry(ctx.trace_id()).or_default().push(Span {
                data,
                batch,
                service,
                start,
                end: nanos(data.end_time).max(start),
            });
        }
    }

    let mut traces: Vec<Trace<'_>> = by_trace
        .into_iter()
        .map(|(id, spans)| {
            let start = spans.iter().map(|s| s.start).min().unwrap_or(0);
            let end = spans.iter().map(|s| s.end).max().unwrap_or(0);
            let rows = tree(&spans);
            Trace {
                id,
                spans,
                start,
                end,
                rows,
                drawn: 0,
            }
        })
        .collect();
    traces.sort_by_key(|t| (t.start, t.id.to_bytes()));

    let mut room = limits.page;
    let (mut drawn_traces, mut drawn_spans) = (0, 0);
    let (mut traces_left_out, mut spans_left_out) = (0, 0);
    for trace in &mut traces {
        trace.drawn = trace.rows.len().min(limits.trace).min(room);
        room -= trace.drawn;
        spans_left_out += trace.rows.len() - trace.drawn;
        if trace.drawn == 0 {
            traces_left_out += 1;
        } else {
            drawn_traces += 1;
            drawn_spans += trace.drawn;
        }
    }

    let page = Page {
        title,
        services: &services,
        traces: &traces,
        limits,
        drawn_traces,
        drawn_spans,
        traces_left_out,
        spans_left_out,
        duplicate_spans,
    };
    let mut html = String::new();
    page.write(&mut html)
        .expect("writing to a String never fails");
    Waterfall {
        html,
        traces: drawn_traces,
        spans: drawn_spans,
        traces_left_out,
        spans_left_out,
        duplicate_spans,
    }
}

/// The rows of one trace: roots (and spans whose parent is not in the trace)
/// by start time, each followed by its children, depth first, siblings by
/// start time (then span id). Every span is a row exactly once; spans on a
/// loop of parents, reached from no root, start trees of their own.
fn tree(spans: &[Span<'_>]) -> Vec<Row> {
    let index: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.data.span_context.span_id(), i))
        .collect();
    let mut children = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        let parent = s.data.parent_span_id;
        match index.get(&parent) {
            _ if parent == SpanId::INVALID => roots.push((i, Parent::None)),
            Some(&p) if p != i => children[p].push(i),
            // Its own parent: a loop of one, drawn with the other loops below.
            Some(_) => {}
            None => roots.push((i, Parent::NotInFile)),
        }
    }
    let key = |i: &usize| spans[*i].order_key();
    for c in &mut children {
        c.sort_by_key(key);
    }
    roots.sort_by_key(|(i, _)| key(i));

    let mut rows = Vec::with_capacity(spans.len());
    let mut done = vec![false; spans.len()];
    // Iterative: a chain of parents as long as the trace must not overflow the stack.
    let mut visit = |root: usize, parent: Parent, rows: &mut Vec<Row>| {
        let mut stack = vec![(root, 0, parent)];
        while let Some((span, depth, parent)) = stack.pop() {
            if std::mem::replace(&mut done[span], true) {
                continue;
            }
            rows.push(Row {
                span,
                depth,
                parent,
            });
            for &c in children[span].iter().rev() {
                stack.push((c, depth + 1, Parent::Drawn));
            }
        }
    };
    for (i, parent) in roots {
        visit(i, parent, &mut rows);
    }
    if rows.len() < spans.len() {
        let mut rest: Vec<usize> = (0..spans.len()).collect();
        rest.sort_by_key(key);
        for i in rest {
            visit(i, Parent::Loop, &mut rows);
        }
    }
    rows
}

struct Page<'a> {
    title: &'a str,
    services: &'a [String],
    traces: &'a [Trace<'a>],
    limits: Limits,
    drawn_traces: usize,
    drawn_spans: usize,
    traces_left_out: usize,
    spans_left_out: usize,
    duplicate_spans: usize,
}

/// The page's policy: nothing to load, no script to run.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Colours of the first services (no red: red means an error).
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#8c8c8c",
];

const STYLE: &str = "
body{font:13px/1.35 'DejaVu Sans',Verdana,sans-serif;margin:16px;color:#1d1d1d;background:#fff}
h1{font-size:20px;margin:0 0 4px}
h2{font-size:16px;margin:0}
code,.mono{font-family:'DejaVu Sans Mono',monospace;font-size:12px}
.summary{margin:2px 0}
.note{margin:2px 0;color:#8a4b00}
.legend{list-style:none;padding:0;margin:8px 0 12px;display:flex;flex-wrap:wrap;gap:4px 16px}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:14px;height:10px;border-radius:2px}
.trace{border-top:1px solid #ccc;padding:10px 0 14px}
.meta{margin:2px 0 6px;color:#444}
.row,.axis{display:grid;grid-template-columns:380px 1fr 86px;column-gap:10px;align-items:center}
.axis{height:18px;color:#666;font-size:11px}
.axis .track{height:18px;border-bottom:1px solid #bbb}
.axis .at{position:absolute;bottom:0;height:5px;border-left:1px solid #999}
.axis .at span{position:absolute;bottom:5px;left:3px;white-space:nowrap}
details.span>summary{list-style:none;cursor:pointer}
details.span>summary::-webkit-details-marker{display:none}
.row{height:22px}
.row:hover{background:#f2f5f9}
.label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;box-sizing:border-box}
.caret{display:inline-block;width:12px;color:#888}
.caret::before{content:'\\25B8'}
details[open]>summary .caret::before{content:'\\25BE'}
.dot{display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:5px}
.err-mark{color:#b71c1c;font-weight:bold;margin-left:6px}
.orphan-mark{color:#8a4b00;font-style:italic;margin-left:6px}
.track{position:relative;height:22px}
summary .track{background:repeating-linear-gradient(to right,#e6e6e6 0 1px,transparent 1px var(--step))}
.bar{position:absolute;top:5px;height:12px;min-width:1px;border-radius:2px}
.bar.error,.swatch.error{background:repeating-linear-gradient(135deg,#c62828 0 3px,#ef9a9a 3px 6px);outline:1px solid #b71c1c}
.tick{position:absolute;top:-3px;bottom:-3px;width:2px;margin-left:-1px;background:#1d1d1d}
.dur{text-align:right;color:#444;font-variant-numeric:tabular-nums}
.info{margin:2px 0 8px 24px;padding:6px 10px;background:#f7f7f7;border-left:3px solid #ccc;font-size:12px;overflow-x:auto}
.info dl{display:grid;grid-template-columns:max-content 1fr;gap:1px 12px;margin:0 0 6px}
.info dt{color:#666}
.info dd{margin:0;overflow-wrap:anywhere}
.info table{border-collapse:collapse;margin:4px 0 6px}
.info caption{text-align:left;font-weight:bold;padding:2px 0}
.info th,.info td{text-align:left;vertical-align:top;padding:1px 10px 1px 0;overflow-wrap:anywhere}
.info th{color:#666;font-weight:normal}
.type{color:#7a5c00}
.more{color:#8a4b00}
";

impl Page<'_> {
    fn write(&self, out: &mut String) -> fmt::Result {
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        writeln!(
            out,
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        )?;
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str("<title>");
        text(out, self.title);
        out.push_str("</title>\n<style>");
        out.push_str(STYLE);
        for i in 0..self.services.len() {
            let colour = colour(i);
            writeln!(out, ".s{i}{{background:{colour}}}")?;
        }
        out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>");
        text(out, self.title);
        out.push_str("</h1>\n");
        writeln!(
            out,
            "<p class=\"summary\">{} drawn, of {}.</p>",
            count(self.drawn_spans, "span"),
            count(self.drawn_traces, "trace"),
        )?;
        if self.spans_left_out > 0 {
            write!(
                out,
                "<p class=\"note\">{} left out: a page draws at most {} and a trace at most {}",
                count(self.spans_left_out, "span"),
                count(self.limits.page, "span"),
                thousands(self.limits.trace),
            )?;
            if self.traces_left_out > 0 {
                write!(
                    out,
                    " ({} left out whole)",
                    count(self.traces_left_out, "trace")
                )?;
            }
            out.push_str(".</p>\n");
        }
        if self.duplicate_spans > 0 {
            writeln!(
                out,
                "<p class=\"note\">{} not drawn: the same trace and span id came before.</p>",
                count(self.duplicate_spans, "span"),
            )?;
        }
        out.push_str("<ul class=\"legend\">\n");
        for (i, service) in self.services.iter().enumerate() {
            write!(out, "<li><span class=\"swatch s{i}\"></span>")?;
            text(out, service);
            out.push_str("</li>\n");
        }
        out.push_str(
            "<li><span class=\"swatch error\"></span>ERROR: the span's status is an error</li>\n\
             <li><span class=\"swatch s-tick\" style=\"width:2px;height:14px;background:#1d1d1d\"></span>a span event</li>\n\
             </ul>\n</header>\n<main>\n",
        );
        for trace in self.traces.iter().filter(|t| t.drawn > 0) {
            self.write_trace(out, trace)?;
        }
        out.push_str("</main>\n</body>\n</html>\n");
        Ok(())
    }

    fn write_trace(&self, out: &mut String, trace: &Trace<'_>) -> fmt::Result {
        let duration = trace.end - trace.start;
        let step = axis_step(duration);
        // The axis' step, for the grid lines behind the bars.
        writeln!(
            out,
            "<section class=\"trace\" data-trace-id=\"{:032x}\" style=\"--step:{}\">",
            trace.id,
            percent(step, duration.max(1)),
        )?;
        let first = &trace.rows[0];
        out.push_str("<h2>");
        text(out, &trace.spans[first.span].data.name);
        if first.parent != Parent::None {
            out.push_str(" <span class=\"orphan-mark\">(its root span is not in the file)</span>");
        }
        out.push_str("</h2>\n<p class=\"meta\">");
        write!(
            out,
            "trace <code>{:032x}</code> · {} · {}",
            trace.id,
            fmt_duration(duration),
            count(trace.spans.len(), "span"),
        )?;
        if trace.drawn < trace.rows.len() {
            write!(
                out,
                " <span class=\"note\">({} drawn, {} left out)</span>",
                thousands(trace.drawn),
                thousands(trace.rows.len() - trace.drawn)
            )?;
        }
        out.push_str(" · ");
        let mut services: Vec<usize> = Vec::new();
        for row in &trace.rows[..trace.drawn] {
            let s = trace.spans[row.span].service;
            if !services.contains(&s) {
                services.push(s);
            }
        }
        for (n, s) in services.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            write!(out, "<span class=\"dot s{s}\"></span>")?;
            text(out, &self.services[*s]);
        }
        out.push_str("</p>\n");

        // The time axis: a few round steps, in milliseconds.
        out.push_str("<div class=\"axis\"><span></span><span class=\"track\">");
        let mut at = 0;
        loop {
            write!(
                out,
                "<span class=\"at\" style=\"left:{}\"><span>{} ms</span></span>",
                percent(at, duration),
                fmt_ms(at)
            )?;
            at += step;
            if at > duration {
                break;
            }
        }
        out.push_str("</span><span></span></div>\n");

        for row in &trace.rows[..trace.drawn] {
            self.write_row(out, trace, row)?;
        }
        out.push_str("</section>\n");
        Ok(())
    }

    fn write_row(&self, out: &mut String, trace: &Trace<'_>, row: &Row) -> fmt::Result {
        let span = &trace.spans[row.span];
        let data = span.data;
        let duration = trace.end - trace.start;
        let (offset, length) = (span.start - trace.start, span.end - span.start);
        let error = match &data.status {
            Status::Error { description } => Some(description),
            _ => None,
        };
        let parent_id = if data.parent_span_id == SpanId::INVALID {
            String::new()
        } else {
            format!("{:016x}", data.parent_span_id)
        };
        let indent = row.depth.min(MAX_INDENT_DEPTH) * INDENT_PX;

        out.push_str("<details class=\"span\"><summary class=\"row\">");
        write!(
            out,
            "<span class=\"label\" style=\"padding-left:{indent}px\" title=\""
        )?;
        text(out, &data.name);
        if let Some(description) = error {
            out.push_str(" (ERROR: ");
            text(out, description);
            out.push(')');
        }
        write!(
            out,
            "\"><span class=\"caret\"></span><span class=\"dot s{}\"></span><span class=\"name\">",
            span.service
        )?;
        text(out, &data.name);
        out.push_str("</span>");
        if let Some(description) = error {
            out.push_str("<span class=\"err-mark\">ERROR");
            if !description.is_empty() {
                out.push_str(": ");
                text(out, description);
            }
            out.push_str("</span>");
        }
        match row.parent {
            Parent::NotInFile => {
                out.push_str("<span class=\"orphan-mark\">parent not in file</span>")
            }
            Parent::Loop => out.push_str("<span class=\"orphan-mark\">parent loop</span>"),
            Parent::None | Parent::Drawn => {}
        }
        out.push_str("</span><span class=\"track\">");
        write!(
            out,
            "<span class=\"bar s{}{}\" data-span-id=\"{:016x}\" data-parent-id=\"{parent_id}\" \
             data-depth=\"{}\" data-start-ns=\"{offset}\" data-duration-ns=\"{length}\" \
             style=\"left:{};width:{}\">",
            span.service,
            if error.is_some() { " error" } else { "" },
            data.span_context.span_id(),
            row.depth,
            percent(offset, duration),
            percent(length, duration),
        )?;
        for event in data.events.iter().take(MAX_ITEMS) {
            let at = nanos(event.timestamp).clamp(span.start, span.end);
            write!(
                out,
                "<span class=\"tick\" data-offset-ns=\"{}\" style=\"left:{}\" title=\"",
                at - trace.start,
                percent(at - span.start, length),
            )?;
            text(out, &event.name);
            write!(out, " at {} ms", fmt_ms(at - trace.start))?;
            out.push_str("\"></span>");
        }
        writeln!(
            out,
            "</span></span><span class=\"dur\">{}</span></summary>",
            fmt_duration(length)
        )?;
        self.write_info(out, trace, span, row)?;
        out.push_str("</details>\n");
        Ok(())
    }

    fn write_info(
        &self,
        out: &mut String,
        trace: &Trace<'_>,
        span: &Span<'_>,
        row: &Row,
    ) -> fmt::Result {
        let data = span.data;
        let ctx = &data.span_context;
        write!(
            out,
            "<div class=\"info\" style=\"border-left-color:{}\"><dl>",
            colour(span.service)
        )?;
        let kind = match data.span_kind {
            SpanKind::Client => "client",
            SpanKind::Server => "server",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
            SpanKind::Internal => "internal",
        };
        write!(out, "<dt>kind</dt><dd>{kind}</dd><dt>service</dt><dd>")?;
        text(out, &self.services[span.service]);
        out.push_str("</dd><dt>status</dt><dd>");
        match &data.status {
            Status::Unset => out.push_str("unset"),
            Status::Ok => out.push_str("ok"),
            Status::Error { description } => {
                out.push_str("<span class=\"err-mark\" style=\"margin:0\">ERROR</span> ");
                text(out, description);
            }
        }
        write!(
            out,
            "</dd><dt>trace id</dt><dd><code>{:032x}</code></dd>\
             <dt>span id</dt><dd><code>{:016x}</code></dd><dt>parent id</dt><dd>",
            ctx.trace_id(),
            ctx.span_id()
        )?;
        if data.parent_span_id == SpanId::INVALID {
            out.push_str("none (a root)");
        } else {
            write!(out, "<code>{:016x}</code>", data.parent_span_id)?;
            if data.parent_span_is_remote {
                out.push_str(" (remote)");
            }
            match row.parent {
                Parent::NotInFile => out.push_str(" (not in file)"),
                Parent::Loop => out.push_str(" (its chain of parents loops)"),
                Parent::None | Parent::Drawn => {}
            }
        }
        write!(
            out,
            "</dd><dt>start</dt><dd>{} (at {} ms in the trace)</dd>\
             <dt>duration</dt><dd>{}</dd><dt>scope</dt><dd>",
            utc(span.start),
            fmt_ms(span.start - trace.start),
            fmt_duration(span.end - span.start),
        )?;
        let scope = &data.instrumentation_scope;
        text(out, scope.name());
        if let Some(version) = scope.version() {
            out.push(' ');
            text(out, version);
        }
        write!(
            out,
            "</dd><dt>line in the file</dt><dd>{}</dd></dl>",
            span.batch.line
        )?;

        attribute_table(
            out,
            "attributes",
            &data.attributes,
            data.dropped_attributes_count,
        )?;

        if !data.events.is_empty() {
            out.push_str("<table><caption>events</caption><tr><th>at (ms)</th><th>name</th><th>attributes</th></tr>");
            for event in data.events.iter().take(MAX_ITEMS) {
                let at = nanos(event.timestamp);
                let at = if at >= trace.start {
                    fmt_ms(at - trace.start)
                } else {
                    format!("-{}", fmt_ms(trace.start - at))
                };
                write!(out, "<tr><td>{at}</td><td>")?;
                text(out, &event.name);
                out.push_str("</td><td>");
                inline_attributes(out, &event.attributes)?;
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
            more(
                out,
                data.events.len().saturating_sub(MAX_ITEMS) + data.events.dropped_count as usize,
                "event",
            )?;
        }
        if !data.links.is_empty() {
            out.push_str("<table><caption>links</caption><tr><th>trace id</th><th>span id</th><th>attributes</th></tr>");
            for link in data.links.iter().take(MAX_ITEMS) {
                write!(
                    out,
                    "<tr><td><code>{:032x}</code></td><td><code>{:016x}</code></td><td>",
                    link.span_context.trace_id(),
                    link.span_context.span_id()
                )?;
                inline_attributes(out, &link.attributes)?;
                out.push_str("</td></tr>");
            }
            out.push_str("</table>");
            more(
                out,
                data.links.len().saturating_sub(MAX_ITEMS) + data.links.dropped_count as usize,
                "link",
            )?;
        }
        let mut resource: Vec<KeyValue> = span
            .batch
            .resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        // A resource keeps no order: by key, for a page that a rerun reproduces.
        resource.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        attribute_table(out, "resource", &resource, 0)?;
        out.push_str("</div>");
        Ok(())
    }
}

fn attribute_table(
    out: &mut String,
    caption: &str,
    attributes: &[KeyValue],
    dropped: u32,
) -> fmt::Result {
    if !attributes.is_empty() {
        write!(
            out,
            "<table><caption>{caption}</caption><tr><th>key</th><th>type</th><th>value</th></tr>"
        )?;
        for kv in attributes.iter().take(MAX_ITEMS) {
            out.push_str("<tr><td>");
            text(out, kv.key.as_str());
            write!(
                out,
                "</td><td class=\"type\">{}</td><td>",
                type_name(&kv.value)
            )?;
            text(out, &kv.value.as_str());
            out.push_str("</td></tr>");
        }
        out.push_str("</table>");
    }
    more(
        out,
        attributes.len().saturating_sub(MAX_ITEMS) + dropped as usize,
        caption.trim_end_matches('s'),
    )
}

fn inline_attributes(out: &mut String, attributes: &[KeyValue]) -> fmt::Result {
    for (i, kv) in attributes.iter().take(MAX_ITEMS).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        text(out, kv.key.as_str());
        out.push('=');
        text(out, &kv.value.as_str());
        write!(
            out,
            " <span class=\"type\">({})</span>",
            type_name(&kv.value)
        )?;
    }
    more(out, attributes.len().saturating_sub(MAX_ITEMS), "attribute")
}

fn more(out: &mut String, n: usize, what: &str) -> fmt::Result {
    if n > 0 {
        write!(
            out,
            "<div class=\"more\">{} more not shown</div>",
            count(n, what)
        )?;
    }
    Ok(())
}

/// The OTLP name of a value's type.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::I64(_) => "int",
        Value::F64(_) => "double",
        Value::String(_) => "string",
        Value::Array(Array::Bool(_)) => "bool[]",
        Value::Array(Array::I64(_)) => "int[]",
        Value::Array(Array::F64(_)) => "double[]",
        Value::Array(Array::String(_)) => "string[]",
        Value::Array(_) => "array",
        _ => "value",
    }
}

/// `s` as HTML text (also fit for a quoted attribute value), its first
/// [`MAX_TEXT_CHARS`] characters, then how many more there were.
fn text(out: &mut String, s: &str) {
    let mut chars = s.chars();
    for c in chars.by_ref().take(MAX_TEXT_CHARS) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            // Control characters would be parse errors, and bidirectional
            // controls reorder what a reader sees: shown as U+FFFD.
            c if crate::untrusted::is_untrusted(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    let rest = chars.count();
    if rest > 0 {
        let _ = write!(out, "… ({rest} more characters)");
    }
}

/// `n` with thousands separated, as the docs write the bounds (`10,000`).
fn thousands(n: usize) -> String {
    let mut digits = n.to_string();
    let mut i = digits.len();
    while i > 3 {
        i -= 3;
        digits.insert(i, ',');
    }
    digits
}

/// `1 span`, `2 spans`, `10,000 spans`.
fn count(n: usize, what: &str) -> String {
    let digits = thousands(n);
    if n == 1 {
        format!("{digits} {what}")
    } else {
        format!("{digits} {what}s")
    }
}

fn colour(service: usize) -> String {
    match PALETTE.get(service) {
        Some(c) => (*c).to_owned(),
        // Beyond the palette: hues away from red, spread by a step coprime to 300.
        None => format!("hsl({},45%,52%)", 30 + (service * 67) % 300),
    }
}

/// `part / whole` as a CSS percentage with six decimals, in integers.
fn percent(part: u128, whole: u128) -> String {
    if whole == 0 {
        return "0%".to_owned();
    }
    let scaled = part.min(whole) * 100_000_000 / whole;
    format!("{}.{:06}%", scaled / 1_000_000, scaled % 1_000_000)
}

/// Nanoseconds as milliseconds, without trailing zeros (`1.5`, `0.000123`).
fn fmt_ms(ns: u128) -> String {
    let (ms, frac) = (ns / 1_000_000, ns % 1_000_000);
    if frac == 0 {
        return ms.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{ms}.{}", frac.trim_end_matches('0'))
}

/// A duration for a person: `12.345 ms`, `7.2 µs`, `815 ns`, `3.250 s`.
fn fmt_duration(ns: u128) -> String {
    if ns >= 1_000_000_000 {
        format!(
            "{}.{:03} s",
            ns / 1_000_000_000,
            ns % 1_000_000_000 / 1_000_000
        )
    } else if ns >= 1_000_000 {
        format!("{}.{:03} ms", ns / 1_000_000, ns % 1_000_000 / 1_000)
    } else if ns >= 1_000 {
        format!("{}.{} µs", ns / 1_000, ns % 1_000 / 100)
    } else {
        format!("{ns} ns")
    }
}

/// The axis' step: the smallest 1, 2 or 5 times a power of ten nanoseconds
/// that cuts `duration` in at most five.
fn axis_step(duration: u128) -> u128 {
    let target = duration.div_ceil(5).max(1);
    let mut power = 1u128;
    loop {
        for m in [1, 2, 5] {
            if m * power >= target {
                return m * power;
            }
        }
        power *= 10;
    }
}

/// Nanoseconds since the Unix epoch as an RFC 3339 UTC time.
fn utc(ns: u128) -> String {
    let secs = ns / 1_000_000_000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 4);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    const T0: u64 = 1_700_000_000_000_000_000;

    fn at(ns: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(T0 + ns)
    }

    /// A span of trace `trace`, from `start` to `end` nanoseconds after `T0`.
    fn span(trace: u128, id: u64, parent: u64, name: &str, start: u64, end: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.to_owned().into(),
            start_time: at(start),
            end_time: at(end),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    fn batch(service: &str, spans: Vec<SpanData>) -> Batch {
        let resource = Resource::builder_empty()
            .with_attributes([KeyValue::new("service.name", service.to_owned())])
            .build();
        Batch::new(1, resource, spans)
    }

    /// The values of `attribute` on the bars, in page order.
    fn bars(html: &str, attribute: &str) -> Vec<String> {
        html.split("<span class=\"bar ")
            .skip(1)
            .map(|bar| {
                let from =
                    bar.find(&format!(" {attribute}=\"")).expect(attribute) + attribute.len() + 3;
                bar[from..from + bar[from..].find('"').unwrap()].to_owned()
            })
            .collect()
    }

    fn render_with(batches: &[Batch], page: usize, trace: usize) -> Waterfall {
        render(batches, "t", Limits { page, trace })
    }

    #[test]
    fn rows_are_depth_first_children_by_start_orphans_and_loops_as_roots() {
        let spans = vec![
            span(1, 0xb, 0xa, "b", 20, 60),
            span(1, 0xa, 0, "a", 0, 100),
            span(1, 0xc, 0xa, "c", 10, 30),
            span(1, 0xd, 0xb, "d", 25, 40),
            span(1, 0xe, 0x99, "e (orphan)", 5, 8),
            span(1, 0xf, 0x10, "f (loop)", 70, 80),
            span(1, 0x10, 0xf, "g (loop)", 75, 90),
            span(1, 0x11, 0x11, "h (own parent)", 95, 96),
        ];
        let page = render_with(&[batch("svc", spans)], 100, 100);
        let html = &page.html;
        #[rustfmt::skip]
        let expected = [
            ("000000000000000a", "0", ""),                 // the root
            ("000000000000000c", "1", "000000000000000a"), // a's first child by start
            ("000000000000000b", "1", "000000000000000a"),
            ("000000000000000d", "2", "000000000000000b"),
            ("000000000000000e", "0", "0000000000000099"), // parent not in file: a root
            ("000000000000000f", "0", "0000000000000010"), // a loop: its earliest span starts it
            ("0000000000000010", "1", "000000000000000f"),
            ("0000000000000011", "0", "0000000000000011"), // its own parent
        ];
        let ids = bars(html, "data-span-id");
        let depths = bars(html, "data-depth");
        let parents = bars(html, "data-parent-id");
        for (i, (id, depth, parent)) in expected.iter().enumerate() {
            assert_eq!(
                (&*ids[i], &*depths[i], &*parents[i]),
                (*id, *depth, *parent),
                "row {i}"
            );
        }
        assert_eq!(ids.len(), expected.len(), "one bar per span");
        assert_eq!(html.matches(">parent not in file<").count(), 1);
        assert_eq!(html.matches(">parent loop<").count(), 2);
        assert_eq!((page.spans, page.traces, page.spans_left_out), (8, 1, 0));
    }

    #[test]
    fn bars_are_integer_percentages_of_the_trace() {
        let mut spans = vec![
            span(1, 1, 0, "root", 0, 3_000_000),
            span(1, 2, 1, "child", 1_000_000, 2_000_000),
            span(1, 3, 1, "instant", 3_000_000, 3_000_000),
            span(1, 4, 1, "ends before it starts", 1_500_000, 1_000_000),
        ];
        spans[1]
            .events
            .events
            .push(Event::new("half way", at(1_500_000), vec![], 0));
        spans[1]
            .events
            .events
            .push(Event::new("after the end", at(9_000_000), vec![], 0));
        let html = waterfall_html(&[batch("svc", spans)]);
        #[rustfmt::skip]
        let expected = [
            ("0", "3000000", "left:0.000000%;width:100.000000%"),
            ("1000000", "1000000", "left:33.333333%;width:33.333333%"),
            ("1500000", "0", "left:50.000000%;width:0.000000%"),
            ("3000000", "0", "left:100.000000%;width:0.000000%"),
        ];
        let starts = bars(&html, "data-start-ns");
        let durations = bars(&html, "data-duration-ns");
        let styles = bars(&html, "style");
        for (i, (start, duration, style)) in expected.iter().enumerate() {
            assert_eq!(
                (&*starts[i], &*durations[i], &*styles[i]),
                (*start, *duration, *style),
                "bar {i}"
            );
        }
        // Ticks at their time on the bar, clamped to it; the title says when.
        assert!(html.contains(r#"<span class="tick" data-offset-ns="1500000" style="left:50.000000%" title="half way at 1.5 ms">"#), "{html}");
        assert!(html.contains(r#"<span class="tick" data-offset-ns="2000000" style="left:100.000000%" title="after the end at 2 ms">"#), "{html}");
        // The axis: 0 to 3 ms in steps of 1 ms.
        for label in ["0 ms", "1 ms", "2 ms", "3 ms"] {
            assert!(html.contains(&format!("<span>{label}</span>")), "{label}");
        }
        assert!(!html.contains("<span>4 ms</span>"));
    }

    #[test]
    fn a_trace_of_zero_length_draws_without_dividing_by_zero() {
        let html = waterfall_html(&[batch("svc", vec![span(1, 1, 0, "now", 5, 5)])]);
        assert_eq!(bars(&html, "style"), ["left:0%;width:0%"]);
        assert!(html.contains("<span>0 ms</span>"));
    }

    #[test]
    fn every_text_from_the_spans_is_escaped() {
        let mut s = span(1, 1, 0, "<script>alert(1)</script>", 0, 10);
        s.attributes
            .push(KeyValue::new("bidi", "abc\u{202e}fed\u{1b}[2J"));
        s.attributes.push(KeyValue::new(
            "<b>key</b>",
            "\"><img src=x onerror=alert(2)>",
        ));
        s.status = Status::error("<i>bad</i> & 'worse'");
        s.events.events.push(Event::new(
            "<event>",
            at(5),
            vec![KeyValue::new("k<", "v>")],
            0,
        ));
        let html = WaterfallOptions::new()
            .title("</title><script>alert(3)</script>")
            .render(&[batch("<svc>", vec![s])])
            .html;
        assert!(!html.contains("<script"), "{html}");
        // Bidirectional and control characters reorder or break what is shown.
        assert!(html.contains("abc\u{fffd}fed\u{fffd}[2J"), "{html}");
        assert!(!html.contains('\u{202e}') && !html.contains('\u{1b}'));
        assert!(!html.contains("<img"), "{html}");
        assert!(
            !html.contains("<b>")
                && !html.contains("<i>")
                && !html.contains("<event>")
                && !html.contains("<svc>")
        );
        for shown in [
            "<span class=\"name\">&lt;script&gt;alert(1)&lt;/script&gt;</span>",
            "<td>&lt;b&gt;key&lt;/b&gt;</td>",
            "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;",
            "ERROR: &lt;i&gt;bad&lt;/i&gt; &amp; &#39;worse&#39;",
            "title=\"&lt;event&gt; at 0.000005 ms\"",
            "k&lt;=v&gt;",
            "</span>&lt;svc&gt;</li>",
            "<title>&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;</title>",
        ] {
            assert!(html.contains(shown), "{shown} in {html}");
        }
    }

    #[test]
    fn the_page_loads_nothing() {
        let mut s = span(1, 1, 0, "GET", 0, 10);
        s.attributes
            .push(KeyValue::new("url.full", "https://example.com/x"));
        let html = waterfall_html(&[batch("svc", vec![s])]);
        for outside in [
            "src=", "href=", "url(", "@import", "<script", "<link", "<img", "<iframe",
        ] {
            assert!(!html.contains(outside), "{outside}");
        }
        assert!(html.contains(&format!("content=\"{CSP}\"")));
        // Its attribute's value is text.
        assert!(html.contains("<td>https://example.com/x</td>"));
    }

    #[test]
    fn errors_are_red_and_said_in_words() {
        let mut failed = span(1, 2, 1, "call", 1, 5);
        failed.status = Status::error("connection refused");
        let mut silent = span(1, 3, 1, "quiet failure", 5, 6);
        silent.status = Status::error("");
        let html = waterfall_html(&[batch(
            "svc",
            vec![span(1, 1, 0, "root", 0, 10), failed, silent],
        )]);
        assert_eq!(bars(&html, "data-span-id").len(), 3);
        assert_eq!(html.matches("<span class=\"bar s0 error\"").count(), 2);
        assert!(html.contains("<span class=\"err-mark\">ERROR: connection refused</span>"));
        assert!(html.contains("<span class=\"err-mark\">ERROR</span>"));
    }

    #[test]
    fn traces_by_start_services_coloured_details_listed() {
        let mut late = span(2, 1, 0, "late", 100, 200);
        late.span_kind = SpanKind::Server;
        late.attributes = vec![
            KeyValue::new("n", 7),
            KeyValue::new("f", 1.5),
            KeyValue::new("b", true),
        ];
        late.links.links.push(Link::with_context(SpanContext::new(
            TraceId::from(9),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )));
        let early_root = span(1, 1, 0, "early", 0, 50);
        let early_child = span(1, 2, 1, "early child", 10, 20);
        let html = waterfall_html(&[
            batch("zeta", vec![late, early_child]),
            batch("alpha", vec![early_root]),
        ]);
        let first = html
            .find("data-trace-id=\"00000000000000000000000000000001\"")
            .unwrap();
        let second = html
            .find("data-trace-id=\"00000000000000000000000000000002\"")
            .unwrap();
        assert!(first < second, "the earlier trace first");
        // Colours by service name: alpha is s0, zeta s1.
        assert!(html.contains("<li><span class=\"swatch s0\"></span>alpha</li>"));
        assert!(html.contains("<li><span class=\"swatch s1\"></span>zeta</li>"));
        assert_eq!(
            bars(&html, "data-span-id")[..2],
            ["0000000000000001", "0000000000000002"]
        );
        assert!(html.contains("<h2>early</h2>"));
        assert!(html.contains("2 spans · <span class=\"dot s0\"></span>alpha, <span class=\"dot s1\"></span>zeta</p>"), "{html}");
        for detail in [
            "<dt>kind</dt><dd>server</dd>",
            "<td>n</td><td class=\"type\">int</td><td>7</td>",
            "<td>f</td><td class=\"type\">double</td><td>1.5</td>",
            "<td>b</td><td class=\"type\">bool</td><td>true</td>",
            "<td><code>00000000000000000000000000000009</code></td><td><code>0000000000000008</code></td>",
            "<td>service.name</td><td class=\"type\">string</td><td>zeta</td>",
            "<dt>start</dt><dd>2023-11-14T22:13:20.000000100Z (at 0 ms in the trace)</dd>",
        ] {
            assert!(html.contains(detail), "{detail}");
        }
    }

    #[test]
    fn bounds_are_kept_and_said() {
        let trace = |t: u128, from: u64| -> Vec<SpanData> {
            let mut spans = vec![span(t, 1, 0, "root", from, from + 100)];
            spans.extend((2..=4).map(|i| span(t, i, 1, "child", from + i, from + 50)));
            spans
        };
        let batches = [
            batch("svc", trace(1, 0)),
            batch("svc", trace(2, 1_000)),
            batch("svc", trace(3, 2_000)),
        ];
        let page = render_with(&batches, 5, 3);
        // Trace 1: 3 of 4 (the trace bound); trace 2: 2 of 4 (the page's); trace 3: none.
        assert_eq!(bars(&page.html, "data-span-id").len(), 5);
        assert_eq!(
            (
                page.spans,
                page.traces,
                page.spans_left_out,
                page.traces_left_out
            ),
            (5, 2, 7, 1)
        );
        assert!(page.html.contains("7 spans left out: a page draws at most 5 spans and a trace at most 3 (1 trace left out whole)."), "{}", page.html);
        assert!(page.html.contains("(3 drawn, 1 left out)"));
        assert!(page.html.contains("(2 drawn, 2 left out)"));
        assert!(!page
            .html
            .contains("data-trace-id=\"00000000000000000000000000000003\""));
        // A root before its children: what is drawn always has its parent drawn.
        assert_eq!(bars(&page.html, "data-depth"), ["0", "1", "1", "0", "1"]);
    }

    #[test]
    fn a_long_chain_of_parents_neither_overflows_nor_indents_without_end() {
        let spans: Vec<SpanData> = (1..=50_000u64)
            .map(|i| span(1, i, i - 1, "nested", i, 100_000))
            .collect();
        let page = WaterfallOptions::new().render(&[batch("svc", spans)]);
        assert_eq!((page.spans, page.spans_left_out), (1_000, 49_000));
        assert_eq!(
            bars(&page.html, "data-depth").last().map(String::as_str),
            Some("999")
        );
        let deepest = format!("padding-left:{}px", MAX_INDENT_DEPTH * INDENT_PX);
        assert_eq!(
            page.html.matches(&deepest).count(),
            1_000 - MAX_INDENT_DEPTH
        );
    }

    #[test]
    fn a_span_seen_twice_is_drawn_once() {
        let spans = vec![span(1, 1, 0, "root", 0, 10)];
        let page =
            WaterfallOptions::new().render(&[batch("svc", spans.clone()), batch("svc", spans)]);
        assert_eq!((page.spans, page.duplicate_spans), (1, 1));
        assert!(page
            .html
            .contains("1 span not drawn: the same trace and span id came before."));
    }

    #[test]
    fn long_texts_are_cut() {
        let html = waterfall_html(&[batch("svc", vec![span(1, 1, 0, &"x".repeat(1_000), 0, 1)])]);
        let shown = format!(
            "<span class=\"name\">{}… (488 more characters)</span>",
            "x".repeat(512)
        );
        assert!(html.contains(&shown));
        assert!(!html.contains(&"x".repeat(513)));
    }

    #[test]
    fn an_empty_page_says_so() {
        for batches in [vec![], vec![batch("idle", vec![])]] {
            let page = WaterfallOptions::new().render(&batches);
            assert!(page.html.contains("0 spans drawn, of 0 traces."));
            assert_eq!((page.spans, page.traces), (0, 0));
            assert!(
                !page.html.contains("idle"),
                "no service without spans in the legend"
            );
        }
    }

    #[rustfmt::skip]
    #[test]
    fn numbers_for_people() {
        for (part, whole, shown) in [(0, 0, "0%"), (1, 3, "33.333333%"), (2, 3, "66.666666%"), (5, 5, "100.000000%"), (7, 5, "100.000000%")] {
            assert_eq!(percent(part, whole), shown, "percent({part}, {whole})");
        }
        for (ns, shown) in [(0, "0"), (1_500_000, "1.5"), (123, "0.000123"), (20_000_000, "20")] {
            assert_eq!(fmt_ms(ns), shown, "fmt_ms({ns})");
        }
        for (ns, shown) in [(815, "815 ns"), (7_250, "7.2 µs"), (12_345_678, "12.345 ms"), (3_250_000_000, "3.250 s")] {
            assert_eq!(fmt_duration(ns), shown, "fmt_duration({ns})");
        }
        for (duration, step) in [(0, 1), (3, 1), (10, 2), (3_000_000, 1_000_000), (7_300_000, 2_000_000), (24_000, 5_000)] {
            assert_eq!(axis_step(duration), step, "axis_step({duration})");
        }
        for (ns, shown) in [(0, "1970-01-01T00:00:00.000000000Z"), (951_782_400_000_000_001, "2000-02-29T00:00:00.000000001Z"), (1_700_000_000_123_000_000, "2023-11-14T22:13:20.123000000Z")] {
            assert_eq!(utc(ns), shown, "utc({ns})");
        }
        for (n, shown) in [(0, "0"), (999, "999"), (1_000, "1,000"), (1_234_567, "1,234,567")] {
            assert_eq!(thousands(n), shown);
        }
    }
}
