//! The waterfall page (`otlp_file::waterfall_html`) drawn by a real browser:
//! headless Chromium lays out the spans of the three-service chain
//! (`examples/service_chain.rs`), a probe script measures every bar, and the
//! geometry is checked against the spans: one bar per span, rows depth first
//! under their parents, siblings by start time, widths and left edges
//! proportional to durations and start offsets, errors marked, one tick per
//! event. Then a screenshot of the page as shipped (`target/waterfall.png`;
//! with `DT_BLESS_SCREENSHOT=1` also `docs/waterfall.png`, the README's
//! picture).
//!
//! The browser is Debian's `chromium` (`scripts/e2e-browser.sh`, which the
//! tests run, installs it when missing), or the one `DT_CHROMIUM` names;
//! without it the tests fail and say so.
//! It reads local files only: the page loads nothing, which a test asserts.
#![cfg(all(unix, feature = "http-server", feature = "reqwest"))]

mod common;

use std::collections::{HashMap, HashSet};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use distributed_tracing::opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use distributed_tracing::opentelemetry::{InstrumentationScope, KeyValue};
use distributed_tracing::opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use distributed_tracing::opentelemetry_sdk::Resource;
use distributed_tracing::otlp_file::{read, Batch, WaterfallOptions};
use serde::Deserialize;

/// The window, and so the screenshot, in CSS pixels.
const WINDOW: (u32, u32) = (1400, 1000);
/// How far a measured edge may be from where the spans put it, in CSS pixels.
const TOLERANCE_PX: f64 = 1.5;

// ---------------------------------------------------------------------------
// Where the spans come from.

/// The spans the three-service chain exports: `service_chain` run with its
/// spans files in a folder of the test's own, each file read back.
fn chain_batches() -> Vec<Batch> {
    let state = work_dir("chain-state");
    let out = Command::new(common::example_binary("service_chain"))
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "service_chain: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut batches = Vec::new();
    for service in ["frontend", "backend", "worker"] {
        let path = state.join(format!("distributed-tracing/{service}.spans.jsonl"));
        for line in read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
            batches.push(line.unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        }
    }
    let _ = std::fs::remove_dir_all(&state);
    batches
}

// ---------------------------------------------------------------------------
// Spans made by hand (the chain's, for now, and the hostile one).

/// A span being made by hand (times in microseconds from `BASE`).
struct S(SpanData);

/// When the chain ran (2025-12-06).
const BASE: Duration = Duration::from_secs(1_765_000_000);

impl S {
    fn new(
        trace: TraceId,
        id: u64,
        parent: u64,
        kind: SpanKind,
        name: &str,
        start_us: u64,
        end_us: u64,
    ) -> S {
        S(SpanData {
            span_context: SpanContext::new(
                trace,
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: kind,
            name: name.to_owned().into(),
            start_time: at(start_us),
            end_time: at(end_us),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("service_chain")
                .with_version("0.1.0")
                .build(),
        })
    }
    fn attrs(mut self, attributes: Vec<KeyValue>) -> S {
        self.0.attributes = attributes;
        self
    }
}

fn at(us: u64) -> SystemTime {
    UNIX_EPOCH + BASE + Duration::from_micros(us)
}

/// The resource of a service, as this crate exports it.
fn resource(service: &str) -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", service.to_owned()),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
        ])
        .build()
}

// ---------------------------------------------------------------------------
// The browser.

/// Debian's Chromium, or the one `DT_CHROMIUM` names: `scripts/e2e-browser.sh`
/// installs it when missing (idempotent, one install for parallel tests).
fn chromium() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new("bash")
        .arg(root.join("scripts/e2e-browser.sh"))
        .status()
        .expect("run scripts/e2e-browser.sh");
    assert!(
        status.success(),
        "scripts/e2e-browser.sh failed: Chromium is needed (Debian's chromium package, or DT_CHROMIUM)"
    );
    let path = std::env::var_os("DT_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(path.is_file(), "no Chromium at {}", path.display());
    path
}

