//! The span processor behind [`init_observability`](crate::init_observability):
//! a queue bounded in items and in bytes, drained by one export thread (the
//! [`worker`](super::worker)). `on_end` (on the request path) only puts the
//! span in the queue; it never blocks (see the [module docs](super)).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::trace::SpanId;
use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, Notify};

#[cfg(feature = "logs")]
use super::size::log_bytes;
use super::size::span_bytes;
use super::stats::Counters;
use super::worker::{report_losses, Worker};
use super::Export;
use crate::config::BatchConfig;

/// One queued log record, with its instrumentation scope.
#[cfg(feature = "logs")]
pub(crate) type LogItem = (
    opentelemetry_sdk::logs::SdkLogRecord,
    opentelemetry::InstrumentationScope,
);

#[cfg(feature = "logs")]
impl opentelemetry_sdk::logs::LogProcessor for QueueProcessor<LogItem> {
    fn emit(
        &self,
        record: &mut opentelemetry_sdk::logs::SdkLogRecord,
        scope: &opentelemetry::InstrumentationScope,
    ) {
        let item = (record.clone(), scope.clone());
        let size = log_bytes(&item);
        self.enqueue(item, size);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_within(timeout)
    }
}

/// The queue: items waiting for export, and the bytes of those and of the
/// batch being exported.
pub(super) struct Queue<T> {
    pub(super) items: VecDeque<(T, usize)>,
    /// Bytes of the queued items and of the batch in flight.
    pub(super) bytes: usize,
    /// Items in the batch in flight.
    pub(super) in_flight: usize,
}

/// What the request path and the export thread share.
pub(super) struct Shared<T> {
    pub(super) queue: Mutex<Queue<T>>,
    pub(super) max_items: usize,
    pub(super) max_bytes: usize,
    pub(super) batch_size: usize,
    pub(super) counters: Arc<Counters>,
    /// A full batch is waiting.
    pub(super) wake: Notify,
    /// Items were dropped: the reporter says so, once per episode.
    pub(super) loss: Notify,
    /// Items were lost (dropped or failed) and export has not resumed since.
    pub(super) losing: AtomicBool,
    /// This episode's queue drops / failed requests were reported.
    pub(super) reported_queue_full: AtomicBool,
    pub(super) reported_failed: AtomicBool,
    /// An accepted request's answer could not be read (reported once a run).
    pub(super) reported_unread: AtomicBool,
    /// Export is failing.
    pub(super) failing: AtomicBool,
    /// Why the export thread stopped before shutdown (a bug: it panicked);
    /// `dead` says so without a lock on the request path.
    pub(super) dead: AtomicBool,
    pub(super) died: Mutex<Option<String>>,
    /// Shutdown was asked for: retries stop.
    pub(super) stopping: AtomicBool,
    pub(super) stop: Notify,
    /// The last export failure, for the queue-full report.
    pub(super) last_failure: Mutex<Option<String>>,
    /// When the request in flight was sent, for the queue-full report.
    pub(super) sent_at: Mutex<Option<Instant>>,
    /// Lost items when the current episode of losses began.
    pub(super) lost_before: AtomicU64,
    /// Whether an export failed during the current episode.
    pub(super) episode_failed: AtomicBool,
    /// When the queue last dropped an item, in ms since `epoch`.
    pub(super) last_drop_ms: AtomicU64,
    pub(super) epoch: Instant,
}

/// An episode of queue drops without export failures (a collector slower
/// than the spans come) ends after this long without a drop.
pub(super) const OVERLOAD_QUIET: Duration = Duration::from_secs(5);

impl<T> Shared<T> {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        // A panic while holding the lock cannot leave the queue inconsistent
        // (every change is a single push/pop and counter update).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The export thread stopped (it panicked): what is queued or in flight
    /// is lost, and so is every item queued from now on (counted as failed).
    pub(super) fn stopped<E: Export>(&self, why: &str) {
        let lost = {
            let mut q = self.lock();
            let lost = q.items.len() + q.in_flight;
            q.items.clear();
            q.bytes = 0;
            q.in_flight = 0;
            lost as u64
        };
        if let Ok(mut died) = self.died.lock() {
            *died = Some(why.to_owned());
        }
        self.dead.store(true, Ordering::Release);
        self.counters.failed.fetch_add(lost, Ordering::Relaxed);
        tracing::error!(
            target: "distributed_tracing::export",
            lost,
            "the {kind} export thread stopped ({why}): the {} queued and every later one are lost and counted (the total comes at shutdown)",
            super::count(lost, E::KIND),
            kind = E::KIND
        );
    }

    /// Why the export thread stopped early, if it did.
    pub(super) fn died(&self) -> Option<String> {
        if !self.dead.load(Ordering::Acquire) {
            return None;
        }
        self.died.lock().ok().and_then(|d| d.clone())
    }
}

