//! The non-blocking log writer: a slow output never blocks the threads that
//! log; the buffer is bounded; what did not fit is dropped and counted, so that
//! lines written + lines dropped = lines logged.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use distributed_tracing::config::TracesExporter;
use distributed_tracing::ObservabilityBuilder;

/// An output that takes 2 ms per write, and counts the lines it got.
#[derive(Clone, Default)]
struct SlowOutput(Arc<Mutex<Vec<u8>>>);

impl Write for SlowOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(2));
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_slow_output_drops_and_counts_instead_of_blocking() {
    let output = SlowOutput::default();
    let guard = ObservabilityBuilder::default()
        .env_vars([("RUST_LOG", "info")])
        .traces_exporter(TracesExporter::None)
        .log_output(output.clone())
        .non_blocking_logs(16)
        .init()
        .unwrap();
    const LINES: usize = 2000;
    for i in 0..LINES {
        tracing::info!(i, "flood");
    }
    let dropped = guard.dropped_log_lines();
    // With 2 ms per line, logging 2000 lines through a 16-line buffer must
    // overflow it: the logging thread did not wait for the output.
    assert!(dropped > 0, "nothing dropped: the writer blocked");
    drop(guard); // flushes what is buffered
    let written = String::from_utf8_lossy(&output.0.lock().unwrap())
        .lines()
        .filter(|l| l.contains("flood"))
        .count();
    assert_eq!(written + dropped, LINES, "every line written or counted");
}
