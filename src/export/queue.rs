//! The span processor behind [`init_observability`](crate::init_observability):
//! a queue bounded in items and in bytes, drained by one export thread.
//!
//! * `on_end` (on the request path) only puts the span in the queue; it never
//!   blocks. When the queue is full (`OTEL_BSP_MAX_QUEUE_SIZE` spans, or the
//!   byte budget), the oldest queued spans make room and are counted: a long
//!   outage loses its oldest surplus, never the memory bound.
//! * The export thread owns a single-threaded Tokio runtime, so the gRPC and
//!   HTTP exporters work whatever runtime (or none) the service uses: flushing
//!   from a `current_thread` runtime cannot deadlock, and every wait has a
//!   deadline (the upstream hangs of opentelemetry-rust#2583 and #3589).
//! * Requests are sized: a batch is cut so that one request stays under the
//!   exporter's limit (4 MiB for OTLP); an item too large alone is dropped
//!   alone and counted; a request the collector rejects as too large is split.
//! * Transient failures (the OTLP specification's retryable codes, a collector
//!   that is restarting) are retried with exponential backoff and jitter, the
//!   server's throttling hint honoured, within the export timeout; the spans
//!   not yet sent stay queued meanwhile.
//! * Losses are reported when they start (at once, even while an export is
//!   hanging), when export resumes, and in total at shutdown, never per span.
//! * Telemetry is suppressed on the export thread, so the exporter's own
//!   instrumentation (hyper, tonic) never produces spans that would be exported
//!   in turn.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanId, TraceState};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, Notify};

use super::config::BatchConfig;

/// Why one export request failed.
#[derive(Debug, Clone)]
// Which variants are built depends on the transports in the build.
#[allow(dead_code)]
pub(crate) enum Failure {
    /// No connection could be made (refused, unreachable, DNS).
    Unreachable(String),
    /// No answer within the request's deadline.
    TimedOut(Duration),
    /// The connection broke during the request (the collector went away).
    Interrupted(String),
    /// The collector answered with an error status.
    Rejected {
        status: String,
        retryable: bool,
        retry_after: Option<Duration>,
    },
    /// The request is larger than the collector (or the exporter) accepts.
    TooLarge(String),
    /// The TLS handshake failed (an unknown CA, a name mismatch, a client
    /// certificate refused: not retried, another attempt would fail alike).
    Tls(String),
    /// Any other transport failure (not retried).
    Transport(String),
    /// A local sink failed (not retried).
    Sink(String),
}

impl Failure {
    /// Whether the OTLP specification says to try again.
    pub(crate) fn retryable(&self) -> bool {
        match self {
            Self::Unreachable(_) | Self::TimedOut(_) | Self::Interrupted(_) => true,
            Self::Rejected { retryable, .. } => *retryable,
            Self::TooLarge(_) | Self::Tls(_) | Self::Transport(_) | Self::Sink(_) => false,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    /// The words of a report: every text a failure carries may come from the
    /// collector or its certificate, so it is shortened and escaped here.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |e: &str| crate::text::shorten_untrusted(e, 400).into_owned();
        match self {
            Self::Unreachable(e) => write!(f, "cannot connect ({})", shown(e)),
            Self::TimedOut(t) => write!(f, "no answer within {} ms", t.as_millis()),
            Self::Interrupted(e) => write!(f, "connection lost ({})", shown(e)),
            Self::Rejected { status, .. } => write!(f, "rejected with {}", shown(status)),
            Self::TooLarge(e) => write!(f, "request too large ({})", shown(e)),
            Self::Tls(e) => write!(f, "TLS handshake failed: {}", shown(e)),
            Self::Transport(e) | Self::Sink(e) => f.write_str(&shown(e)),
        }
    }
}

/// What an accepted request's answer says (OTLP partial success).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Items the collector refused, at most the request's.
    pub(crate) rejected: u64,
    /// The collector's message (shortened, escaped), or ours when its count
    /// could not be taken as it was.
    pub(crate) message: String,
    /// Why the answer could not be read whole (the request was accepted all
    /// the same: the collector answered with a success status).
    pub(crate) unread: Option<String>,
}

