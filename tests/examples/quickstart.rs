//! The quickstart example, run as a user runs it: every log line it prints
//! carries the same valid trace id, and that trace's spans (a root and three
//! children fetched in spawned tasks) are in the local spans file it names,
//! the one its start-up line announces.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::otlp::{Protocol, Receiver, Store};
use distributed_tracing::opentelemetry::trace::SpanId;
use distributed_tracing::opentelemetry::Value;

#[test]
fn quickstart_lines_share_one_trace_id_and_its_spans_are_exported() {
    let tmp = std::env::temp_dir().join(format!("dt-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let stdout = common::stdout_of(
        Command::new(common::example_binary("quickstart"))
            .env("XDG_STATE_HOME", &tmp)
            .env_remove("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES")
            .env_remove("RUST_LOG")
            .env_remove("OTEL_SERVICE_NAME"),
    );

    let mut lines = stdout.lines().filter(|l| l.starts_with('['));
    let startup = lines.next().expect("the start-up line");
    // The crate's own lines outside the trace ("[-]"): the start-up line, and
    // the export total at shutdown.
    let (own, log_lines): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.starts_with("[-]"));
    assert_eq!(log_lines.len(), 8, "{stdout}");
    assert!(
        own.iter()
            .any(|l| l.contains("4 spans exported to") && l.contains("during this run, none lost")),
        "the total at shutdown: {stdout}"
    );
    let ids: Vec<&str> = log_lines.iter().map(|l| &l[1..33]).collect();
    let trace_id = ids[0];
    assert!(
        trace_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && trace_id != "0".repeat(32),
        "{trace_id}"
    );
    assert!(ids.iter().all(|id| *id == trace_id), "{stdout}");
    for line in &log_lines {
        assert_eq!(
            &line[33..46],
            "] [INFO    ] ",
            "the old module's format: {line}"
        );
    }
    assert!(log_lines[0].ends_with("Batch processing started items=3"));
    assert!(log_lines[7].ends_with("Batch processing finished fetched=3"));

    let summary = stdout
        .lines()
        .find(|l| l.starts_with("trace "))
        .expect("where the spans went");
    assert!(summary.starts_with(&format!("trace {trace_id}: spans written to ")));
    let path = summary.split("spans written to ").nth(1).unwrap();
    assert!(path.starts_with(tmp.to_str().unwrap()), "{path}");
    assert_eq!(
        startup,
        format!("[-] [INFO    ] spans are written to {path} (OTLP file format, rotated at 16 MiB)")
    );
    // The file in the OTLP file format: the resource, typed attributes, the
    // log lines inside spans as their events.
    let batches: Vec<_> = distributed_tracing::otlp_file::read(path)
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    assert!(batches.iter().all(|b| b
        .resource
        .get(&"service.name".into())
        .is_some_and(|s| s.as_str() == "unknown_service:quickstart")));
    let spans: Vec<_> = batches
        .iter()
        .flat_map(|b| &b.spans)
        .filter(|s| s.span_context.trace_id().to_string() == trace_id)
        .collect();
    assert_eq!(spans.len(), 4, "{spans:?}");
    let root = spans.iter().find(|s| s.name == "process_batch").unwrap();
    assert_eq!(root.parent_span_id, SpanId::INVALID);
    let children: Vec<_> = spans.iter().filter(|s| s.name == "fetch_item").collect();
    assert_eq!(children.len(), 3);
    for child in &children {
        assert_eq!(child.parent_span_id, root.span_context.span_id());
        assert!(child
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "item_id" && matches!(kv.value, Value::I64(1..=3))));
        // INFO lines are log lines, not span events (`SpanEvents::Errors`).
        assert!(child.events.is_empty());
    }
    // The tree printed from the file, and the command that draws it.
    assert!(stdout.contains("    fetch_item span_id="), "{stdout}");
    assert!(stdout.contains(&format!("cargo run --bin trace-waterfall -- {path}")));
    std::fs::remove_dir_all(&tmp).ok();
}

fn run_quickstart(env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(common::example_binary("quickstart"));
    for var in [
        "RUST_LOG",
        "OTEL_SERVICE_NAME",
        "XDG_STATE_HOME",
        "DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_TRACES_SAMPLER",
        "OTEL_SDK_DISABLED",
        "DISTRIBUTED_TRACING_LOG_FORMAT",
        "DD_SERVICE",
        "DD_ENV",
        "DD_VERSION",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    common::stdout_of(&mut cmd)
}

/// The id on every log line is the id of the spans the collector receives, for
/// both OTLP transports, configured only through the environment.
#[test]
fn quickstart_exports_over_otlp_with_the_logged_trace_id() {
    for (protocol, name) in [(Protocol::Grpc, "grpc"), (Protocol::Http, "http/protobuf")] {
        let receiver = Receiver::start(protocol, 0, Store::default());
        let base = format!("http://{}", receiver.addr);
        let stdout = run_quickstart(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", name),
            ("OTEL_SERVICE_NAME", "quickstart"),
        ]);
        let trace_id = common::quickstart_trace_id(&stdout);
        assert!(
            stdout.contains(&format!("trace {trace_id}: spans sent to OTLP")),
            "{stdout}"
        );
        let store = receiver.stop();
        let spans = store.of_trace(&trace_id);
        assert_eq!(spans.len(), 4, "{name}: {spans:?}");
        assert!(spans.iter().all(|s| s.service == "quickstart"), "{name}");
        let root = spans
            .iter()
            .find(|s| s.span.name == "process_batch")
            .unwrap();
        let children: Vec<_> = spans
            .iter()
            .filter(|s| s.span.name == "fetch_item")
            .collect();
        assert_eq!(children.len(), 3);
        assert!(children
            .iter()
            .all(|c| c.parent_span_id() == root.span_id()));
    }
}

