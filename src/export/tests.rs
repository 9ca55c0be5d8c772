//! The pipeline's unit tests: a scripted [`Export`] behind the queue and the
//! worker (what a collector answers, in the order a test says).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::Resource;

use super::queue::panic_message;
use super::stats::Counters;
use super::{Export, Failure, QueueProcessor, Sent};
use crate::config::BatchConfig;

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
    /// The size of every request it was handed, in order.
    requests: Arc<Mutex<Vec<usize>>>,
    destination: &'static str,
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
        self.requests.lock().unwrap().push(batch.len());
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
        self.destination
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
    requests: Arc<Mutex<Vec<usize>>>,
}

fn run(script: Vec<Script>, batch: BatchConfig) -> Run {
    run_to("scripted", script, batch)
}

/// [`run`] with a destination of its own (the reports name it).
fn run_to(destination: &'static str, script: Vec<Script>, batch: BatchConfig) -> Run {
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let received = Arc::new(AtomicU64::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let exporter = Scripted {
        script,
        received: received.clone(),
        attempts: attempts.clone(),
        requests: requests.clone(),
        destination,
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
        requests,
    }
}

impl Run {
    /// Queues `n` items and waits for their export (its error ignored).
    fn export(&self, n: u64) {
        for i in 0..n {
            self.processor.enqueue(i, 8);
        }
        let _ = self.processor.flush();
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
    for hint in [Duration::MAX, super::otlp::answers::RETRY_HINT_MAX] {
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
        assert!(
            !shown.chars().any(crate::untrusted::is_untrusted),
            "{shown:?}"
        );
        assert!(shown.contains("a\\u{202e}b\\nc"), "{shown}");
    }
    let panic: Box<dyn std::any::Any + Send> = Box::new(hostile);
    let shown = panic_message(panic.as_ref());
    assert!(shown.len() < 300 && !shown.chars().any(crate::untrusted::is_untrusted));
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

/// A request the collector finds too large is split in halves until each
/// fits; an item too large alone is dropped alone and counted.
#[test]
fn a_request_too_large_is_split_in_halves() {
    let too_large = || Script::Fail(Failure::TooLarge("HTTP status 413".into()));
    let r = run(vec![too_large(), too_large()], batch());
    r.export(10);
    r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
    // 10 refused, its first half (5) refused, then 2 + 3, then the second 5.
    assert_eq!(*r.requests.lock().unwrap(), [10, 5, 2, 3, 5]);
    let stats = r.counters.snapshot();
    assert_eq!((stats.exported, stats.too_large, stats.lost()), (10, 0, 0));

    let r = run(vec![too_large(), too_large(), too_large()], batch());
    r.export(2);
    r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
    assert_eq!(*r.requests.lock().unwrap(), [2, 1, 1]);
    let stats = r.counters.snapshot();
    assert_eq!((stats.exported, stats.too_large, stats.failed), (0, 2, 0));
}

/// Transient failures (no connection, no answer in time, a retryable
/// status) are retried within the export timeout, the items kept meanwhile.
#[test]
fn a_transient_failure_is_retried_then_succeeds() {
    let r = run(
        vec![
            Script::Fail(Failure::Unreachable("connection refused".into())),
            Script::Fail(Failure::TimedOut(Duration::from_millis(10))),
            Script::Fail(Failure::Rejected {
                status: "gRPC status UNAVAILABLE".into(),
                retryable: true,
                retry_after: None,
            }),
        ],
        batch(),
    );
    r.export(10);
    r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
    assert_eq!(*r.requests.lock().unwrap(), [10, 10, 10, 10]);
    let stats = r.counters.snapshot();
    assert_eq!((stats.exported, stats.lost()), (10, 0));
    assert_eq!(r.received.load(Ordering::Relaxed), 10);
}

/// A refusal the OTLP specification says not to retry is one attempt; its
/// items are counted as failed, and the next batch goes out.
#[test]
fn a_final_refusal_is_counted_and_not_retried() {
    for failure in [
        Failure::Rejected {
            status: "HTTP status 400".into(),
            retryable: false,
            retry_after: None,
        },
        Failure::Tls("unknown CA".into()),
        Failure::Transport("h2 protocol error".into()),
    ] {
        let shown = failure.to_string();
        let r = run(vec![Script::Fail(failure)], batch());
        r.export(10);
        r.export(4);
        r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
        assert_eq!(*r.requests.lock().unwrap(), [10, 4], "{shown}");
        let stats = r.counters.snapshot();
        assert_eq!((stats.exported, stats.failed), (4, 10), "{shown}");
    }
}

/// Losses are reported once per episode: the first failure (which says its
/// items are lost when they are not retried, so no second line says it),
/// then one note when export resumes with the count lost meanwhile; the next
/// episode is reported again, and the total comes at shutdown.
#[test]
fn losses_are_reported_once_per_episode() {
    const DESTINATION: &str = "scripted-episodes";
    let reports = report_capture();
    let refused = || {
        Script::Fail(Failure::Rejected {
            status: "HTTP status 400".into(),
            retryable: false,
            retry_after: None,
        })
    };
    let r = run_to(
        DESTINATION,
        vec![
            refused(),
            refused(),
            refused(),
            Script::Accept(Sent::default()),
            refused(),
        ],
        batch(),
    );
    for _ in 0..5 {
        r.export(2);
    }
    r.processor.shutdown_within(Duration::from_secs(5)).unwrap();
    let reports: Vec<String> = reports
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains(DESTINATION))
        .cloned()
        .collect();
    let count = |words: &str| reports.iter().filter(|r| r.contains(words)).count();
    assert_eq!(
        count("failed: rejected with HTTP status 400; not retried: these 2 items are lost"),
        2,
        "{reports:#?}"
    );
    assert_eq!(count("resumed; 6 items lost"), 1, "{reports:#?}");
    assert_eq!(
        count("2 items exported to scripted-episodes during this run, 8 lost (8 failed)"),
        1,
        "{reports:#?}"
    );
    assert_eq!(
        reports.len(),
        4,
        "nothing else, no loss said twice: {reports:#?}"
    );
    assert_eq!(r.counters.snapshot().failed, 8);
}

/// The export threads' reports from now on (target
/// `distributed_tracing::export`), as `LEVEL message`. An export thread logs to
/// the global subscriber: this one is only interested in those events (no
/// span, no other target), so the other tests of the binary see no subscriber.
fn report_capture() -> &'static Mutex<Vec<String>> {
    use std::sync::OnceLock;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata};

    static REPORTS: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    struct Reports(Arc<Mutex<Vec<String>>>);
    struct Message(String);
    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }
    impl tracing::Subscriber for Reports {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.is_event() && metadata.target() == "distributed_tracing::export"
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut message = Message(String::new());
            event.record(&mut message);
            let line = format!("{} {}", event.metadata().level(), message.0);
            self.0.lock().unwrap().push(line);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
    let reports = REPORTS.get_or_init(|| {
        let reports = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::set_global_default(Reports(reports.clone()))
            .expect("no other global subscriber in the library's tests");
        reports
    });
    reports
}
