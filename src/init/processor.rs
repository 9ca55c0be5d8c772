//! The span processor behind [`init_observability`](crate::init_observability):
//! a bounded queue drained by one export thread.
//!
//! * `on_end` (on the request path) only tries to put the span in the queue;
//!   it never blocks and never allocates beyond the span itself. When the queue
//!   is full the span is dropped and counted.
//! * The export thread owns a single-threaded Tokio runtime, so the gRPC and
//!   HTTP exporters work whatever runtime (or none) the service uses: flushing
//!   from a `current_thread` runtime cannot deadlock, and every wait has a
//!   deadline (the upstream hangs of opentelemetry-rust#2583 and #3589).
//! * Losses are counted and reported once when they start, once when export
//!   resumes, and in a summary at shutdown, never per span.
//! * Telemetry is suppressed on the export thread, so the exporter's own
//!   instrumentation (hyper, tonic) never produces spans that would be exported
//!   in turn.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::future::Future;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;

use super::config::BatchConfig;

/// What the export thread drives: an exporter of spans or of log records.
pub(crate) trait Export: Send + 'static {
    /// One queued item.
    type Item: Send + 'static;
    /// The item's name in reports ("span", "log record").
    const KIND: &'static str;
    fn export(&self, batch: Vec<Self::Item>) -> impl Future<Output = OTelSdkResult> + Send;
    fn shutdown(&mut self) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

/// A span exporter, driven by the export thread.
pub(crate) struct Spans<E>(pub(crate) E);

impl<E: SpanExporter + 'static> Export for Spans<E> {
    type Item = SpanData;
    const KIND: &'static str = "span";

    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.0.export(batch)
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        self.0.shutdown()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource)
    }
}

/// A log exporter, driven by the export thread.
#[cfg(feature = "logs")]
pub(crate) struct Logs<E>(pub(crate) E);

/// One queued log record, with its instrumentation scope.
#[cfg(feature = "logs")]
pub(crate) type LogItem = (
    opentelemetry_sdk::logs::SdkLogRecord,
    opentelemetry::InstrumentationScope,
);

#[cfg(feature = "logs")]
impl<E: opentelemetry_sdk::logs::LogExporter + 'static> Export for Logs<E> {
    type Item = LogItem;
    const KIND: &'static str = "log record";

    async fn export(&self, batch: Vec<LogItem>) -> OTelSdkResult {
        let refs: Vec<_> = batch
            .iter()
            .map(|(record, scope)| (record, scope))
            .collect();
        self.0
            .export(opentelemetry_sdk::logs::LogBatch::new(&refs))
            .await
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        self.0.shutdown()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource)
    }
}

#[cfg(feature = "logs")]
impl opentelemetry_sdk::logs::LogProcessor for QueueProcessor<LogItem> {
    fn emit(
        &self,
        record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        scope: &opentelemetry::InstrumentationScope,
    ) {
        self.enqueue((record.clone(), scope.clone()));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_within(timeout)
    }
}

/// Counters of the export pipeline, shared with the guard.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    exported: AtomicU64,
    dropped_queue_full: AtomicU64,
    failed: AtomicU64,
    /// Whether export is currently failing (for the once-only reports).
    failing: AtomicBool,
}

/// What happened to the spans that were handed to the exporter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full (the collector was down or slow
    /// for longer than the queue could absorb).
    pub dropped_queue_full: u64,
    /// Spans in export requests that failed (after the exporter's retries).
    pub failed: u64,
}