/// What the export thread drives: the OTLP exporter, or a local sink.
pub(crate) trait Export: Send + 'static {
    /// One queued item.
    type Item: Send + 'static;
    /// An item ready to send.
    type Encoded: Send + 'static;
    /// The item's name in reports ("span", "log record").
    const KIND: &'static str;
    /// Prepares an item for sending (on the export thread).
    fn encode(&mut self, item: Self::Item) -> Self::Encoded;
    /// The bytes an encoded item adds to a request.
    fn encoded_len(item: &Self::Encoded) -> usize;
    /// The most one request may carry (`None`: no limit).
    fn max_request_bytes(&self) -> Option<usize>;
    /// Sends one request.
    fn send(
        &mut self,
        batch: &[Self::Encoded],
        timeout: Duration,
    ) -> impl Future<Output = Result<Sent, Failure>> + Send;
    fn set_resource(&mut self, resource: &Resource);
    /// The deadline of one request (`None`: the export timeout).
    fn request_timeout(&self) -> Option<Duration> {
        None
    }
    /// Where items go, as shown in reports (credentials masked).
    fn destination(&self) -> &str;
    fn shutdown(&mut self) -> OTelSdkResult;
}

/// A local span sink (the JSON-lines file or standard output), driven by the
/// export thread. Failures are not retried.
pub(crate) struct Sink<E> {
    pub(crate) exporter: E,
    pub(crate) destination: String,
}

impl<E: SpanExporter + 'static> Export for Sink<E> {
    type Item = SpanData;
    type Encoded = SpanData;
    const KIND: &'static str = "span";

    fn encode(&mut self, item: SpanData) -> SpanData {
        item
    }

    fn encoded_len(item: &SpanData) -> usize {
        span_bytes(item)
    }

    fn max_request_bytes(&self) -> Option<usize> {
        None
    }

    async fn send(&mut self, batch: &[SpanData], _timeout: Duration) -> Result<Sent, Failure> {
        self.exporter
            .export(batch.to_vec())
            .await
            .map(|()| Sent::default())
            .map_err(|e| Failure::Sink(e.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource)
    }

    fn destination(&self) -> &str {
        &self.destination
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        self.exporter.shutdown()
    }
}

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

/// The heap a string value holds.
fn value_bytes(value: &Value) -> usize {
    use opentelemetry::Array;
    match value {
        Value::String(s) => s.as_str().len(),
        Value::Array(Array::String(v)) => v
            .iter()
            .map(|s| s.as_str().len() + std::mem::size_of_val(s))
            .sum(),
        Value::Array(Array::I64(v)) => v.len() * 8,
        Value::Array(Array::F64(v)) => v.len() * 8,
        Value::Array(Array::Bool(v)) => v.len(),
        _ => 0,
    }
}

fn attributes_bytes(attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| std::mem::size_of::<KeyValue>() + kv.key.as_str().len() + value_bytes(&kv.value))
        .sum()
}

fn trace_state_bytes(state: &TraceState) -> usize {
    // Most spans have none: compared without building the header.
    if *state == TraceState::NONE {
        0
    } else {
        state.header().len() + 64
    }
}

/// An upper bound of a finished span's memory, which also bounds its OTLP
/// encoding (every protobuf field costs less than the Rust value it comes from).
pub(crate) fn span_bytes(span: &SpanData) -> usize {
    std::mem::size_of::<SpanData>()
        + span.name.len()
        + trace_state_bytes(span.span_context.trace_state())
        + attributes_bytes(&span.attributes)
        + span
            .events
            .iter()
            .map(|e| {
                std::mem::size_of::<opentelemetry::trace::Event>()
                    + e.name.len()
                    + attributes_bytes(&e.attributes)
            })
            .sum::<usize>()
        + span
            .links
            .iter()
            .map(|l| {
                std::mem::size_of::<opentelemetry::trace::Link>()
                    + trace_state_bytes(l.span_context.trace_state())
                    + attributes_bytes(&l.attributes)
            })
            .sum::<usize>()
        + match &span.status {
            opentelemetry::trace::Status::Error { description } => description.len(),
            _ => 0,
        }
}

#[cfg(feature = "logs")]
fn any_value_bytes(value: &opentelemetry::logs::AnyValue) -> usize {
    use opentelemetry::logs::AnyValue;
    std::mem::size_of::<AnyValue>()
        + match value {
            AnyValue::String(s) => s.as_str().len(),
            AnyValue::Bytes(b) => b.len(),
            AnyValue::ListAny(l) => l.iter().map(any_value_bytes).sum(),
            AnyValue::Map(m) => m
                .iter()
                .map(|(k, v)| k.as_str().len() + any_value_bytes(v))
                .sum(),
            _ => 0,
        }
}