/// A fresh folder of this test's own.
fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dt-waterfall-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on the local `page` with `action` (`--dump-dom`,
/// `--screenshot=...`), in a profile of its own under `work`; its standard
/// output. Killed, with its children, after a minute.
fn run_chromium(work: &Path, what: &str, action: &str, page: &Path) -> String {
    let (out, err) = (
        work.join(format!("{what}.out")),
        work.join(format!("{what}.err")),
    );
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            // Belt and braces: no name resolves (the page has nothing to load).
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join(format!("profile-{what}")).display()
        ))
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        // Its own process group: a hang is ended with every helper process.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", chromium().display()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            panic!(
                "chromium ({what}) hung for a minute: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "chromium ({what}): {status}\n{}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    std::fs::read_to_string(&out).unwrap()
}

/// The page with a script that measures every bar into `<pre id="probe">`
/// (and a policy that lets that one script run: the page's forbids scripts).
fn with_probe(html: &str) -> String {
    let policy = "style-src 'unsafe-inline'\"";
    assert_eq!(
        html.matches(policy).count(),
        1,
        "the page's Content-Security-Policy"
    );
    let html = html.replacen(
        policy,
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\"",
        1,
    );
    let probe = r#"<script>
(function () {
  var bars = [].map.call(document.querySelectorAll('.bar'), function (b) {
    var r = b.getBoundingClientRect(), track = b.parentElement.getBoundingClientRect();
    var summary = b.closest('summary');
    return {
      trace: b.closest('[data-trace-id]').dataset.traceId,
      span: b.dataset.spanId, parent: b.dataset.parentId, depth: +b.dataset.depth,
      start_ns: b.dataset.startNs, duration_ns: b.dataset.durationNs,
      left: r.left, width: r.width, top: r.top, height: r.height,
      track_left: track.left, track_width: track.width,
      name_left: summary.querySelector('.name').getBoundingClientRect().left,
      error_class: b.classList.contains('error'),
      error_text: (summary.querySelector('.err-mark') || {}).textContent || null,
      ticks: [].map.call(b.querySelectorAll('.tick'), function (t) {
        var tr = t.getBoundingClientRect();
        return { x: tr.left + tr.width / 2, offset_ns: t.dataset.offsetNs, title: t.title };
      })
    };
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(bars);
  document.body.appendChild(pre);
})();
</script>
"#;
    let at = html.rfind("</body>").expect("</body>");
    format!("{}{probe}{}", &html[..at], &html[at..])
}

#[derive(Debug, Deserialize)]
struct Bar {
    trace: String,
    span: String,
    parent: String,
    depth: usize,
    start_ns: String,
    duration_ns: String,
    left: f64,
    width: f64,
    top: f64,
    height: f64,
    track_left: f64,
    track_width: f64,
    name_left: f64,
    error_class: bool,
    error_text: Option<String>,
    ticks: Vec<Tick>,
}

#[derive(Debug, Deserialize)]
struct Tick {
    x: f64,
    offset_ns: String,
    title: String,
}

/// The probe's measurements from the DOM Chromium dumped.
fn probe_of(dom: &str) -> Vec<Bar> {
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + "<pre id=\"probe\">".len();
    let json = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let json = json
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("probe JSON: {e}: {json}"))
}

// ---------------------------------------------------------------------------
// What the spans say the page must look like.

fn nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

fn hex(id: SpanId) -> String {
    format!("{id:016x}")
}

/// The spans of one trace, the rows they must make (depth first, siblings by
/// start time, then span id), its start and its duration.
struct Expected<'a> {
    rows: Vec<(&'a SpanData, usize)>,
    start: u128,
    duration: u128,
}

fn expected(batches: &[Batch]) -> HashMap<String, Expected<'_>> {
    let mut by_trace: HashMap<TraceId, Vec<&SpanData>> = HashMap::new();
    for span in batches.iter().flat_map(|b| &b.spans) {
        by_trace
            .entry(span.span_context.trace_id())
            .or_default()
            .push(span);
    }
    by_trace
        .into_iter()
        .map(|(trace, spans)| {
            let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_context.span_id()).collect();
            let key = |s: &&SpanData| (nanos(s.start_time), s.span_context.span_id().to_bytes());
            let mut roots: Vec<&SpanData> = spans
                .iter()
                .copied()
                .filter(|s| !ids.contains(&s.parent_span_id))
                .collect();
            roots.sort_by_key(key);
            fn visit<'a>(
                span: &'a SpanData,
                depth: usize,
                all: &[&'a SpanData],
                key: &dyn Fn(&&SpanData) -> (u128, [u8; 8]),
                rows: &mut Vec<(&'a SpanData, usize)>,
            ) {
                rows.push((span, depth));
                let mut children: Vec<&SpanData> = all
                    .iter()
                    .copied()
                    .filter(|c| c.parent_span_id == span.span_context.span_id())
                    .collect();
                children.sort_by_key(key);
                for child in children {
                    visit(child, depth + 1, all, key, rows);
                }
            }
            let mut rows = Vec::new();
            for root in roots {
                visit(root, 0, &spans, &key, &mut rows);
            }
            let start = spans.iter().map(|s| nanos(s.start_time)).min().unwrap();
            let end = spans.iter().map(|s| nanos(s.end_time)).max().unwrap();
            (
                format!("{trace:032x}"),
                Expected {
                    rows,
                    start,
                    duration: end - start,
                },
            )
        })
        .collect()
}

