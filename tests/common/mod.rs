//! Test support: one real OpenTelemetry SDK per test binary, exporting every
//! finished span synchronously into an in-memory exporter, with the `tracing`
//! bridge installed as the global subscriber (as `init_observability` does).
//!
//! Tests run in parallel in one process, so each test looks only at the spans of
//! its own trace ids.
#![allow(dead_code, unreachable_pub)]

pub mod e2e;
mod lines;
pub mod nats;
pub mod openmetrics;
pub mod otlp;
pub mod rabbitmq;
pub mod tls;

// Not every test binary that includes `common` uses it.
#[allow(unused_imports)]
pub use lines::Lines;

use std::sync::{Arc, Mutex, OnceLock};

use distributed_tracing::opentelemetry::trace::{SpanId, TraceId};
use distributed_tracing::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SpanData,
};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();

/// What the sampler was shown when each span started: (trace, name, kind,
/// attributes).
type Seen = Vec<(
    TraceId,
    String,
    distributed_tracing::opentelemetry::trace::SpanKind,
    Vec<distributed_tracing::opentelemetry::KeyValue>,
)>;
static SEEN: Mutex<Seen> = Mutex::new(Vec::new());

/// The SDK's default sampler (`parentbased_always_on`), noting what each
/// span showed it at its start: the attributes a sampler can decide on.
#[derive(Debug, Clone)]
pub struct RecordingSampler;

impl distributed_tracing::opentelemetry_sdk::trace::ShouldSample for RecordingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&distributed_tracing::opentelemetry::Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &distributed_tracing::opentelemetry::trace::SpanKind,
        attributes: &[distributed_tracing::opentelemetry::KeyValue],
        links: &[distributed_tracing::opentelemetry::trace::Link],
    ) -> distributed_tracing::opentelemetry_sdk::trace::SamplingResult {
        use distributed_tracing::opentelemetry_sdk::trace::Sampler;
        SEEN.lock().unwrap().push((
            trace_id,
            name.to_owned(),
            span_kind.clone(),
            attributes.to_vec(),
        ));
        Sampler::ParentBased(Box::new(Sampler::AlwaysOn)).should_sample(
            parent_context,
            trace_id,
            name,
            span_kind,
            attributes,
            links,
        )
    }
}

/// The attributes the sampler saw at the start of the span of `kind` in
/// `trace_id` (the first one), as `key=value` texts.
pub fn seen_by_sampler(
    trace_id: TraceId,
    kind: distributed_tracing::opentelemetry::trace::SpanKind,
) -> Option<(String, Vec<(String, String)>)> {
    SEEN.lock()
        .unwrap()
        .iter()
        .find(|(t, _, k, _)| *t == trace_id && *k == kind)
        .map(|(_, name, _, attributes)| {
            let pairs = attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect();
            (name.clone(), pairs)
        })
}

/// Installs the SDK, the propagator and the subscriber once; returns the exporter.
pub fn sdk() -> &'static InMemorySpanExporter {
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_sampler(RecordingSampler)
            .build();
        distributed_tracing::opentelemetry::global::set_tracer_provider(provider);
        distributed_tracing::opentelemetry::global::set_text_map_propagator(
            distributed_tracing::propagation::default_propagator(),
        );
        tracing_subscriber::registry()
            .with(distributed_tracing::otel_layer())
            .init();
        exporter
    })
}

/// The finished spans of one trace.
pub fn spans_of(trace_id: TraceId) -> Vec<SpanData> {
    sdk()
        .get_finished_spans()
        .expect("in-memory exporter")
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .collect()
}

/// The finished span named `name` in `trace_id`; panics if there is not exactly one.
pub fn span_named(trace_id: TraceId, name: &str) -> SpanData {
    let mut found: Vec<SpanData> = spans_of(trace_id)
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    assert_eq!(found.len(), 1, "spans named {name} in trace {trace_id}");
    found.remove(0)
}

/// Hex helpers for comparing with the string shims.
pub fn hex_trace(id: TraceId) -> String {
    format!("{id:032x}")
}

pub fn hex_span(id: SpanId) -> String {
    format!("{id:016x}")
}

