//! `trace-waterfall` on the files a user meets: an empty one, one whose last
//! line a crash cut, and a 1 GiB one. Each gives a clear message, and the
//! process's peak memory (`ru_maxrss` of the child, measured by Python's
//! `resource`, as the tests' Python peers are) stays bounded: the 1 GiB file
//! takes about what a 128 MiB one takes.
//!
//! A binary of its own: it writes 1.1 GiB to the temporary folder (removed
//! at the end) and measures processes.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What a run printed, its exit code and its peak resident memory (KiB).
struct Run {
    stdout: String,
    stderr: String,
    code: i32,
    max_rss_kib: u64,
}

/// Runs `trace-waterfall input -o page` under Python's `resource` module.
fn run(input: &Path, page: &Path) -> Run {
    const MEASURE: &str = "import resource, subprocess, sys\n\
        r = subprocess.run(sys.argv[1:], capture_output=True)\n\
        sys.stdout.buffer.write(r.stdout)\n\
        sys.stderr.buffer.write(r.stderr)\n\
        print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)\n";
    let out = Command::new("python3")
        .args(["-c", MEASURE, env!("CARGO_BIN_EXE_trace-waterfall")])
        .arg(input)
        .arg("-o")
        .arg(page)
        .output()
        .expect("python3 (the tests' Python peers need it too)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    let mut fields = last.split(' ').skip(1);
    let max_rss_kib = fields.next().and_then(|n| n.parse().ok()).expect(&last);
    let code = fields.next().and_then(|n| n.parse().ok()).expect(&last);
    Run {
        stdout: stdout[..stdout.len() - last.len() - 1].to_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code,
        max_rss_kib,
    }
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dt-waterfall-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One line of `spans` spans of trace `line` (a root and its children), each
/// with a 4 KiB attribute value: a line of about 1 MiB for 240 spans.
fn line(out: &mut impl std::io::Write, line: u64, spans: u64) {
    let value = "x".repeat(4096);
    write!(
        out,
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"big"}}}}]}},"scopeSpans":[{{"scope":{{"name":"load"}},"spans":["#
    )
    .unwrap();
    for i in 0..spans {
        let parent = match i {
            0 => String::new(),
            _ => format!(r#""parentSpanId":"{:016x}","#, line << 20 | 1),
        };
        let start = 1_796_309_782_728_938_496u64 + i * 1000;
        write!(
            out,
            r#"{}{{"traceId":"{:032x}","spanId":"{:016x}",{parent}"flags":257,"name":"span {i}","kind":1,"startTimeUnixNano":"{start}","endTimeUnixNano":"{}","attributes":[{{"key":"payload","value":{{"stringValue":"{value}"}}}},{{"key":"n","value":{{"intValue":"{i}"}}}}],"status":{{}}}}"#,
            if i > 0 { "," } else { "" },
            line + 1,
            line << 20 | (i + 1),
            start + 500
        )
        .unwrap();
    }
    writeln!(out, "]}}]}}]}}").unwrap();
}

/// A file of at least `bytes` of valid lines; how many spans it holds.
fn big_file(path: &Path, bytes: u64) -> u64 {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    let (mut n, mut spans) = (0, 0);
    while std::fs::metadata(path).unwrap().len() < bytes {
        for _ in 0..64 {
            line(&mut out, n, 240);
            n += 1;
            spans += 240;
        }
        out.flush().unwrap();
    }
    spans
}

#[test]
fn empty_cut_and_huge_files_give_clear_messages_in_bounded_memory() {
    let dir = scratch();
    let page = dir.join("page.html");

    // An empty file: nothing to draw, said so, no page.
    let empty = dir.join("empty.spans.jsonl");
    std::fs::write(&empty, "").unwrap();
    let r = run(&empty, &page);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("is empty: no spans to draw"),
        "{}",
        r.stderr
    );
    assert!(!page.exists());
    eprintln!("empty file: peak {} KiB", r.max_rss_kib);

    // A crash cut the last line: the lines before it are drawn, the cut one
    // is named with its number and why.
    let cut = dir.join("cut.spans.jsonl");
    let mut bytes = Vec::new();
    for n in 0..3 {
        line(&mut bytes, n, 4);
    }
    let whole = bytes.len();
    line(&mut bytes, 3, 4);
    bytes.truncate(whole + (bytes.len() - whole) / 2);
    std::fs::write(&cut, &bytes).unwrap();
    let r = run(&cut, &page);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("12 spans of 3 traces drawn"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("1 line skipped"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("line 4: not complete JSON and no line feed after it: the file ends in the middle of a line"),
        "{}",
        r.stdout
    );
    assert!(page.exists());
    eprintln!("cut file: peak {} KiB", r.max_rss_kib);

    // 128 MiB, then 1 GiB of valid lines: the most recent spans drawn, the
    // rest counted; the peak barely moves with the file's size.
    let mut peaks = Vec::new();
    for mib in [128u64, 1024] {
        let big = dir.join(format!("big-{mib}.spans.jsonl"));
        let spans = big_file(&big, mib << 20);
        let started = Instant::now();
        let r = run(&big, &page);
        let size = std::fs::metadata(&big).unwrap().len();
        std::fs::remove_file(&big).unwrap();
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("spans of older lines left out"),
            "{}",
            r.stdout
        );
        assert!(!r.stdout.contains("skipped"), "{}", r.stdout);
        // What was drawn and what was left out (older lines, the page's
        // bound) add up to the file's spans.
        let first_number = |l: &str| -> u64 { l.split(' ').next().unwrap().parse().unwrap() };
        let drawn = r.stdout.lines().find(|l| l.contains(" drawn")).unwrap();
        let drawn: u64 = drawn.rsplit(": ").next().map(first_number).unwrap();
        let left_out: u64 = r
            .stdout
            .lines()
            .filter(|l| l.contains("left out"))
            .map(first_number)
            .sum();
        assert_eq!(drawn + left_out, spans, "{}", r.stdout);
        eprintln!(
            "{} MiB ({spans} spans): peak {} KiB, {:.1} s",
            size >> 20,
            r.max_rss_kib,
            started.elapsed().as_secs_f64()
        );
        peaks.push(r.max_rss_kib);
    }
    let (small, huge) = (peaks[0], peaks[1]);
    assert!(huge < 256 * 1024, "a 1 GiB file in {huge} KiB: not bounded");
    assert!(
        huge < small + small / 2,
        "8 times the file, {small} KiB -> {huge} KiB: memory grows with the file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