/// A bad value is reported at start-up, naming the variable and the value, and
/// the service runs on with the default (the OpenTelemetry specification).
#[test]
fn a_bad_environment_value_is_reported_and_ignored() {
    let state = std::env::temp_dir().join(format!("dt-quickstart-bad-{}", std::process::id()));
    let stdout = run_quickstart(&[
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("XDG_STATE_HOME", state.to_str().unwrap()),
    ]);
    std::fs::remove_dir_all(&state).ok();
    let warning = stdout
        .lines()
        .find(|l| l.contains("ignored configuration"))
        .unwrap_or_else(|| panic!("no warning in {stdout}"));
    assert!(
        warning.contains("[WARN    ] ignored configuration OTEL_TRACES_SAMPLER=\"sometimes\": "),
        "the value quoted once in the message: {warning}"
    );
    common::quickstart_trace_id(&stdout);
}

/// The reported failure: the spans file cannot be opened (here a symbolic link
/// planted at its path). The quickstart still runs and exits 0, one warning
/// names the file and why, and nothing is written through the link.
#[test]
fn quickstart_runs_when_its_spans_file_cannot_be_opened() {
    let tmp = std::env::temp_dir().join(format!("dt-quickstart-sink-{}", std::process::id()));
    let dir = tmp.join("distributed-tracing");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("unknown_service_quickstart.spans.jsonl");
    let victim = tmp.join("victim");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    #[cfg(not(unix))]
    std::fs::create_dir(&file).unwrap();
    let stdout = run_quickstart(&[("XDG_STATE_HOME", tmp.to_str().unwrap())]);
    let warnings: Vec<&str> = stdout.lines().filter(|l| l.contains("[WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0].contains("spans are not exported")
            && warnings[0].contains(file.to_str().unwrap()),
        "{}",
        warnings[0]
    );
    let trace_id = common::quickstart_trace_id(&stdout);
    assert!(
        stdout.contains(&format!("trace {trace_id}: spans sent to nowhere")),
        "{stdout}"
    );
    assert!(!victim.exists());
    std::fs::remove_dir_all(&tmp).ok();
}

/// `OTEL_SDK_DISABLED=true`: the service runs, nothing is exported.
#[test]
fn a_disabled_sdk_exports_nothing() {
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let endpoint = receiver.endpoint(Protocol::Http);
    let stdout = run_quickstart(&[
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.as_str()),
    ]);
    assert!(stdout.contains("Batch processing finished"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(receiver.stop().spans().is_empty());
}

/// `DISTRIBUTED_TRACING_LOG_FORMAT=datadog`: every line is JSON; the lines in
/// the trace carry its ids, which match the spans received over OTLP, and
/// Datadog's `dd.trace_id` / `dd.span_id` convert back to them.
#[test]
fn quickstart_datadog_json_lines_match_the_exported_spans() {
    let receiver = Receiver::start(Protocol::Http, 0, Store::default());
    let endpoint = receiver.endpoint(Protocol::Http);
    let stdout = run_quickstart(&[
        ("DISTRIBUTED_TRACING_LOG_FORMAT", "datadog"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.as_str()),
        ("OTEL_SERVICE_NAME", "quickstart"),
        ("DD_ENV", "test"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.version=1.2.3"),
    ]);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        // The crate's own lines (the export totals at shutdown) aside.
        .filter(|l: &serde_json::Value| {
            !l["target"]
                .as_str()
                .unwrap_or("")
                .starts_with("distributed_tracing")
        })
        .collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    let store = receiver.stop();
    let trace_id = lines[0]["trace_id"].as_str().unwrap().to_string();
    let spans = store.of_trace(&trace_id);
    assert_eq!(spans.len(), 4);
    let low64 = u128::from_str_radix(&trace_id, 16).unwrap() as u64;
    for line in &lines {
        assert_eq!(line["trace_id"], trace_id.as_str(), "{line}");
        let span_id = line["span_id"].as_str().unwrap();
        assert!(
            spans.iter().any(|s| s.span_id() == span_id),
            "{line}: a span of the trace"
        );
        assert_eq!(
            line["dd.trace_id"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap(),
            low64
        );
        assert_eq!(
            line["dd.span_id"].as_str().unwrap().parse::<u64>().unwrap(),
            u64::from_str_radix(span_id, 16).unwrap()
        );
        assert_eq!(line["dd.service"], "quickstart");
        assert_eq!(line["dd.env"], "test");
        assert_eq!(line["dd.version"], "1.2.3");
    }
}
