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
