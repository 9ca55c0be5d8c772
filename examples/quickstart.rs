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
//! the trace as a tree:
//!
//! ```text
//! [-] [INFO    ] spans are written to ~/.local/state/distributed-tracing/unknown_service_quickstart.spans.jsonl (JSON lines, rotated at 16 MiB)
//! [7c2d9e0f3b8a41c6a5e4d3c2b1a09f8e] [INFO    ] Batch processing started items=3
//! [7c2d9e0f3b8a41c6a5e4d3c2b1a09f8e] [INFO    ] Fetching item item_id=1
//! ...
//! [7c2d9e0f3b8a41c6a5e4d3c2b1a09f8e] [INFO    ] Batch processing finished fetched=3
//! [-] [INFO    ] spans exported to the spans file ... during this run: 4, none lost exported=4
//! ```

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

/// Prints the spans of one trace from the local spans file, children indented
/// under their parents.
fn print_tree(path: &std::path::Path, trace_id: &str) -> std::io::Result<()> {
    let spans: Vec<serde_json::Value> = std::fs::read_to_string(path)?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|s: &serde_json::Value| s["trace_id"] == trace_id)
        .collect();
    fn walk(spans: &[serde_json::Value], parent: &serde_json::Value, depth: usize) {
        for s in spans.iter().filter(|s| &s["parent_span_id"] == parent) {
            println!(
                "{:indent$}{} span_id={} parent={}",
                "",
                s["name"].as_str().unwrap_or("?"),
                s["span_id"].as_str().unwrap_or("?"),
                s["parent_span_id"].as_str().unwrap_or("-"),
                indent = 2 + 2 * depth
            );
            walk(spans, &s["span_id"], depth + 1);
        }
    }
    walk(&spans, &serde_json::Value::Null, 0);
    Ok(())
}