/// Every bar where the spans put it.
fn check_layout(batches: &[Batch], bars: &[Bar]) {
    let span_count: usize = batches.iter().map(|b| b.spans.len()).sum();
    assert_eq!(bars.len(), span_count, "one bar per span");
    let expected = expected(batches);

    let mut traces: Vec<&str> = bars.iter().map(|b| b.trace.as_str()).collect();
    traces.dedup();
    assert_eq!(
        traces.len(),
        expected.len(),
        "each trace's bars together: {traces:?}"
    );
    let mut trace_starts: Vec<u128> = traces.iter().map(|t| expected[*t].start).collect();
    let in_page_order = trace_starts.clone();
    trace_starts.sort();
    assert_eq!(in_page_order, trace_starts, "traces by start time");

    // Rows stack down the page in document order.
    for pair in bars.windows(2) {
        assert!(
            pair[1].top >= pair[0].top + pair[0].height,
            "{} below {}",
            pair[1].span,
            pair[0].span
        );
    }

    for trace in traces {
        let want = &expected[trace];
        let bars: Vec<&Bar> = bars.iter().filter(|b| b.trace == trace).collect();
        let got: Vec<(String, usize)> = bars.iter().map(|b| (b.span.clone(), b.depth)).collect();
        let wanted: Vec<(String, usize)> = want
            .rows
            .iter()
            .map(|(s, d)| (hex(s.span_context.span_id()), *d))
            .collect();
        assert_eq!(
            got, wanted,
            "trace {trace}: rows depth first, siblings by start time"
        );

        // One time axis: the same track, so the same pixels per nanosecond.
        let (track_left, track_width) = (bars[0].track_left, bars[0].track_width);
        assert!(track_width > 600.0, "a wide track: {track_width}");
        let px_per_ns = track_width / want.duration as f64;
        let depth0_name = bars[0].name_left;
        let indent = bars
            .iter()
            .find(|b| b.depth == 1)
            .map(|b| b.name_left - depth0_name);
        if let Some(indent) = indent {
            assert!(indent >= 8.0, "children indented: {indent} px");
        }

        let position: HashMap<&str, usize> = bars
            .iter()
            .enumerate()
            .map(|(i, b)| (b.span.as_str(), i))
            .collect();
        for (i, (bar, (span, depth))) in bars.iter().zip(&want.rows).enumerate() {
            let what = format!("trace {trace} bar {i} ({}, {})", span.name, bar.span);
            assert_eq!(
                (bar.track_left, bar.track_width),
                (track_left, track_width),
                "{what}: the trace's track"
            );

            // Under its parent, one level deeper, indented one step further.
            let parent = hex(span.parent_span_id);
            let expected_parent = if span.parent_span_id == SpanId::INVALID {
                String::new()
            } else {
                parent.clone()
            };
            assert_eq!(bar.parent, expected_parent, "{what}: data-parent-id");
            match position.get(parent.as_str()) {
                Some(&p) => {
                    assert!(p < i, "{what}: below its parent");
                    assert!(bars[p].top < bar.top, "{what}: drawn below its parent");
                    assert_eq!(
                        bar.depth,
                        bars[p].depth + 1,
                        "{what}: one deeper than its parent"
                    );
                    let step = bar.name_left - bars[p].name_left;
                    assert!(
                        (step - indent.unwrap()).abs() < 0.5,
                        "{what}: indented one step from its parent ({step} px)"
                    );
                }
                None => assert_eq!(bar.depth, 0, "{what}: a root"),
            }
            assert_eq!(*depth, bar.depth);
            assert!(
                (bar.name_left - depth0_name - indent.unwrap_or(0.0) * *depth as f64).abs() < 0.5,
                "{what}: indentation by depth"
            );
            // Siblings by start time.
            if let Some(prev) = bars[..i]
                .iter()
                .rev()
                .find(|b| b.parent == bar.parent && b.depth == bar.depth)
            {
                let (a, b) = (
                    prev.start_ns.parse::<u128>().unwrap(),
                    bar.start_ns.parse::<u128>().unwrap(),
                );
                assert!(a <= b, "{what}: after its earlier sibling");
            }

            // On the time axis: the left edge at the start, the width the duration.
            let (start, end) = (nanos(span.start_time), nanos(span.end_time));
            assert_eq!(
                bar.start_ns,
                (start - want.start).to_string(),
                "{what}: data-start-ns"
            );
            assert_eq!(
                bar.duration_ns,
                (end - start).to_string(),
                "{what}: data-duration-ns"
            );
            let left = track_left + (start - want.start) as f64 * px_per_ns;
            let width = ((end - start) as f64 * px_per_ns).max(1.0);
            assert!(
                (bar.left - left).abs() <= TOLERANCE_PX,
                "{what}: left edge {} px, the start says {left}",
                bar.left
            );
            assert!(
                (bar.width - width).abs() <= TOLERANCE_PX,
                "{what}: width {} px, the duration says {width}",
                bar.width
            );

            // Errors in red and in words.
            let error = match &span.status {
                Status::Error { description } if description.is_empty() => Some("ERROR".to_owned()),
                Status::Error { description } => Some(format!("ERROR: {description}")),
                _ => None,
            };
            assert_eq!(bar.error_class, error.is_some(), "{what}: the error class");
            assert_eq!(bar.error_text, error, "{what}: the error's words");

            // A tick per event, at its time.
            assert_eq!(
                bar.ticks.len(),
                span.events.len(),
                "{what}: one tick per event"
            );
            for (tick, event) in bar.ticks.iter().zip(span.events.iter()) {
                let offset = nanos(event.timestamp).clamp(start, end) - want.start;
                assert_eq!(
                    tick.offset_ns,
                    offset.to_string(),
                    "{what}: event {}",
                    event.name
                );
                let x = track_left + offset as f64 * px_per_ns;
                assert!(
                    (tick.x - x).abs() <= TOLERANCE_PX,
                    "{what}: event {} at {} px, its time says {x}",
                    event.name,
                    tick.x
                );
                assert!(
                    tick.title.starts_with(&*event.name),
                    "{what}: the tick's title {}",
                    tick.title
                );
            }
        }
    }
}

