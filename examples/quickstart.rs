//! The old Python module's live demo, in Rust: a batch of three items fetched
//! concurrently in spawned tasks, every log line carrying the same trace id.
//!
//! Run it with:
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! It prints lines like these (your ids differ), then where its spans went and
//! the trace as a tree, read back from the spans file:
//!
//! ```text
//! [-] [INFO    ] spans are written to ~/.local/state/distributed-tracing/unknown_service_quickstart.spans.jsonl (OTLP file format, rotated at 16 MiB)
//! [7c2d9e0f3b8a41c6a5e4d3c2b1a09f8e] [INFO    ] Batch processing started items=3
//! [7c2d9e0f3b8a41c6a5e4d3c2b1a09f8e] [INFO    ] Fetching item item_id=1
//! ...
//! [7c2d9e0f3b8a41c6a5e4d3c2b1a09f8e] [INFO    ] Batch processing finished fetched=3
//! [-] [INFO    ] 4 spans exported to the spans file ... during this run, none lost
//! ```
//!
//! The spans file is in the OTLP file format: draw it as a waterfall page with
//! `cargo run --bin trace-waterfall -- <spans file>` (the command the last line
//! prints), or load it into Jaeger or the Collector (the reference page
//! `export`).

use std::time::Duration;

use distributed_tracing::compat::get_trace_id;
use distributed_tracing::{init_observability, spawn};
use tracing::{info, instrument};

#[instrument]
async fn fetch_item(item_id: u32) -> String {
    info!(item_id, "Fetching item");
    // Stand-in for an HTTP call or a database query.
    tokio::time::sleep(Duration::from_millis(10 * u64::from(item_id))).await;
    info!(item_id, "Fetched item");
    format!("item-{item_id}")
}

#[instrument(skip(items))]
async fn process_batch(items: Vec<u32>) -> Option<String> {
    info!(items = items.len(), "Batch processing started");
    // `distributed_tracing::spawn` keeps the trace; plain `tokio::spawn` would not.
    let tasks: Vec<_> = items.into_iter().map(|id| spawn(fetch_item(id))).collect();
    let mut fetched = 0;
    for task in tasks {
        if task.await.is_ok() {
            fetched += 1;
        }
    }
    info!(fetched, "Batch processing finished");
    get_trace_id()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Once at start-up: propagator, SDK, subscriber. Hold the guard until the end.
    let guard = init_observability()?;
    let trace_id = process_batch(vec![1, 2, 3]).await.unwrap_or_default();

    // Dropping the guard flushes every finished span: to a local file when no
    // collector is configured, else over OTLP.
    let spans_file = guard.spans_file().map(std::path::Path::to_path_buf);
    let destination = match &guard.config().traces_exporter {
        // The protocol only: the endpoint may hold credentials (`user:password@`).
        distributed_tracing::config::TracesExporter::Otlp => {
            format!("OTLP ({})", guard.config().otlp.protocol.as_str())
        }
        // The spans file could not be opened: the warning at start-up says why.
        distributed_tracing::config::TracesExporter::File(path) => {
            format!("nowhere ({} could not be opened)", path.display())
        }
        other => format!("{other:?}"),
    };
    drop(guard);
    println!();
    match spans_file {
        Some(path) => {
            println!("trace {trace_id}: spans written to {}", path.display());
            print_tree(&path, &trace_id)?;
        }
        None => println!("trace {trace_id}: spans sent to {destination}"),
    }
    Ok(())
}

/// Prints the spans of one trace from the local spans file (read back with
/// `otlp_file::read`), children indented under their parents.
fn print_tree(path: &std::path::Path, trace_id: &str) -> std::io::Result<()> {
    use distributed_tracing::opentelemetry::trace::SpanId;
    use distributed_tracing::opentelemetry_sdk::trace::SpanData;
    let mut spans: Vec<SpanData> = Vec::new();
    for batch in distributed_tracing::otlp_file::read(path)? {
        match batch {
            Ok(batch) => spans.extend(
                batch
                    .spans
                    .into_iter()
                    .filter(|s| s.span_context.trace_id().to_string() == trace_id),
            ),
            // A line that is not OTLP JSON (a hand edit, a crash mid-line).
            Err(e) => eprintln!("{}: {e}", path.display()),
        }
    }
    fn walk(spans: &[SpanData], parent: SpanId, depth: usize) {
        for s in spans.iter().filter(|s| s.parent_span_id == parent) {
            let ms = s
                .end_time
                .duration_since(s.start_time)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0;
            let events = match s.events.len() {
                0 => String::new(),
                n => format!(", {n} events"),
            };
            println!(
                "{:indent$}{} span_id={} {ms:.1} ms{events}",
                "",
                s.name,
                s.span_context.span_id(),
                indent = 2 + 2 * depth
            );
            walk(spans, s.span_context.span_id(), depth + 1);
        }
    }
    walk(&spans, SpanId::INVALID, 0);
    println!(
        "as a picture: cargo run --bin trace-waterfall -- {}",
        path.display()
    );
    Ok(())
}