pub fn trace_of(hex: &str) -> TraceId {
    TraceId::from_hex(hex).expect("trace id hex")
}

pub fn span_of(hex: &str) -> SpanId {
    SpanId::from_hex(hex).expect("span id hex")
}

/// `target/<profile>/examples/<name>`, which `cargo test` builds beside the
/// test binaries (`target/<profile>/deps/<test>-<hash>`); panics with what to
/// run when it is missing.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --all-features`, which builds the examples",
        bin.display()
    );
    bin
}

/// Runs `command` to its end and returns its standard output; panics with
/// both outputs when it fails.
pub fn stdout_of(command: &mut std::process::Command) -> String {
    let out = command.output().expect("run the command");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The trace id on the quickstart's eight log lines, checked to be one (its
/// start-up and shutdown lines, outside any trace, show `[-]`).
pub fn quickstart_trace_id(stdout: &str) -> String {
    let ids: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('[') && !l.starts_with("[-]") && l.contains("[INFO    ]"))
        .map(|l| &l[1..33])
        .collect();
    assert_eq!(
        ids.len(),
        8,
        "the quickstart's eight traced lines: {stdout}"
    );
    assert!(ids.iter().all(|id| *id == ids[0]), "one trace id: {stdout}");
    ids[0].to_string()
}

/// The virtual environment with the Python peers of the end-to-end tests
/// (`DT_E2E_VENV`, default `target/e2e-venv`), installed by
/// `scripts/e2e-setup.sh` when missing.
pub fn e2e_venv() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("DT_E2E_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/e2e-venv"));
    let status = std::process::Command::new("bash")
        .arg(root.join("scripts/e2e-setup.sh"))
        .env("DT_E2E_VENV", &venv)
        .status()
        .expect("run scripts/e2e-setup.sh");
    assert!(
        status.success(),
        "scripts/e2e-setup.sh failed: the Python peers could not be installed from PyPI"
    );
    venv
}

/// A tool built by `scripts/e2e-tools.sh` (`jaeger`, `otelcol`,
/// `nats-server`) from its Go modules, in `DT_E2E_TOOLS` (default
/// `target/e2e-tools`); the script runs first, and builds what is missing
/// (several minutes the first time).
pub fn e2e_tool(name: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tools = std::env::var_os("DT_E2E_TOOLS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/e2e-tools"));
    let status = std::process::Command::new("bash")
        .arg(root.join("scripts/e2e-tools.sh"))
        .env("DT_E2E_TOOLS", &tools)
        .status()
        .expect("run scripts/e2e-tools.sh");
    assert!(
        status.success(),
        "scripts/e2e-tools.sh failed: Jaeger, the collector and the NATS server could not be built from their Go modules"
    );
    tools.join(name)
}

/// What the export thread says (target `distributed_tracing::export`), with
/// the level, captured by a global subscriber installed once per test binary
/// (the export thread logs to the global one); not with [`sdk`], which
/// installs its own.
#[derive(Clone, Default)]
pub struct ExportMessages(Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl ExportMessages {
    pub fn global() -> &'static ExportMessages {
        static CAPTURED: OnceLock<ExportMessages> = OnceLock::new();
        CAPTURED.get_or_init(|| {
            let captured = ExportMessages::default();
            tracing_subscriber::registry().with(captured.clone()).init();
            captured
        })
    }

    /// Every message so far.
    pub fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// How many messages so far (a mark for [`Self::since`]).
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The messages after the first `mark`, with their level.
    pub fn since(&self, mark: usize) -> Vec<(tracing::Level, String)> {
        self.0.lock().unwrap().iter().skip(mark).cloned().collect()
    }

    /// The warnings so far.
    pub fn warnings(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(level, _)| *level == tracing::Level::WARN)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

struct Message<'a>(&'a mut String);

impl tracing::field::Visit for Message<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ExportMessages {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        if meta.target() == "distributed_tracing::export" {
            let mut message = String::new();
            event.record(&mut Message(&mut message));
            self.0.lock().unwrap().push((*meta.level(), message));
        }
    }
}