/// Nothing for a browser to load or run: every element is one of a few
/// plain ones, no attribute names a URL, no style fetches one. (Text from
/// the spans may well say `src=` or `https://`: it is escaped, so it has no
/// `<` of its own and cannot start an element.)
fn assert_loads_nothing(html: &str) {
    const ELEMENTS: [&str; 28] = [
        "!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p",
        "ul", "li", "main", "section", "div", "span", "code", "details", "summary", "dl", "dt",
        "dd", "table", "tr", "th", "td", "caption",
    ];
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').expect("a tag ends")];
        let name = tag
            .trim_start_matches('/')
            .split([' ', '\n'])
            .next()
            .unwrap();
        assert!(
            ELEMENTS.contains(&name),
            "the page has a <{name}> element: <{tag}>"
        );
        for attribute in ["src=", "href=", "srcset=", "action=", "url(", "@import"] {
            assert!(
                !tag.contains(attribute),
                "the page has `{attribute}` in <{tag}>"
            );
        }
    }
    let style = &html[html.find("<style>").unwrap()..html.find("</style>").unwrap()];
    assert!(
        !style.contains("url(") && !style.contains("@import"),
        "the style loads nothing"
    );
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "a PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

fn target_dir() -> PathBuf {
    // target/<profile>/deps/<this test>
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("the target folder")
        .to_path_buf()
}

