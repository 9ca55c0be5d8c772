//! Trace ids on every log line, text and JSON (and Datadog's attributes): the
//! ids on a line are those of the span the event belongs to, the same as
//! `get_trace_id()` there and as the span the SDK exports.

use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use distributed_tracing::compat::{get_span_id, get_trace_id, init_trace_from_headers};
use distributed_tracing::logging::{
    json_fmt_layer, trace_context_fmt_layer, DatadogTags, JsonFormat, TraceContextFormat,
};
use distributed_tracing::opentelemetry::trace::TraceId;
use distributed_tracing::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use distributed_tracing::{otel_layer, spawn};
use tracing::instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Lines written by one fmt layer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = CaptureWriter;
    fn make_writer(&'a self) -> CaptureWriter {
        CaptureWriter(self.0.clone())
    }
}

impl Capture {
    fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    fn line(&self, needle: &str) -> String {
        let lines = self.lines_with(needle);
        assert_eq!(lines.len(), 1, "one line with {needle:?}: {lines:#?}");
        lines[0].clone()
    }
}

struct Outputs {
    text: Capture,
    json: Capture,
    datadog: Capture,
    exporter: InMemorySpanExporter,
}

/// One global subscriber for the binary: the OTel bridge (in-memory SDK), a
/// text layer with span open/close lines, a JSON layer and a Datadog JSON layer.
fn outputs() -> &'static Outputs {
    static OUTPUTS: OnceLock<Outputs> = OnceLock::new();
    OUTPUTS.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        distributed_tracing::opentelemetry::global::set_tracer_provider(provider);
        let (text, json, datadog) = (Capture::default(), Capture::default(), Capture::default());
        let pattern =
            "[{trace_id}] [{span_id}] [{trace_flags}] [{level:<5}] {target}: {message}{fields}";
        let mut text_layer = trace_context_fmt_layer(TraceContextFormat::new(pattern).unwrap())
            .with_writer(text.clone());
        text_layer.set_span_events(FmtSpan::NEW | FmtSpan::CLOSE);
        // Format layers first, then the OpenTelemetry layer (see
        // `trace_context_fmt_layer`: span close lines need that order).
        tracing_subscriber::registry()
            .with(text_layer)
            .with(json_fmt_layer(JsonFormat::new()).with_writer(json.clone()))
            .with(
                json_fmt_layer(
                    JsonFormat::new().datadog(
                        DatadogTags::default()
                            .service("shop")
                            .env("test")
                            .version("1.2.3"),
                    ),
                )
                .with_writer(datadog.clone()),
            )
            .with(otel_layer())
            .init();
        Outputs {
            text,
            json,
            datadog,
            exporter,
        }
    })
}