/// A panic's message, shortened and escaped.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s,
        (_, Some(s)) => s.as_str(),
        _ => "a panic",
    };
    format!("panic: {}", crate::untrusted::shorten_untrusted(text, 200))
}

pub(super) enum Control {
    Flush(std_mpsc::SyncSender<OTelSdkResult>),
    Shutdown(std_mpsc::SyncSender<OTelSdkResult>),
}

/// The queue and its export thread.
pub(crate) struct QueueProcessor<T> {
    shared: Arc<Shared<T>>,
    control: mpsc::UnboundedSender<Control>,
    thread: Mutex<Option<JoinHandle<()>>>,
    destination: String,
    kind: &'static str,
    shut_down: AtomicBool,
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: string values are cut to this
    /// many characters when a span ends (the 0.33 SDK has no such limit).
    value_length: Option<usize>,
}

impl<T> fmt::Debug for QueueProcessor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueProcessor")
            .field("destination", &self.destination)
            .field("stats", &self.shared.counters.snapshot())
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
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::with_capacity(batch.max_queue_size.min(4096)),
                bytes: 0,
                in_flight: 0,
            }),
            max_items: batch.max_queue_size,
            max_bytes: batch.max_queue_bytes,
            batch_size: batch.max_export_batch_size,
            counters: counters.clone(),
            wake: Notify::new(),
            loss: Notify::new(),
            losing: AtomicBool::new(false),
            reported_queue_full: AtomicBool::new(false),
            reported_failed: AtomicBool::new(false),
            reported_unread: AtomicBool::new(false),
            failing: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            died: Mutex::new(None),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            last_failure: Mutex::new(None),
            sent_at: Mutex::new(None),
            lost_before: AtomicU64::new(0),
            episode_failed: AtomicBool::new(false),
            last_drop_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let (ready_tx, ready_rx) = std_mpsc::sync_channel::<crate::Result<String>>(1);
        let thread_shared = shared.clone();
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
                let watch = thread_shared.clone();
                let run = std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(async move {
                        let mut exporter = match make_exporter() {
                            Ok(e) => e,
                            Err(e) => {
                                let _ = ready_tx.send(Err(e));
                                return;
                            }
                        };
                        exporter.set_resource(&resource);
                        let destination = exporter.destination().to_owned();
                        let _ = ready_tx.send(Ok(destination.clone()));
                        tokio::spawn(report_losses::<E>(thread_shared.clone(), destination));
                        Worker {
                            exporter,
                            shared: thread_shared,
                            control: control_rx,
                            batch,
                        }
                        .run()
                        .await;
                    })
                });
                // No answer can make the worker panic (every number from a
                // collector is clamped, no arithmetic overflows); should a bug
                // do it all the same, the loss is still counted and reported,
                // and shutdown says why.
                if let Err(panic) = std::panic::catch_unwind(run) {
                    watch.stopped::<E>(&panic_message(panic.as_ref()));
                }
            })
            .map_err(|e| crate::Error::Io {
                what: "starting the export thread".into(),
                source: e,
            })?;
        let destination = match ready_rx.recv() {
            Ok(Ok(destination)) => destination,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(crate::Error::Sdk(OTelSdkError::InternalFailure(
                    "the export thread ended while starting".into(),
                )))
            }
        };
        Ok((
            Self {
                shared,
                control: control_tx,
                thread: Mutex::new(Some(thread)),
                destination,
                kind: E::KIND,
                shut_down: AtomicBool::new(false),
                value_length: None,
            },
            counters,
        ))
    }

    /// Cuts the string values of every span to `limit` characters when it ends.
    pub(crate) fn truncating(mut self, limit: Option<usize>) -> Self {
        self.value_length = limit;
        self
    }

    /// Sends a control message and waits for its answer, at most `deadline`.
    fn ask(
        &self,
        make: impl FnOnce(std_mpsc::SyncSender<OTelSdkResult>) -> Control,
        deadline: Duration,
    ) -> OTelSdkResult {
        let (tx, rx) = std_mpsc::sync_channel(1);
        // The worker dropped its end: the thread is ending (after a panic, it
        // records why first), so it is joined before the reason is read.
        let gone = || {
            self.join_ended();
            match self.shared.died() {
                Some(why) => {
                    OTelSdkError::InternalFailure(format!("the export thread had stopped ({why})"))
                }
                None => OTelSdkError::AlreadyShutdown,
            }
        };
        self.control.send(make(tx)).map_err(|_| gone())?;
        match rx.recv_timeout(deadline) {
            Ok(result) => result,
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(deadline)),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(gone()),
        }
    }

    /// Joins the export thread once its worker has ended (its control
    /// channel is closed), so that what it records on the way out is there.
    fn join_ended(&self) {
        let handle = self.thread.lock().ok().and_then(|mut slot| slot.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Queues `item` without blocking. When the queue is over its bounds, the
    /// oldest items make room (the new one too, if it alone is over the byte
    /// budget); they are counted, and the first drop of an episode is reported.
    pub(crate) fn enqueue(&self, item: T, size: usize) {
        if self.shut_down.load(Ordering::Relaxed) {
            return;
        }
        let shared = &*self.shared;
        if shared.dead.load(Ordering::Relaxed) {
            shared.counters.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut evicted: Vec<T> = Vec::new();
        let queued = {
            let mut q = shared.lock();
            q.items.push_back((item, size));
            q.bytes += size;
            while q.items.len() > shared.max_items || q.bytes > shared.max_bytes {
                match q.items.pop_front() {
                    Some((old, bytes)) => {
                        q.bytes -= bytes;
                        evicted.push(old);
                    }
                    None => break,
                }
            }
            q.items.len()
        };
        if !evicted.is_empty() {
            shared
                .counters
                .dropped_queue_full
                .fetch_add(evicted.len() as u64, Ordering::Relaxed);
            shared
                .last_drop_ms
                .store(shared.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
            if !shared.reported_queue_full.load(Ordering::Relaxed) {
                shared.loss.notify_one();
            }
            // Dropped outside the lock.
            drop(evicted);
        }
        if queued == shared.batch_size {
            shared.wake.notify_one();
        }
    }

    pub(crate) fn flush(&self) -> OTelSdkResult {
        self.ask(Control::Flush, Duration::from_secs(30))
    }

    pub(crate) fn shutdown_within(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let start = Instant::now();
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.stop.notify_one();
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
        if result.is_err() {
            let q = self.shared.lock();
            let unfinished = (q.items.len() + q.in_flight) as u64;
            self.shared
                .counters
                .unfinished
                .store(unfinished, Ordering::Relaxed);
        }
        self.report_summary(result.as_ref().err());
        result
    }

    /// The totals of this run, always, at shutdown: one line, each count
    /// said once.
    fn report_summary(&self, error: Option<&OTelSdkError>) {
        let stats = self.shared.counters.snapshot();
        let kind = self.kind;
        let to = &self.destination;
        let exported = super::count(stats.exported, kind);
        // Request metrics nobody recorded (no layer in this process): no line.
        if kind == "metric" && stats.exported == 0 && stats.lost() == 0 && error.is_none() {
            return;
        }
        if stats.lost() == 0 && error.is_none() {
            tracing::info!(
                target: "distributed_tracing::export",
                "{exported} exported to {to} during this run, none lost"
            );
            return;
        }
        let parts: Vec<String> = [
            (stats.dropped_queue_full, "dropped from a full queue"),
            (stats.failed, "failed"),
            (stats.too_large, "too large"),
            (stats.unfinished_at_shutdown, "unfinished at shutdown"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
        let shutdown = match error {
            Some(OTelSdkError::Timeout(t)) => {
                format!("; shutdown stopped waiting after {} ms", t.as_millis())
            }
            Some(e) => format!("; shutdown: {e}"),
            None => String::new(),
        };
        tracing::warn!(
            target: "distributed_tracing::export",
            "{exported} exported to {to} during this run, {} lost{}{shutdown}",
            stats.lost(),
            match parts.is_empty() {
                true => String::new(),
                false => format!(" ({})", parts.join(", ")),
            },
        );
    }
}

/// A root span's trace id came from the SDK's random id generator: it is
/// exported with the W3C `random` flag, as its headers were sent (the SDK gives
/// a root no flag but `sampled`; see `bridge::random_flag`).
fn random_flag_on_root(span: &mut SpanData) {
    if let Some(sc) = crate::bridge::with_random_flag(&span.span_context) {
        span.span_context = sc;
    }
}

/// What the queue holds of a finished span, made from it when it ends (on
/// the thread that ends it).
pub(crate) trait FromSpan: Send + 'static + Sized {
    /// The queued form of `span`, and the memory it holds (the queue's byte
    /// budget counts it).
    fn from_span(span: SpanData) -> (Self, usize);
}

/// The span itself (the spans file, an SDK exporter): its size estimated.
impl FromSpan for SpanData {
    fn from_span(span: SpanData) -> (Self, usize) {
        let size = span_bytes(&span);
        (span, size)
    }
}

impl<T: FromSpan> SpanProcessor for QueueProcessor<T> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if span.span_context.is_sampled() {
            if span.parent_span_id == SpanId::INVALID {
                random_flag_on_root(&mut span);
            }
            if let Some(limit) = self.value_length {
                super::truncate::truncate_span(&mut span, limit);
            }
            let (item, size) = T::from_span(span);
            self.enqueue(item, size);
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