// ---------------------------------------------------------------------------

#[test]
fn the_chain_as_a_waterfall_in_chromium() {
    let batches = chain_batches();
    let page = WaterfallOptions::new()
        .title("service_chain: frontend → backend → worker")
        .render(&batches);
    assert_eq!((page.spans_left_out, page.duplicate_spans), (0, 0));
    assert_loads_nothing(&page.html);

    let work = work_dir("chain");
    let shipped = work.join("waterfall.html");
    let probed = work.join("waterfall-probed.html");
    std::fs::write(&shipped, &page.html).unwrap();
    std::fs::write(&probed, with_probe(&page.html)).unwrap();

    // Measured and drawn at once: two browsers, a second or so each.
    let screenshot = target_dir().join("waterfall.png");
    let _ = std::fs::remove_file(&screenshot);
    let shot = {
        let (work, shipped, screenshot) = (work.clone(), shipped.clone(), screenshot.clone());
        std::thread::spawn(move || {
            run_chromium(
                &work,
                "shot",
                &format!("--screenshot={}", screenshot.display()),
                &shipped,
            )
        })
    };
    let dom = run_chromium(&work, "probe", "--dump-dom", &probed);
    shot.join().unwrap();

    check_layout(&batches, &probe_of(&dom));

    let png =
        std::fs::read(&screenshot).unwrap_or_else(|e| panic!("{}: {e}", screenshot.display()));
    assert_eq!(png_size(&png), WINDOW, "a screenshot of the window");
    if std::env::var_os("DT_BLESS_SCREENSHOT").is_some_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/waterfall.png");
        std::fs::copy(&screenshot, &docs).unwrap();
        println!("blessed {}", docs.display());
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_span_named_like_a_script_is_text_in_chromium() {
    let hostile = "<script>alert(1)</script>";
    let trace = TraceId::from(0x0af7651916cd43dd8448eb211c80319c);
    let span = S::new(
        trace,
        0xb7ad6b7169203331,
        0,
        SpanKind::Server,
        hostile,
        0,
        1_000,
    )
    .attrs(vec![KeyValue::new(hostile, "<img src=x onerror=alert(2)>")]);
    let batches = [Batch::new(1, resource(hostile), vec![span.0])];
    let html = WaterfallOptions::new().title(hostile).render(&batches).html;
    assert_loads_nothing(&html);

    let work = work_dir("hostile");
    let page = work.join("hostile.html");
    std::fs::write(&page, &html).unwrap();
    let dom = run_chromium(&work, "dom", "--dump-dom", &page);
    // What the browser built: text where the names were, no element from them.
    assert!(!dom.contains("<script") && !dom.contains("<img"), "{dom}");
    assert!(
        dom.contains("<span class=\"name\">&lt;script&gt;alert(1)&lt;/script&gt;</span>"),
        "{dom}"
    );
    assert!(
        dom.contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"),
        "{dom}"
    );
    assert!(
        dom.contains("<td>&lt;img src=x onerror=alert(2)&gt;</td>"),
        "{dom}"
    );
    assert!(
        dom.contains("</span>&lt;script&gt;alert(1)&lt;/script&gt;</li>"),
        "the service: {dom}"
    );
    let _ = std::fs::remove_dir_all(&work);
}