/// An upper bound of a queued log record's memory and encoding.
#[cfg(feature = "logs")]
pub(crate) fn log_bytes((record, scope): &LogItem) -> usize {
    std::mem::size_of::<LogItem>()
        + scope.name().len()
        + record.target().map_or(0, |t| t.len())
        + record.event_name().map_or(0, str::len)
        + record.severity_text().map_or(0, str::len)
        + record.body().map_or(0, any_value_bytes)
        + record
            .attributes_iter()
            .map(|(k, v)| k.as_str().len() + any_value_bytes(v))
            .sum::<usize>()
}

/// Counters of the export pipeline, shared with the guard.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    exported: AtomicU64,
    dropped_queue_full: AtomicU64,
    failed: AtomicU64,
    too_large: AtomicU64,
    unfinished: AtomicU64,
}

/// What happened to the spans that were handed to the exporter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full (the collector was down or slow
    /// for longer than the queue could absorb): the oldest queued ones.
    pub dropped_queue_full: u64,
    /// Spans in export requests that failed (after retries), or that the
    /// collector refused in an accepted request (OTLP partial success).
    pub failed: u64,
    /// Spans larger, alone, than one export request may carry.
    pub too_large: u64,
    /// Spans still queued (or in flight) when shutdown hit its deadline.
    pub unfinished_at_shutdown: u64,
}

impl ExportStats {
    /// Spans lost, for any reason.
    pub fn lost(&self) -> u64 {
        self.dropped_queue_full + self.failed + self.too_large + self.unfinished_at_shutdown
    }
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ExportStats {
        ExportStats {
            exported: self.exported.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            too_large: self.too_large.load(Ordering::Relaxed),
            unfinished_at_shutdown: self.unfinished.load(Ordering::Relaxed),
        }
    }
}

/// The queue: items waiting for export, and the bytes of those and of the
/// batch being exported.
struct Queue<T> {
    items: VecDeque<(T, usize)>,
    /// Bytes of the queued items and of the batch in flight.
    bytes: usize,
    /// Items in the batch in flight.
    in_flight: usize,
}

/// What the request path and the export thread share.
struct Shared<T> {
    queue: Mutex<Queue<T>>,
    max_items: usize,
    max_bytes: usize,
    batch_size: usize,
    counters: Arc<Counters>,
    /// A full batch is waiting.
    wake: Notify,
    /// Items were dropped: the reporter says so, once per episode.
    loss: Notify,
    /// Items were lost (dropped or failed) and export has not resumed since.
    losing: AtomicBool,
    /// This episode's queue drops / failed requests were reported.
    reported_queue_full: AtomicBool,
    reported_failed: AtomicBool,
    /// An accepted request's answer could not be read (reported once a run).
    reported_unread: AtomicBool,
    /// Export is failing.
    failing: AtomicBool,
    /// Why the export thread stopped before shutdown (a bug: it panicked);
    /// `dead` says so without a lock on the request path.
    dead: AtomicBool,
    died: Mutex<Option<String>>,
    /// Shutdown was asked for: retries stop.
    stopping: AtomicBool,
    stop: Notify,
    /// The last export failure, for the queue-full report.
    last_failure: Mutex<Option<String>>,
    /// When the request in flight was sent, for the queue-full report.
    sent_at: Mutex<Option<Instant>>,
    /// Lost items when the current episode of losses began.
    lost_before: AtomicU64,
    /// Whether an export failed during the current episode.
    episode_failed: AtomicBool,
    /// When the queue last dropped an item, in ms since `epoch`.
    last_drop_ms: AtomicU64,
    epoch: Instant,
}

/// An episode of queue drops without export failures (a collector slower
/// than the spans come) ends after this long without a drop.
const OVERLOAD_QUIET: Duration = Duration::from_secs(5);

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<T>> {
        // A panic while holding the lock cannot leave the queue inconsistent
        // (every change is a single push/pop and counter update).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The export thread stopped (it panicked): what is queued or in flight
    /// is lost, and so is every item queued from now on (counted as failed).
    fn stopped<E: Export>(&self, why: &str) {
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
            "the {kind} export thread stopped ({why}): the {lost} {kind}s queued and every later one are lost and counted (the total comes at shutdown)",
            kind = E::KIND
        );
    }

    /// Why the export thread stopped early, if it did.
    fn died(&self) -> Option<String> {
        if !self.dead.load(Ordering::Acquire) {
            return None;
        }
        self.died.lock().ok().and_then(|d| d.clone())
    }
}

