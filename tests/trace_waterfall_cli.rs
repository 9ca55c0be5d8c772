//! The `trace-waterfall` binary's command line: usage errors exit 2 with the
//! usage, an input that cannot be read exits 1 naming it, and no page is
//! written then.

use std::process::Command;

fn trace_waterfall() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trace-waterfall"))
}

#[test]
fn a_bad_command_line_exits_2_with_the_usage() {
    for args in [
        &[][..],
        &["a.jsonl", "b.jsonl"],
        &["a.jsonl", "--frobnicate"],
        &["a.html"],
    ] {
        let out = trace_waterfall().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("usage: trace-waterfall <spans file> [-o out.html]"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn an_input_it_cannot_read_exits_1_and_writes_no_page() {
    let dir = std::env::temp_dir().join(format!("dt-trace-waterfall-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, page) = (
        dir.join("missing.spans.jsonl"),
        dir.join("missing.spans.html"),
    );
    let out = trace_waterfall().arg(&input).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&*input.to_string_lossy()),
        "names the input: {stderr}"
    );
    assert!(!page.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_spans_file_becomes_a_private_page_beside_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("dt-trace-waterfall-page-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, page) = (dir.join("svc.spans.jsonl"), dir.join("svc.spans.html"));
    let line = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"scope":{"name":"t"},"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"GET /","kind":2,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000003000000","status":{}}]}]}]}"#;
    std::fs::write(&input, format!("{line}\nnot json\n")).unwrap();
    let out = trace_waterfall().arg(&input).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 span of 1 trace drawn"), "{stdout}");
    assert!(stdout.contains("1 line skipped\n  line 2: "), "{stdout}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(r#"data-trace-id="4bf92f3577b34da6a3ce929d0e0e4736""#));
    assert_eq!(
        std::fs::metadata(&page).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let _ = std::fs::remove_dir_all(&dir);
}