/// `[trace] [span] [flags]` of a text line.
fn text_ids(line: &str) -> (String, String, String) {
    let parts: Vec<&str> = line.splitn(4, "] [").collect();
    (
        parts[0].trim_start_matches('[').to_string(),
        parts[1].to_string(),
        parts[2].to_string(),
    )
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[instrument]
fn outer_work(tag: &str) -> (String, String) {
    tracing::info!(tag, "outer says hello");
    inner_work(tag)
}

#[instrument]
fn inner_work(tag: &str) -> (String, String) {
    tracing::info!(tag, answer = 42, "inner says hello");
    (get_trace_id().unwrap(), get_span_id().unwrap())
}

#[test]
fn events_in_nested_instrumented_spans_carry_the_exported_ids() {
    let out = outputs();
    let tag = "nested-1";
    let (trace_id, inner_span) = outer_work(tag);

    let line = out.text.line(&format!("inner says hello tag={tag}"));
    let (t, s, flags) = text_ids(&line);
    assert_eq!(
        (t.as_str(), s.as_str(), flags.as_str()),
        (&*trace_id, &*inner_span, "03")
    );
    assert!(line.contains("answer=42"), "{line}");

    let exported = out.exporter.get_finished_spans().unwrap();
    let inner = exported
        .iter()
        .find(|s| format!("{:016x}", s.span_context.span_id()) == inner_span)
        .expect("the span of the line was exported");
    assert_eq!(inner.name, "inner_work");
    assert_eq!(format!("{:032x}", inner.span_context.trace_id()), trace_id);
    // Sampled, and random: the trace was started here (W3C Level 2).
    assert_eq!(format!("{:02x}", inner.span_context.trace_flags()), flags);
    let outer_line = out.text.line(&format!("outer says hello tag={tag}"));
    let (outer_trace, outer_span, _) = text_ids(&outer_line);
    assert_eq!(outer_trace, trace_id);
    assert_eq!(format!("{:016x}", inner.parent_span_id), outer_span);

    let j = json(&out.json.line(&format!("\"tag\":\"{tag}\",\"answer\":42")));
    assert_eq!(j["trace_id"], trace_id.as_str());
    assert_eq!(j["span_id"], inner_span.as_str());
    assert_eq!(j["trace_flags"], "03");
    assert_eq!(j["message"], "inner says hello");
    assert_eq!(j["level"], "INFO");
    assert_eq!(j["target"], "log_lines");
    assert_eq!(j["fields"]["answer"], 42);
    assert!(j["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn datadog_attributes_convert_back_to_the_trace() {
    let out = outputs();
    let (trace_id, span_id) = outer_work("dd-1");
    let j = json(&out.datadog.line("\"tag\":\"dd-1\",\"answer\":42"));
    let dd_trace: u64 = j["dd.trace_id"].as_str().unwrap().parse().unwrap();
    let dd_span: u64 = j["dd.span_id"].as_str().unwrap().parse().unwrap();
    let full = u128::from_str_radix(&trace_id, 16).unwrap();
    assert_eq!(dd_trace, full as u64, "the lower 64 bits, in decimal");
    assert_eq!(dd_span, u64::from_str_radix(&span_id, 16).unwrap());
    assert_eq!(j["dd.service"], "shop");
    assert_eq!(j["dd.env"], "test");
    assert_eq!(j["dd.version"], "1.2.3");
    assert_eq!(j["trace_id"], trace_id.as_str(), "the OTel fields stay");
}

#[test]
fn events_outside_a_trace_have_no_ids_never_zeros() {
    let out = outputs();
    tracing::info!("no trace here (1)");
    tracing::info!(parent: None, "explicit root (1)");
    for needle in ["no trace here (1)", "explicit root (1)"] {
        let line = out.text.line(needle);
        assert!(line.starts_with("[-] [-] [-] "), "{line}");
        let j = json(&out.json.line(needle));
        assert!(
            j.get("trace_id").is_none() && j.get("span_id").is_none(),
            "{j}"
        );
        let dd = json(&out.datadog.line(needle));
        assert!(dd.get("dd.trace_id").is_none(), "{dd}");
        assert_eq!(dd["dd.service"], "shop", "service tags are on every line");
    }
}

#[test]
fn events_after_the_parent_was_set_from_headers() {
    let out = outputs();
    let caller = "0af7651916cd43dd8448eb211c80319c";
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{caller}-b7ad6b7169203331-01").parse().unwrap(),
    );
    let remote = distributed_tracing::extract_trace_context_from_headers(&headers).unwrap();
    let span = tracing::info_span!("handler");
    span.set_parent(remote.into_context()).unwrap();
    let span_id = span.in_scope(|| {
        tracing::info!("handling (headers-1)");
        get_span_id().unwrap()
    });
    let (t, s, _) = text_ids(&out.text.line("handling (headers-1)"));
    assert_eq!((t.as_str(), s.as_str()), (caller, span_id.as_str()));
    // The same through the scope shim.
    {
        let _guard = init_trace_from_headers(&headers);
        tracing::info!("handling (headers-2)");
    }
    assert_eq!(text_ids(&out.text.line("handling (headers-2)")).0, caller);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_spawned_tasks() {
    let out = outputs();
    let span = tracing::info_span!("request");
    let (trace_id, child_span) = {
        let _e = span.enter();
        let trace_id = get_trace_id().unwrap();
        let task = spawn(async {
            tokio::task::yield_now().await;
            tracing::info!("in a spawned task (spawn-1)");
            get_span_id().unwrap()
        });
        drop(_e);
        (trace_id, task.await.unwrap())
    };
    let (t, s, _) = text_ids(&out.text.line("in a spawned task (spawn-1)"));
    assert_eq!((t, s), (trace_id, child_span));
}

/// With `FmtSpan::NEW | CLOSE` on (this binary's text layer), a span's "close"
/// line carries its trace and span ids; its "new" line carries the trace it is
/// created in and no span id yet: reading the span id there would start the
/// span and make a later `set_parent` fail (see
/// `events_after_the_parent_was_set_from_headers`, which runs with these lines on).
#[test]
fn span_open_and_close_lines_carry_the_span_ids() {
    let out = outputs();
    let request = tracing::info_span!("request_lc");
    let (trace_id, span_id) = request.in_scope(|| {
        let span = tracing::info_span!("lifecycle_span", case = "lifecycle-1");
        let ids = span.in_scope(|| (get_trace_id().unwrap(), get_span_id().unwrap()));
        drop(span);
        ids
    });
    let new = out.text.line("lifecycle_span new case=\"lifecycle-1\"");
    let (t, s, _) = text_ids(&new);
    assert_eq!((t.as_str(), s.as_str()), (trace_id.as_str(), "-"), "{new}");
    let close = out.text.line("lifecycle_span close case=\"lifecycle-1\"");
    let (t, s, _) = text_ids(&close);
    assert_eq!(
        (t.as_str(), s.as_str()),
        (trace_id.as_str(), span_id.as_str()),
        "{close}"
    );
    assert!(close.contains("time.busy="), "{close}");
}

#[test]
fn log_crate_records_carry_the_ids() {
    let out = outputs();
    let span = tracing::info_span!("with_log");
    let trace_id = span.in_scope(|| {
        log::info!("a record from the log crate (log-1)");
        get_trace_id().unwrap()
    });
    let line = out.text.line("a record from the log crate (log-1)");
    assert_eq!(text_ids(&line).0, trace_id);
    assert!(
        line.contains("log_lines: a record"),
        "the record's own target: {line}"
    );
    let j = json(&out.json.line("(log-1)"));
    assert_eq!(j["trace_id"], trace_id.as_str());
    assert!(
        j["fields"].as_object().unwrap().is_empty(),
        "no log.* noise: {j}"
    );
}

#[test]
fn json_lines_escape_whatever_they_carry() {
    let out = outputs();
    let span = tracing::info_span!("escaping");
    span.in_scope(|| {
        tracing::info!(
            quote = "say \"hi\"",
            path = ?std::path::Path::new("C:\\temp"),
            ratio = 0.5,
            ok = true,
            "line with \"quotes\", a tab\t, a newline\n, unicode é and \u{1} (json-1)"
        );
    });
    let j = json(&out.json.line("(json-1)"));
    assert_eq!(
        j["message"],
        "line with \"quotes\", a tab\t, a newline\n, unicode é and \u{1} (json-1)"
    );
    assert_eq!(j["fields"]["quote"], "say \"hi\"");
    assert_eq!(j["fields"]["path"], "\"C:\\\\temp\"");
    assert_eq!(j["fields"]["ratio"], 0.5);
    assert_eq!(j["fields"]["ok"], true);
    let _ = std::io::stdout().flush();
    let _ = TraceId::INVALID;
}