/// A panic's message, shortened and escaped.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(s), _) => s,
        (_, Some(s)) => s.as_str(),
        _ => "a panic",
    };
    format!("panic: {}", crate::text::shorten_untrusted(text, 200))
}

enum Control {
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
    fn enqueue(&self, item: T, size: usize) {
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

    fn flush(&self) -> OTelSdkResult {
        self.ask(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_within(&self, timeout: Duration) -> OTelSdkResult {
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

    /// The totals of this run, always, at shutdown.
    fn report_summary(&self, error: Option<&OTelSdkError>) {
        let stats = self.shared.counters.snapshot();
        let kind = self.kind;
        let to = &self.destination;
        if stats.lost() == 0 && error.is_none() {
            tracing::info!(
                target: "distributed_tracing::export",
                exported = stats.exported,
                "{kind}s exported to {to} during this run: {}, none lost",
                stats.exported
            );
        } else {
            tracing::warn!(
                target: "distributed_tracing::export",
                exported = stats.exported,
                lost = stats.lost(),
                dropped_queue_full = stats.dropped_queue_full,
                failed = stats.failed,
                too_large = stats.too_large,
                unfinished_at_shutdown = stats.unfinished_at_shutdown,
                "{kind}s exported to {to} during this run: {}, lost: {}{}",
                stats.exported,
                stats.lost(),
                match error {
                    Some(OTelSdkError::Timeout(t)) => format!(
                        " (shutdown stopped waiting after {} ms)",
                        t.as_millis()
                    ),
                    Some(e) => format!(" (shutdown: {e})"),
                    None => String::new(),
                }
            );
        }
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

impl SpanProcessor for QueueProcessor<SpanData> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if span.span_context.is_sampled() {
            if span.parent_span_id == SpanId::INVALID {
                random_flag_on_root(&mut span);
            }
            if let Some(limit) = self.value_length {
                super::limits::truncate_span(&mut span, limit);
            }
            let size = span_bytes(&span);
            self.enqueue(span, size);
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

/// Reports the first drop of an episode at once, on the export thread's
/// runtime, even while the worker waits on a hanging export.
async fn report_losses<E: Export>(shared: Arc<Shared<E::Item>>, destination: String) {
    loop {
        shared.loss.notified().await;
        shared.losing.store(true, Ordering::Release);
        if shared.reported_queue_full.swap(true, Ordering::AcqRel) {
            continue;
        }
        let why = match shared.last_failure.lock().ok().and_then(|f| f.clone()) {
            Some(failure) => format!("export to {destination} is failing: {failure}"),
            None => match shared.sent_at.lock().ok().and_then(|t| *t) {
                Some(sent) => format!(
                    "export to {destination} is not keeping up: a request has waited {} ms for an answer",
                    sent.elapsed().as_millis()
                ),
                None => format!("export to {destination} is not keeping up"),
            },
        };
        tracing::warn!(
            target: "distributed_tracing::export",
            max_queue_size = shared.max_items,
            max_queue_bytes = shared.max_bytes,
            "{kind} queue full ({why}): the oldest queued {kind}s are dropped and counted (reported once; the total comes at shutdown)",
            kind = E::KIND
        );
    }
}

/// The export thread's state.
struct Worker<E: Export> {
    exporter: E,
    shared: Arc<Shared<E::Item>>,
    control: mpsc::UnboundedReceiver<Control>,
    batch: BatchConfig,
}

/// The first wait between two attempts, and the longest.
const RETRY_INITIAL: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl<E: Export> Worker<E> {
    async fn run(mut self) {
        let mut tick =
            tokio::time::interval(self.batch.scheduled_delay.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let shared = self.shared.clone();
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(Control::Flush(reply)) => {
                        let result = self.export_queued(true).await;
                        let _ = reply.send(result);
                    }
                    Some(Control::Shutdown(reply)) => {
                        let mut result = self.export_queued(true).await;
                        if let Err(e) = self.exporter.shutdown() {
                            result = result.and(Err(e));
                        }
                        let _ = reply.send(result);
                        return;
                    }
                    None => return,
                },
                _ = shared.wake.notified() => {
                    let _ = self.export_queued(false).await;
                }
                _ = tick.tick() => {
                    let _ = self.export_queued(true).await;
                }
            }
        }
    }

    /// Exports full batches, or (`all`) everything queued now.
    async fn export_queued(&mut self, all: bool) -> OTelSdkResult {
        let mut result = Ok(());
        loop {
            let items: Vec<(E::Item, usize)> = {
                let mut q = self.shared.lock();
                if q.items.is_empty() || (!all && q.items.len() < self.batch.max_export_batch_size)
                {
                    break;
                }
                let n = q.items.len().min(self.batch.max_export_batch_size);
                q.in_flight = n;
                q.items.drain(..n).collect()
            };
            let bytes: usize = items.iter().map(|(_, b)| b).sum();
            let encoded: Vec<E::Encoded> = items
                .into_iter()
                .map(|(item, _)| self.exporter.encode(item))
                .collect();
            if let Err(e) = self.export_sized(encoded).await {
                result = Err(e);
            }
            let mut q = self.shared.lock();
            q.in_flight = 0;
            q.bytes -= bytes;
        }
        result
    }

    /// Cuts `batch` into requests under the exporter's limit and sends each.
    async fn export_sized(&mut self, batch: Vec<E::Encoded>) -> OTelSdkResult {
        let limit = self.exporter.max_request_bytes();
        let mut result = Ok(());
        let mut request: Vec<E::Encoded> = Vec::new();
        let mut request_bytes = 0;
        // What a request adds beyond its items: the resource and the scopes.
        let overhead = 16 * 1024;
        for item in batch {
            let len = E::encoded_len(&item);
            if let Some(limit) = limit {
                if len + overhead > limit {
                    self.too_large(1, &format!("{len} bytes alone"));
                    continue;
                }
                if !request.is_empty() && request_bytes + len + overhead > limit {
                    if let Err(e) = self.send(std::mem::take(&mut request)).await {
                        result = Err(e);
                    }
                    request_bytes = 0;
                }
            }
            request_bytes += len;
            request.push(item);
        }
        if !request.is_empty() {
            if let Err(e) = self.send(request).await {
                result = Err(e);
            }
        }
        result
    }

    /// Sends one request: retried while the failure is transient and time is
    /// left; split in halves when the collector finds it too large.
    async fn send(&mut self, request: Vec<E::Encoded>) -> OTelSdkResult {
        let deadline = after(self.batch.export_timeout);
        // Requests still to send, the first one next (halves go to the front).
        let mut pending: VecDeque<Vec<E::Encoded>> = VecDeque::from([request]);
        let mut result = Ok(());
        while let Some(request) = pending.pop_front() {
            let n = request.len() as u64;
            let mut delay = RETRY_INITIAL;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let timeout = self
                    .exporter
                    .request_timeout()
                    .unwrap_or(self.batch.export_timeout)
                    .min(left)
                    .max(Duration::from_millis(1));
                self.set_sent_at(Some(Instant::now()));
                let drops_before = self
                    .shared
                    .counters
                    .dropped_queue_full
                    .load(Ordering::Relaxed);
                let sent = self.exporter.send(&request, timeout).await;
                self.set_sent_at(None);
                let failure = match sent {
                    Ok(sent) => {
                        self.succeeded(n, sent, drops_before);
                        break;
                    }
                    Err(failure) => failure,
                };
                if let Failure::TooLarge(why) = &failure {
                    if request.len() > 1 {
                        let mut first = request;
                        let second = first.split_off(first.len() / 2);
                        pending.push_front(second);
                        pending.push_front(first);
                    } else {
                        self.too_large(1, why);
                    }
                    break;
                }
                // The wait before the next attempt: the backoff, or the
                // collector's hint (already clamped) when it asks for longer.
                let hint = failure.retry_after();
                // The backoff with full jitter over its upper half (attempts
                // of many services spread out), or the collector's hint when
                // it asks for longer: a hint is a minimum, never shortened.
                let wait = match hint {
                    Some(hint) if hint >= delay => hint,
                    _ => delay / 2 + jitter(delay / 2),
                };
                let left = deadline.saturating_duration_since(Instant::now());
                let stopping = self.shared.stopping.load(Ordering::Acquire);
                let next = match (failure.retryable(), stopping) {
                    (false, _) => Next::NotRetryable,
                    (true, true) => Next::Stopping,
                    (true, false) if wait >= left => Next::PastDeadline { wait, hint },
                    (true, false) => Next::RetryIn(left),
                };
                self.failing(&failure, &next);
                if !matches!(next, Next::RetryIn(_)) {
                    self.failed(n, &failure);
                    result = Err(OTelSdkError::InternalFailure(format!(
                        "{} export to {}: {failure}",
                        E::KIND,
                        self.exporter.destination()
                    )));
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.shared.stop.notified() => {}
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
        result
    }

    fn set_sent_at(&self, at: Option<Instant>) {
        if let Ok(mut sent_at) = self.shared.sent_at.lock() {
            *sent_at = at;
        }
    }

    /// An accepted request; `drops_before`: the queue's drops when it was sent.
    fn succeeded(&mut self, n: u64, sent: Sent, drops_before: u64) {
        let counters = &self.shared.counters;
        // Never more than the request held, whatever the answer said.
        let rejected = sent.rejected.min(n);
        let accepted = n - rejected;
        counters.exported.fetch_add(accepted, Ordering::Relaxed);
        if let Some(why) = &sent.unread {
            if !self.shared.reported_unread.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    target: "distributed_tracing::export",
                    "{n} {kind}s accepted by {}, but {why}: they are counted as exported, and whether the collector refused some of them is unknown (reported once)",
                    self.exporter.destination(),
                    kind = E::KIND
                );
            }
        }
        if rejected > 0 {
            counters.failed.fetch_add(rejected, Ordering::Relaxed);
            self.shared.losing.store(true, Ordering::Release);
            if !self.shared.reported_failed.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    target: "distributed_tracing::export",
                    rejected,
                    "{} {kind}s refused by the collector at {}: {} (reported once; the total comes at shutdown)",
                    rejected,
                    self.exporter.destination(),
                    sent.message,
                    kind = E::KIND
                );
            }
            return;
        }
        let was_failing = self.shared.failing.swap(false, Ordering::AcqRel);
        if let Ok(mut last) = self.shared.last_failure.lock() {
            *last = None;
        }
        // An episode with failures ends with the first accepted request (the
        // collector is back). One of drops alone (a collector that answers, but
        // slower than spans come) goes on while the queue keeps dropping: no
        // "resumed" note and no new "queue full" warning after every request.
        let shared = &self.shared;
        let dropping = counters.dropped_queue_full.load(Ordering::Relaxed) != drops_before;
        let since_drop = (shared.epoch.elapsed().as_millis() as u64)
            .saturating_sub(shared.last_drop_ms.load(Ordering::Relaxed));
        let overloaded = dropping || since_drop < OVERLOAD_QUIET.as_millis() as u64;
        if !was_failing
            && !shared.episode_failed.load(Ordering::Acquire)
            && overloaded
            && shared.losing.load(Ordering::Acquire)
        {
            return;
        }
        shared.episode_failed.store(false, Ordering::Release);
        shared.reported_queue_full.store(false, Ordering::Release);
        shared.reported_failed.store(false, Ordering::Release);
        let was_losing = self.shared.losing.swap(false, Ordering::AcqRel);
        if was_failing || was_losing {
            let lost = counters.snapshot().lost();
            let before = self.shared.lost_before.swap(lost, Ordering::Relaxed);
            tracing::info!(
                target: "distributed_tracing::export",
                lost_since = lost.saturating_sub(before),
                lost_in_total = lost,
                "{kind} export to {} resumed; {} {kind}s lost while it was interrupted",
                self.exporter.destination(),
                lost.saturating_sub(before),
                kind = E::KIND
            );
        } else {
            self.shared
                .lost_before
                .store(counters.snapshot().lost(), Ordering::Relaxed);
        }
    }

    /// The first failure of an episode is reported at once, with what
    /// happens next.
    fn failing(&mut self, failure: &Failure, next: &Next) {
        if let Ok(mut last) = self.shared.last_failure.lock() {
            *last = Some(failure.to_string());
        }
        self.shared.episode_failed.store(true, Ordering::Release);
        if !self.shared.failing.swap(true, Ordering::AcqRel) {
            let kind = E::KIND;
            let then = match next {
                Next::RetryIn(left) => format!(
                    "retrying for up to {} ms while {kind}s stay queued (reported once until export resumes)",
                    left.as_millis()
                ),
                Next::PastDeadline { wait, hint: Some(hint) } if *hint >= *wait => format!(
                    "the collector asks to wait {} s before another attempt, past this export's deadline: not retried, these {kind}s are lost; the next batch tries again (reported once until export resumes)",
                    hint.as_secs()
                ),
                Next::PastDeadline { .. } => format!(
                    "no time left before this export's deadline: not retried, these {kind}s are lost (reported once until export resumes)"
                ),
                Next::Stopping => format!(
                    "not retried during shutdown: these {kind}s are lost"
                ),
                Next::NotRetryable => format!(
                    "not retried: these {kind}s are lost (reported once until export resumes)"
                ),
            };
            tracing::warn!(
                target: "distributed_tracing::export",
                "{kind} export to {} failed: {failure}; {then}",
                self.exporter.destination(),
            );
        }
    }

    fn failed(&mut self, n: u64, failure: &Failure) {
        self.shared.counters.failed.fetch_add(n, Ordering::Relaxed);
        self.shared.losing.store(true, Ordering::Release);
        if !self.shared.reported_failed.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                target: "distributed_tracing::export",
                lost = n,
                "{n} {kind}s lost: export to {} kept failing ({failure}) (reported once; the total comes at shutdown)",
                self.exporter.destination(),
                kind = E::KIND
            );
        }
    }

    fn too_large(&mut self, n: u64, why: &str) {
        let before = self
            .shared
            .counters
            .too_large
            .fetch_add(n, Ordering::Relaxed);
        if before == 0 {
            tracing::warn!(
                target: "distributed_tracing::export",
                "a {kind} too large to export to {} was dropped ({why}); lower the attribute limits (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) (reported once; the total comes at shutdown)",
                self.exporter.destination(),
                kind = E::KIND
            );
        }
    }
}

/// What follows a failed attempt.
#[derive(Debug)]
enum Next {
    /// Another attempt, with this much time left before the deadline.
    RetryIn(Duration),
    /// The wait would end past the deadline (`hint`: the collector's).
    PastDeadline {
        wait: Duration,
        hint: Option<Duration>,
    },
    /// Shutdown was asked for.
    Stopping,
    /// The failure is not worth another attempt.
    NotRetryable,
}

/// `d` from now, or as far as the clock goes: a deadline never overflows,
/// whatever a configured duration says.
pub(crate) fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// A random duration in `[0, max]`.
fn jitter(max: Duration) -> Duration {
    use rand::Rng as _;
    let nanos = max.as_nanos().min(u64::MAX as u128) as u64;
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One scripted answer of [`Scripted`].
    enum Script {
        Accept(Sent),
        Fail(Failure),
        Panic,
    }

    /// An exporter that answers from a script (then accepts), and counts
    /// what it was handed.
    struct Scripted {
        script: Arc<Mutex<VecDeque<Script>>>,
        received: Arc<AtomicU64>,
        attempts: Arc<AtomicU64>,
    }

    impl Export for Scripted {
        type Item = u64;
        type Encoded = u64;
        const KIND: &'static str = "item";

        fn encode(&mut self, item: u64) -> u64 {
            item
        }
        fn encoded_len(_item: &u64) -> usize {
            8
        }
        fn max_request_bytes(&self) -> Option<usize> {
            None
        }
        async fn send(&mut self, batch: &[u64], _timeout: Duration) -> Result<Sent, Failure> {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            let next = self.script.lock().unwrap().pop_front();
            match next {
                Some(Script::Fail(failure)) => Err(failure),
                Some(Script::Panic) => panic!("scripted panic"),
                Some(Script::Accept(sent)) => {
                    self.received
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    Ok(sent)
                }
                None => {
                    self.received
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    Ok(Sent::default())
                }
            }
        }
        fn set_resource(&mut self, _resource: &Resource) {}
        fn destination(&self) -> &str {
            "scripted"
        }
        fn shutdown(&mut self) -> OTelSdkResult {
            Ok(())
        }
    }

    struct Run {
        processor: QueueProcessor<u64>,
        counters: Arc<Counters>,
        received: Arc<AtomicU64>,
        attempts: Arc<AtomicU64>,
    }

    fn run(script: Vec<Script>, batch: BatchConfig) -> Run {
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let received = Arc::new(AtomicU64::new(0));
        let attempts = Arc::new(AtomicU64::new(0));
        let exporter = Scripted {
            script,
            received: received.clone(),
            attempts: attempts.clone(),
        };
        let (processor, counters) = QueueProcessor::start(
            move || Ok(exporter),
            Resource::builder_empty().build(),
            batch,
        )
        .unwrap();
        Run {
            processor,
            counters,
            received,
            attempts,
        }
    }

    fn batch() -> BatchConfig {
        BatchConfig {
            max_export_batch_size: 10,
            export_timeout: Duration::from_secs(2),
            ..BatchConfig::default()
        }
    }

    fn throttled(retry_after: Duration) -> Failure {
        Failure::Rejected {
            status: "HTTP status 503".into(),
            retryable: true,
            retry_after: Some(retry_after),
        }
    }

    /// A hint far past the deadline (and past what `Instant` can hold) is not
    /// waited for and does not panic: one attempt, the items counted as
    /// failed, and the next batch goes out.
    #[test]
    fn a_hint_past_the_deadline_is_one_attempt_and_no_panic() {
        for hint in [Duration::MAX, super::super::answers::RETRY_HINT_MAX] {
            let r = run(vec![Script::Fail(throttled(hint))], batch());
            for i in 0..10 {
                r.processor.enqueue(i, 8);
            }
            assert!(r.processor.flush().is_err(), "the first batch failed");
            for i in 0..10 {
                r.processor.enqueue(i, 8);
            }
            r.processor.flush().expect("the export thread is alive");
            r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
            let stats = r.counters.snapshot();
            assert_eq!(r.attempts.load(Ordering::Relaxed), 2, "{hint:?}");
            assert_eq!((stats.exported, stats.failed), (10, 10), "{hint:?}");
            assert_eq!(r.received.load(Ordering::Relaxed), 10);
        }
    }

    /// A partial success claiming more than the request held counts the
    /// request, never more, and never wraps.
    #[test]
    fn a_partial_success_is_bounded_by_the_request() {
        for claimed in [11, u64::MAX / 2, u64::MAX] {
            let sent = Sent {
                rejected: claimed,
                message: "x".into(),
                unread: None,
            };
            let r = run(vec![Script::Accept(sent)], batch());
            for i in 0..4 {
                r.processor.enqueue(i, 8);
            }
            r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
            let stats = r.counters.snapshot();
            assert_eq!((stats.exported, stats.failed), (0, 4), "{claimed}");
            assert_eq!(stats.lost(), 4);
        }
    }

    /// Configured durations far past what `Instant` holds start no deadline
    /// that overflows (the schedule, the export timeout).
    #[test]
    fn huge_durations_do_not_overflow() {
        let r = run(
            vec![Script::Fail(throttled(Duration::from_millis(1)))],
            BatchConfig {
                scheduled_delay: Duration::MAX,
                export_timeout: Duration::MAX,
                max_export_batch_size: 2,
                ..BatchConfig::default()
            },
        );
        for i in 0..4 {
            r.processor.enqueue(i, 8);
        }
        r.processor.flush().unwrap();
        r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
        assert_eq!(r.counters.snapshot().exported, 4);
    }

    /// A failure's words may come from the collector (a status message, a
    /// name in its certificate): shown shortened and escaped.
    #[test]
    fn failures_are_shown_escaped_and_bounded() {
        let hostile = format!("a\u{202e}b\nc\u{1b}{}", "x".repeat(100_000));
        for failure in [
            Failure::Tls(hostile.clone()),
            Failure::Interrupted(hostile.clone()),
            Failure::Rejected {
                status: hostile.clone(),
                retryable: true,
                retry_after: None,
            },
        ] {
            let shown = failure.to_string();
            assert!(shown.chars().count() < 500, "{}", shown.len());
            assert!(!shown.chars().any(crate::text::is_untrusted), "{shown:?}");
            assert!(shown.contains("a\\u{202e}b\\nc"), "{shown}");
        }
        let panic: Box<dyn std::any::Any + Send> = Box::new(hostile);
        let shown = panic_message(panic.as_ref());
        assert!(shown.len() < 300 && !shown.chars().any(crate::text::is_untrusted));
    }

    /// Should the worker ever panic, the loss is counted (what was queued and
    /// everything queued later) and shutdown says why, not "already shut down".
    #[test]
    fn a_panicking_worker_is_counted_and_named() {
        let r = run(vec![Script::Panic], batch());
        for i in 0..3 {
            r.processor.enqueue(i, 8);
        }
        let flushed = r.processor.flush();
        assert!(flushed.is_err());
        for i in 0..5 {
            r.processor.enqueue(i, 8);
        }
        let err = r
            .processor
            .shutdown_within(Duration::from_secs(5))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("export thread had stopped (panic: scripted panic)"),
            "{err}"
        );
        let stats = r.counters.snapshot();
        assert_eq!((stats.exported, stats.failed), (0, 8));
    }
}
