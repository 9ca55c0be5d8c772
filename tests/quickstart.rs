//! The quickstart example, run as a user runs it: every log line it prints
//! carries the same valid trace id, and that trace's spans (a root and three
//! children fetched in spawned tasks) are in the local spans file it names.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/quickstart`, which `cargo test` builds beside
/// this test binary (`target/<profile>/deps/quickstart-<hash>`).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = profile_dir
        .join("examples")
        .join(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test`, which builds the examples",
        bin.display()
    );
    bin
}

#[test]
fn quickstart_lines_share_one_trace_id_and_its_spans_are_exported() {
    let tmp = std::env::temp_dir().join(format!("dt-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(example_binary())
        .env("TMPDIR", &tmp)
        .env_remove("RUST_LOG")
        .env_remove("OTEL_SERVICE_NAME")
        .output()
        .expect("run the quickstart");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log_lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(log_lines.len(), 8, "{stdout}");
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
    let spans: Vec<serde_json::Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|s: &serde_json::Value| s["trace_id"] == trace_id)
        .collect();
    assert_eq!(spans.len(), 4, "{spans:?}");
    let root = spans.iter().find(|s| s["name"] == "process_batch").unwrap();
    assert!(root["parent_span_id"].is_null());
    let children: Vec<_> = spans.iter().filter(|s| s["name"] == "fetch_item").collect();
    assert_eq!(children.len(), 3);
    assert!(children
        .iter()
        .all(|c| c["parent_span_id"] == root["span_id"]));
    std::fs::remove_dir_all(&tmp).ok();
}
