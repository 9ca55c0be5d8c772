//! The request metrics' export: a thread that collects the store
//! ([`RequestMetrics`]) at every interval and queues what it holds, as
//! histograms of at most [`POINTS_PER_ITEM`] points, for the export worker
//! (the same queue, worker, transports, bounds and loss reports as spans:
//! OTLP, or the OTLP file format on standard output or in a file). At
//! shutdown, one last collection is exported.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::Resource;

use super::stats::Counters;
use super::{Export, QueueProcessor};
use crate::config::{BatchConfig, MetricsConfig};
use crate::metrics::{Histogram, RequestMetrics, Temporality};

/// The most points one queued item holds: a request is cut between items, so
/// an instrument with many series is sent as several `Metric`s of the same
/// name rather than as one too large to send.
pub(crate) const POINTS_PER_ITEM: usize = 256;

/// How long a collection waits in the queue, at most, before it is sent.
const SEND_DELAY: Duration = Duration::from_millis(200);

/// The bytes a queued histogram holds, about (the queue's byte bound).
pub(crate) fn histogram_bytes(h: &Histogram) -> usize {
    let text = |kvs: &[opentelemetry::KeyValue]| -> usize {
        kvs.iter()
            .map(|kv| 48 + kv.key.as_str().len() + kv.value.as_str().len())
            .sum()
    };
    std::mem::size_of::<Histogram>()
        + h.points
            .iter()
            .map(|p| {
                std::mem::size_of_val(p)
                    + text(&p.attributes)
                    + p.bucket_counts.len() * 8
                    + p.exemplars
                        .iter()
                        .map(|e| std::mem::size_of_val(e) + text(&e.filtered_attributes))
                        .sum::<usize>()
            })
            .sum::<usize>()
}

/// The collection thread and the queue it fills.
#[derive(Debug)]
pub(crate) struct MetricsPipeline {
    store: RequestMetrics,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    queue: QueueProcessor<Histogram>,
    temporality: Temporality,
    /// Set at shutdown; the thread waits on it between collections.
    stop: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    /// Collects the store and queues what it holds (the worker sends it at
    /// its next tick, within [`SEND_DELAY`]).
    fn collect(&self, store: &RequestMetrics) {
        for histogram in store.collect(self.temporality) {
            let Histogram {
                instrument,
                temporality,
                points,
            } = histogram;
            let mut points = points.into_iter().peekable();
            while points.peek().is_some() {
                let chunk = Histogram {
                    instrument,
                    temporality,
                    points: points.by_ref().take(POINTS_PER_ITEM).collect(),
                };
                let size = histogram_bytes(&chunk);
                self.queue.enqueue(chunk, size);
            }
        }
    }
}

impl MetricsPipeline {
    /// Starts the export thread (its exporter made by `make_exporter`) and
    /// the collection thread, collecting `store` every `config.interval`.
    pub(crate) fn start<E, F>(
        make_exporter: F,
        resource: Resource,
        config: &MetricsConfig,
        store: RequestMetrics,
    ) -> crate::Result<(Self, Arc<Counters>)>
    where
        E: Export<Item = Histogram>,
        F: FnOnce() -> crate::Result<E> + Send + 'static,
    {
        let batch = BatchConfig {
            // Items are histograms of up to 256 points: a collection of the
            // four instruments at their cardinality limit is about 32 of them.
            max_queue_size: 1024,
            // The worker sends what a collection queued at its next tick:
            // the collection thread never waits on the collector, so that
            // shutdown does not wait behind a hanging export.
            scheduled_delay: SEND_DELAY.min(config.interval),
            max_export_batch_size: 256,
            export_timeout: config.timeout,
            ..BatchConfig::default()
        };
        let (queue, counters) = QueueProcessor::start(make_exporter, resource, batch)?;
        let shared = Arc::new(Shared {
            queue,
            temporality: config.temporality,
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let interval = config.interval;
        let (thread_shared, thread_store) = (shared.clone(), store.clone());
        let thread = std::thread::Builder::new()
            .name("distributed-tracing-metrics".into())
            .spawn(move || {
                // Nothing this thread does is traced or measured.
                let _suppressed = Context::enter_telemetry_suppressed_scope();
                loop {
                    let stop = thread_shared.stop.lock().unwrap_or_else(|e| e.into_inner());
                    let (stop, _) = thread_shared
                        .wake
                        .wait_timeout_while(stop, interval, |stop| !*stop)
                        .unwrap_or_else(|e| e.into_inner());
                    if *stop {
                        return;
                    }
                    drop(stop);
                    thread_shared.collect(&thread_store);
                }
            })
            .map_err(|e| crate::Error::Io {
                what: "starting the metrics thread".into(),
                source: e,
            })?;
        Ok((
            Self {
                store,
                shared,
                thread: Mutex::new(Some(thread)),
            },
            counters,
        ))
    }

    /// The store the layers record into.
    pub(crate) fn store(&self) -> &RequestMetrics {
        &self.store
    }

    /// Collects and exports now (what the store holds), waiting for the
    /// worker's answer.
    pub(crate) fn flush(&self) -> OTelSdkResult {
        self.shared.collect(&self.store);
        self.shared.queue.flush()
    }

    /// Stops the collection thread, exports one last collection and shuts
    /// the export thread down, within `deadline`.
    pub(crate) fn shutdown(&self, deadline: Duration) -> OTelSdkResult {
        *self.shared.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = thread.join();
        } else {
            return Ok(());
        }
        let _suppressed = Context::enter_telemetry_suppressed_scope();
        self.shared.collect(&self.store);
        self.shared.queue.shutdown_within(deadline)
    }
}
