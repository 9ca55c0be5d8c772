//! The default span sink is private to the user who runs the service and
//! bounded in size, and a sink that cannot be opened never stops the service:
//! real files in folders of our own, `HOME` / `XDG_STATE_HOME` given through
//! `env_vars`, pipelines built with `build()` (one `init()` for the start-up
//! line). Unix only: it checks modes, owners and symbolic links.
#![cfg(unix)]

use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use distributed_tracing::opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use distributed_tracing::otlp_file::{self, Batch};
use distributed_tracing::{ExportStats, ObservabilityBuilder, ObservabilityGuard};

/// A fresh folder of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dt-sink-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A service configured only by `vars` (no export before `flush`).
fn builder(service: &str, vars: &[(&str, &str)]) -> ObservabilityBuilder {
    let mut env = vars.to_vec();
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "600000"));
    ObservabilityBuilder::default()
        .env_vars(env)
        .service_name(service)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Ends `n` spans named `<prefix>-<i>`.
fn emit(guard: &ObservabilityGuard, prefix: &str, n: usize) {
    let tracer = guard.tracer_provider().unwrap().tracer("default_sink");
    for i in 0..n {
        tracer.start(format!("{prefix}-{i}")).end();
    }
}

/// The batches of `path` (the OTLP file format; every line valid).
fn batches(path: &Path) -> Vec<Batch> {
    otlp_file::read(path)
        .unwrap()
        .map(|b| b.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn names(path: &Path) -> Vec<String> {
    batches(path)
        .iter()
        .flat_map(|b| b.spans.iter().map(|s| s.name.to_string()))
        .collect()
}

/// The `service.name` of every line of `path`.
fn services(path: &Path) -> Vec<String> {
    batches(path)
        .iter()
        .map(|b| {
            b.resource
                .get(&"service.name".into())
                .map(|v| v.to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o777
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Builds with a `tracing` subscriber of our own: the pipeline and what was logged.
fn build_logged(builder: ObservabilityBuilder) -> (ObservabilityGuard, String) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::with_default(subscriber, || builder.build())
        .expect("the service starts");
    (guard, out.text())
}

/// The one warning of a sink that cannot be opened: names the file and why.
fn assert_one_warning(log: &str, file: &Path, why: &str) {
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    let warning = warnings[0];
    assert!(
        warning.contains("spans are not exported")
            && warning.contains(file.to_str().unwrap())
            && warning.contains(why),
        "{warning}"
    );
}

/// Spans still get ids, go nowhere, and nothing says they were exported.
fn assert_spans_go_nowhere(guard: &ObservabilityGuard) {
    assert_eq!(guard.spans_file(), None);
    let tracer = guard.tracer_provider().unwrap().tracer("default_sink");
    let span = tracer.start("nowhere");
    assert!(span.span_context().is_valid());
    drop(span);
    guard.flush().unwrap();
    assert_eq!(guard.export_stats(), ExportStats::default());
}

#[test]
fn spans_land_in_a_private_folder_and_file_under_xdg_state_home() {
    let tmp = scratch("xdg");
    let state = tmp.join("state");
    let guard = builder("sink-private", &[("XDG_STATE_HOME", s(&state))])
        .build()
        .unwrap();
    let dir = state.join("distributed-tracing");
    let file = dir.join("sink-private.spans.jsonl");
    assert_eq!(guard.spans_file(), Some(file.as_path()));
    emit(&guard, "private", 3);
    guard.flush().unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(names(&file), ["private-0", "private-1", "private-2"]);
    assert!(services(&file).iter().all(|s| s == "sink-private"));
    assert_eq!(guard.export_stats().exported, 3);
    drop(guard);
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn home_is_used_when_xdg_state_home_is_not_set() {
    let home = scratch("home");
    let guard = builder("sink-home", &[("HOME", s(&home))]).build().unwrap();
    let dir = home.join(".local/state/distributed-tracing");
    let file = dir.join("sink-home.spans.jsonl");
    assert_eq!(guard.spans_file(), Some(file.as_path()));
    emit(&guard, "home", 1);
    guard.flush().unwrap();
    assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
    assert_eq!(names(&file), ["home-0"]);
    drop(guard);
    std::fs::remove_dir_all(&home).unwrap();
}

/// A folder and a file of ours left open to others (an older version made
/// them 0755 and 0644) are tightened; what the file held is kept.
#[test]
fn a_loose_folder_and_file_of_ours_are_tightened() {
    let state = scratch("loose");
    let dir = state.join("distributed-tracing");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.join("sink-loose.spans.jsonl");
    // A line an earlier run wrote.
    std::fs::write(&file, concat!(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"#,
        r#""0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"earlier"}]}]}]}"#, "\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let guard = builder("sink-loose", &[("XDG_STATE_HOME", s(&state))])
        .build()
        .unwrap();
    assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
    emit(&guard, "loose", 1);
    guard.flush().unwrap();
    assert_eq!(names(&file), ["earlier", "loose-0"]);
    drop(guard);
    std::fs::remove_dir_all(&state).unwrap();
}

/// A symbolic link planted at the file's path, to an existing file or to none:
/// never followed, the target untouched, the service starts, one warning.
#[test]
fn a_symlink_at_the_file_path_is_never_followed() {
    for (case, target_exists) in [("existing", true), ("dangling", false)] {
        let tmp = scratch(&format!("symlink-{case}"));
        let state = tmp.join("state");
        let dir = state.join("distributed-tracing");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = tmp.join("victim");
        if target_exists {
            std::fs::write(&target, "precious\n").unwrap();
        }
        let file = dir.join("sink-symlink.spans.jsonl");
        symlink(&target, &file).unwrap();

        let (guard, log) = build_logged(builder("sink-symlink", &[("XDG_STATE_HOME", s(&state))]));
        assert_one_warning(&log, &file, "symbolic link");
        emit(&guard, "symlink", 5);
        assert_spans_go_nowhere(&guard);
        drop(guard);
        match target_exists {
            true => assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n"),
            false => assert!(!target.exists(), "{case}: the target was created"),
        }
        assert!(std::fs::symlink_metadata(&file)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}

/// A hard link to another file of ours planted at the file's path: refused
/// (appending would change that file), the service starts.
#[test]
fn a_hard_linked_file_is_refused() {
    let tmp = scratch("hardlink");
    let state = tmp.join("state");
    let dir = state.join("distributed-tracing");
    std::fs::create_dir_all(&dir).unwrap();
    let target = tmp.join("victim");
    std::fs::write(&target, "precious\n").unwrap();
    let file = dir.join("sink-hardlink.spans.jsonl");
    std::fs::hard_link(&target, &file).unwrap();

    let (guard, log) = build_logged(builder("sink-hardlink", &[("XDG_STATE_HOME", s(&state))]));
    assert_one_warning(&log, &file, "2 hard links");
    emit(&guard, "hardlink", 3);
    assert_spans_go_nowhere(&guard);
    drop(guard);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// The folder itself replaced by a symbolic link (to a folder of ours, even):
/// refused, nothing is created through it.
#[test]
fn a_symlinked_folder_is_refused() {
    let tmp = scratch("symlinked-dir");
    let state = tmp.join("state");
    let elsewhere = tmp.join("elsewhere");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let dir = state.join("distributed-tracing");
    symlink(&elsewhere, &dir).unwrap();

    let (guard, log) = build_logged(builder("sink-dir", &[("XDG_STATE_HOME", s(&state))]));
    assert_one_warning(&log, &dir, "symbolic link");
    assert_spans_go_nowhere(&guard);
    drop(guard);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// The reported case: the folder was created by another user first. It is
/// refused (never written into) and the service starts.
#[test]
fn a_folder_owned_by_another_user_is_refused() {
    let state = scratch("other-user");
    let dir = state.join("distributed-tracing");
    std::fs::create_dir(&dir).unwrap();
    if let Err(e) = std::os::unix::fs::chown(&dir, Some(65534), Some(65534)) {
        eprintln!(
            "skipped: giving {} to uid 65534 needs root ({e})",
            dir.display()
        );
        std::fs::remove_dir_all(&state).unwrap();
        return;
    }
    let before = mode(&dir);
    let (guard, log) = build_logged(builder("sink-other", &[("XDG_STATE_HOME", s(&state))]));
    assert_one_warning(&log, &dir, "belongs to uid 65534");
    assert_spans_go_nowhere(&guard);
    drop(guard);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    assert_eq!(mode(&dir), before, "another user's folder is left alone");
    std::fs::remove_dir_all(&state).unwrap();
}

/// With `strict(true)` an unusable sink is an error at start-up, naming the file.
#[test]
fn strict_makes_an_unusable_sink_an_error() {
    let tmp = scratch("strict");
    let state = tmp.join("state");
    let dir = state.join("distributed-tracing");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sink-strict.spans.jsonl");
    symlink(tmp.join("victim"), &file).unwrap();
    let err = builder("sink-strict", &[("XDG_STATE_HOME", s(&state))])
        .strict(true)
        .build()
        .expect_err("strict");
    let text = err.to_string();
    assert!(
        text.contains(file.to_str().unwrap()) && text.contains("symbolic link"),
        "{text}"
    );
    assert!(!tmp.join("victim").exists());
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// `spans_file(path)` and `DISTRIBUTED_TRACING_SPANS_FILE`: the same safe open
/// (0600, no symbolic link), missing folders created 0700; a folder that
/// exists is the caller's and left as is.
#[test]
fn a_spans_file_given_in_code_is_opened_the_same_way() {
    for by_variable in [false, true] {
        given_spans_file(by_variable);
    }
}

fn given_spans_file(by_variable: bool) {
    let tmp = scratch(&format!("given-{by_variable}"));
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = tmp.join("new/folder/given.jsonl");
    let guard = match by_variable {
        false => builder("sink-given", &[]).spans_file(&file),
        true => builder(
            "sink-given",
            &[("DISTRIBUTED_TRACING_SPANS_FILE", s(&file))],
        ),
    }
    .build()
    .unwrap();
    assert_eq!(guard.spans_file(), Some(file.as_path()));
    emit(&guard, "given", 2);
    guard.flush().unwrap();
    assert_eq!(names(&file), ["given-0", "given-1"]);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&tmp.join("new")), 0o700);
    assert_eq!(mode(&tmp.join("new/folder")), 0o700);
    assert_eq!(mode(&tmp), 0o755, "the caller's folder is not changed");
    drop(guard);

    let link = tmp.join("link.jsonl");
    symlink(tmp.join("victim"), &link).unwrap();
    let (guard, log) = build_logged(builder("sink-given", &[]).spans_file(&link));
    assert_one_warning(&log, &link, "symbolic link");
    assert_spans_go_nowhere(&guard);
    drop(guard);
    assert!(!tmp.join("victim").exists());
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Past `DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES` the file becomes `<file>.1`
/// (replacing the previous one): two files, each within the max (a file holds
/// at least one line), the newest spans kept, in order.
#[test]
fn the_file_is_rotated_at_its_max_size() {
    let state = scratch("rotation");
    let max = 4096u64;
    let guard = builder(
        "sink-rotation",
        &[
            ("XDG_STATE_HOME", s(&state)),
            ("DISTRIBUTED_TRACING_SPANS_FILE_MAX_BYTES", "4096"),
        ],
    )
    .build()
    .unwrap();
    assert_eq!(guard.config().spans_file_max_bytes, max);
    let file = guard.spans_file().unwrap().to_path_buf();
    let rotated = PathBuf::from(format!("{}.1", file.display()));
    // Several exports, so that rotation happens within and between batches.
    for batch in 0..6 {
        emit(&guard, &format!("rotation-{batch}"), 10);
        guard.flush().unwrap();
    }
    drop(guard);

    let mut present: Vec<String> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    assert_eq!(
        present,
        [
            "sink-rotation.metrics.jsonl",
            "sink-rotation.spans.jsonl",
            "sink-rotation.spans.jsonl.1"
        ],
        "no third spans file (the metrics file is beside it)"
    );
    let longest = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .chain(std::fs::read_to_string(&rotated).unwrap().lines())
        .map(|l| l.len() as u64 + 1)
        .max()
        .unwrap();
    for path in [&file, &rotated] {
        let size = std::fs::metadata(path).unwrap().len();
        assert!(size > 0 && size <= max, "{}: {size} bytes", path.display());
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    assert!(longest < max);
    let older = names(&rotated);
    let newer = names(&file);
    let kept: Vec<String> = older.iter().chain(&newer).cloned().collect();
    let all: Vec<String> = (0..6)
        .flat_map(|b| (0..10).map(move |i| format!("rotation-{b}-{i}")))
        .collect();
    assert!(kept.len() < all.len(), "older spans were rotated away");
    assert_eq!(
        kept,
        all[all.len() - kept.len()..],
        "the newest spans, in order"
    );
    std::fs::remove_dir_all(&state).unwrap();
}

/// `init` says once, at INFO, where spans go (the one `init` of this binary).
#[test]
fn init_logs_where_spans_are_written() {
    let state = scratch("init");
    let out = Captured::default();
    let guard = ObservabilityBuilder::default()
        .env_vars([("XDG_STATE_HOME", s(&state)), ("RUST_LOG", "info")])
        .service_name("sink-init")
        .log_output(out.clone())
        .init()
        .unwrap();
    let file = state.join("distributed-tracing/sink-init.spans.jsonl");
    assert_eq!(guard.spans_file(), Some(file.as_path()));
    let log = out.text();
    let expected = format!(
        "spans are written to {} (OTLP file format, rotated at 16 MiB)",
        file.display()
    );
    let announced: Vec<&str> = log.lines().filter(|l| l.contains(&expected)).collect();
    assert_eq!(announced.len(), 1, "{log}");
    assert!(announced[0].contains("INFO"), "{}", announced[0]);
    drop(guard);
    std::fs::remove_dir_all(&state).unwrap();
}