impl ExportStats {
    /// Spans lost, for any reason.
    pub fn lost(&self) -> u64 {
        self.dropped_queue_full + self.failed
    }
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ExportStats {
        ExportStats {
            exported: self.exported.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

enum Control {
    Flush(std_mpsc::SyncSender<OTelSdkResult>),
    Shutdown(std_mpsc::SyncSender<OTelSdkResult>),
}

/// The queue and its export thread.
pub(crate) struct QueueProcessor<T> {
    spans: mpsc::Sender<T>,
    control: mpsc::UnboundedSender<Control>,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Warned once about drops from the request path? (reported by the thread)
    shut_down: AtomicBool,
}

impl<T> fmt::Debug for QueueProcessor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueProcessor")
            .field("stats", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> QueueProcessor<T> {
    /// Starts the export thread; `make_exporter` runs on it, inside its runtime
    /// (tonic's channel needs one), and its error is returned here.
    pub(crate) fn start<E, F>(
        make_exporter: F,
        resource: Resource,
        batch: BatchConfig,
    ) -> crate::Result<(Self, Arc<Counters>)>
    where
        E: Export<Item = T>,
        F: FnOnce() -> crate::Result<E> + Send + 'static,
    {
        let (spans_tx, spans_rx) = mpsc::channel(batch.max_queue_size);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let (ready_tx, ready_rx) = std_mpsc::sync_channel::<crate::Result<()>>(1);
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("distributed-tracing-export".into())
            .spawn(move || {
                // Nothing this thread does is traced (see the module docs).
                let _suppressed = Context::enter_telemetry_suppressed_scope();
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(crate::Error::Io {
                            what: "starting the export thread's runtime".into(),
                            source: e,
                        }));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut exporter = match make_exporter() {
                        Ok(e) => e,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    exporter.set_resource(&resource);
                    let _ = ready_tx.send(Ok(()));
                    Worker {
                        exporter,
                        spans: spans_rx,
                        control: control_rx,
                        counters: thread_counters,
                        batch,
                        reported_drops: 0,
                    }
                    .run()
                    .await;
                });
            })
            .map_err(|e| crate::Error::Io {
                what: "starting the export thread".into(),
                source: e,
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(crate::Error::Sdk(OTelSdkError::InternalFailure(
                    "the export thread ended while starting".into(),
                )))
            }
        }
        Ok((
            Self {
                spans: spans_tx,
                control: control_tx,
                counters: counters.clone(),
                thread: Mutex::new(Some(thread)),
                shut_down: AtomicBool::new(false),
            },
            counters,
        ))
    }

    /// Sends a control message and waits for its answer, at most `deadline`.
    fn ask(
        &self,
        make: impl FnOnce(std_mpsc::SyncSender<OTelSdkResult>) -> Control,
        deadline: Duration,
    ) -> OTelSdkResult {
        let (tx, rx) = std_mpsc::sync_channel(1);
        self.control
            .send(make(tx))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        match rx.recv_timeout(deadline) {
            Ok(result) => result,
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(deadline)),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(OTelSdkError::AlreadyShutdown),
        }
    }
}

impl<T: Send + 'static> QueueProcessor<T> {
    /// Queues `item` without blocking; when the queue is full (or shut down)
    /// it is dropped and counted, and the export thread reports it.
    fn enqueue(&self, item: T) {
        if self.spans.try_send(item).is_err() {
            self.counters
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) -> OTelSdkResult {
        self.ask(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_within(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let start = Instant::now();
        let result = self.ask(Control::Shutdown, timeout);
        // Join only if the thread is done; a thread stuck in an export past the
        // deadline is left to finish on its own rather than hanging the caller.
        if let Ok(mut slot) = self.thread.lock() {
            if let Some(handle) = slot.take() {
                if handle.is_finished() || (result.is_ok() && start.elapsed() < timeout) {
                    let _ = handle.join();
                }
            }
        }
        result
    }
}

impl SpanProcessor for QueueProcessor<SpanData> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() {
            self.enqueue(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_within(timeout)
    }

    fn set_resource(&mut self, _resource: &Resource) {
        // The resource is given to the exporter when the thread starts.
    }
}

/// The export thread's state.
struct Worker<E: Export> {
    exporter: E,
    spans: mpsc::Receiver<E::Item>,
    control: mpsc::UnboundedReceiver<Control>,
    counters: Arc<Counters>,
    batch: BatchConfig,
    /// Queue drops already reported.
    reported_drops: u64,
}

impl<E: Export> Worker<E> {
    async fn run(mut self) {
        let mut buffer: Vec<E::Item> = Vec::with_capacity(self.batch.max_export_batch_size);
        let mut tick =
            tokio::time::interval(self.batch.scheduled_delay.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(Control::Flush(reply)) => {
                        let result = self.drain(&mut buffer).await;
                        let _ = reply.send(result);
                    }
                    Some(Control::Shutdown(reply)) => {
                        let mut result = self.drain(&mut buffer).await;
                        self.report_summary();
                        if let Err(e) = self.exporter.shutdown() {
                            result = result.and(Err(e));
                        }
                        let _ = reply.send(result);
                        return;
                    }
                    None => return,
                },
                span = self.spans.recv() => match span {
                    Some(span) => {
                        buffer.push(span);
                        if buffer.len() >= self.batch.max_export_batch_size {
                            let _ = self.export(&mut buffer).await;
                        }
                    }
                    None => return,
                },
                _ = tick.tick() => {
                    let _ = self.export(&mut buffer).await;
                    self.report_drops();
                }
            }
        }
    }

    /// Exports everything queued so far.
    async fn drain(&mut self, buffer: &mut Vec<E::Item>) -> OTelSdkResult {
        let mut result = Ok(());
        loop {
            while buffer.len() < self.batch.max_export_batch_size {
                match self.spans.try_recv() {
                    Ok(span) => buffer.push(span),
                    Err(_) => break,
                }
            }
            if buffer.is_empty() {
                break;
            }
            if let Err(e) = self.export(buffer).await {
                result = Err(e);
            }
        }
        self.report_drops();
        result
    }

    /// Exports the buffer (emptying it), with the export deadline.
    async fn export(&mut self, buffer: &mut Vec<E::Item>) -> OTelSdkResult {
        if buffer.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(buffer);
        let n = batch.len() as u64;
        let result = match tokio::time::timeout(
            self.batch.export_timeout,
            self.exporter.export(batch),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(OTelSdkError::Timeout(self.batch.export_timeout)),
        };
        match &result {
            Ok(()) => {
                self.counters.exported.fetch_add(n, Ordering::Relaxed);
                if self.counters.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        target: "distributed_tracing::export",
                        lost_so_far = self.counters.snapshot().lost(),
                        "{} export resumed",
                        E::KIND
                    );
                }
            }
            Err(e) => {
                self.counters.failed.fetch_add(n, Ordering::Relaxed);
                if !self.counters.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "distributed_tracing::export",
                        error = %e,
                        batch = n,
                        "{kind} export failed; {kind}s are lost until it recovers (reported once; the total comes at shutdown)",
                        kind = E::KIND
                    );
                }
            }
        }
        result
    }

    /// Reports queue drops once when they start.
    fn report_drops(&mut self) {
        let dropped = self.counters.dropped_queue_full.load(Ordering::Relaxed);
        if dropped > 0 && self.reported_drops == 0 {
            tracing::warn!(
                target: "distributed_tracing::export",
                dropped,
                max_queue_size = self.batch.max_queue_size,
                "{kind} queue full: new {kind}s are dropped (reported once; the total comes at shutdown)",
                kind = E::KIND
            );
        }
        self.reported_drops = dropped;
    }

    fn report_summary(&self) {
        let stats = self.counters.snapshot();
        if stats.lost() > 0 {
            tracing::warn!(
                target: "distributed_tracing::export",
                exported = stats.exported,
                dropped_queue_full = stats.dropped_queue_full,
                failed = stats.failed,
                "{}s lost during this run",
                E::KIND
            );
        }
    }
}
