//! The export thread: cuts batches to the exporter's request size, sends
//! them, splits a request the collector refuses as too large, retries what
//! may succeed later (backoff with jitter, or the collector's hint, within the
//! export timeout), and reports losses once per episode (see the
//! [module docs](super)).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use tokio::sync::mpsc;

use super::queue::{Control, Shared, OVERLOAD_QUIET};
use super::{count, until_shutdown, Export, Failure, Sent};
use crate::config::BatchConfig;

/// Reports the first drop of an episode at once, on the export thread's
/// runtime, even while the worker waits on a hanging export.
pub(super) async fn report_losses<E: Export>(shared: Arc<Shared<E::Item>>, destination: String) {
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
            "{kind} queue full ({why}): the oldest queued {kind}s are dropped and counted (reported once{})",
            until_shutdown(shared.stopping.load(Ordering::Acquire)),
            kind = E::KIND
        );
    }
}

/// The export thread's state.
pub(super) struct Worker<E: Export> {
    pub(super) exporter: E,
    pub(super) shared: Arc<Shared<E::Item>>,
    pub(super) control: mpsc::UnboundedReceiver<Control>,
    pub(super) batch: BatchConfig,
}

/// How much of the queue one export round sends.
#[derive(Debug, Clone, Copy)]
enum Drain {
    /// Full batches only (a full batch woke the thread).
    FullBatches,
    /// What is queued when the round starts, then full batches (a tick, a flush).
    QueuedNow,
    /// Until the queue is empty (shutdown).
    Empty,
}

/// The first wait between two attempts, and the longest.
const RETRY_INITIAL: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl<E: Export> Worker<E> {
    pub(super) async fn run(mut self) {
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
                        let result = self.export_queued(Drain::QueuedNow).await;
                        let _ = reply.send(result);
                    }
                    Some(Control::Shutdown(reply)) => {
                        let mut result = self.export_queued(Drain::Empty).await;
                        if let Err(e) = self.exporter.shutdown() {
                            result = result.and(Err(e));
                        }
                        let _ = reply.send(result);
                        return;
                    }
                    None => return,
                },
                _ = shared.wake.notified() => {
                    let _ = self.export_queued(Drain::FullBatches).await;
                }
                _ = tick.tick() => {
                    let _ = self.export_queued(Drain::QueuedNow).await;
                }
            }
        }
    }

    /// Exports full batches; with `Drain::QueuedNow` first what is queued
    /// when it starts (a tick, a flush: spans that come meanwhile wait for a
    /// full batch or the next tick, so that a steady load is sent in full
    /// batches, not in a stream of small requests); with `Drain::Empty`
    /// (shutdown) until the queue is empty.
    async fn export_queued(&mut self, drain: Drain) -> OTelSdkResult {
        let mut result = Ok(());
        let mut budget = match drain {
            Drain::FullBatches => 0,
            Drain::QueuedNow => self.shared.lock().items.len(),
            Drain::Empty => usize::MAX,
        };
        loop {
            let items: Vec<(E::Item, usize)> = {
                let mut q = self.shared.lock();
                if q.items.is_empty()
                    || (budget == 0 && q.items.len() < self.batch.max_export_batch_size)
                {
                    break;
                }
                let n = q.items.len().min(self.batch.max_export_batch_size);
                budget = budget.saturating_sub(n);
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
        while let Some(mut request) = pending.pop_front() {
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
                        let mut first = std::mem::take(&mut request);
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
                let said_lost = self.failing(&failure, &next, n);
                if !matches!(next, Next::RetryIn(_)) {
                    // The first failure's report already said these are lost.
                    if said_lost {
                        self.shared.reported_failed.store(true, Ordering::Release);
                    }
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
            self.exporter.recycle(request);
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
                    "{} refused by the collector at {}: {} (reported once{})",
                    count(rejected, E::KIND),
                    self.exporter.destination(),
                    sent.message,
                    until_shutdown(self.shared.stopping.load(Ordering::Acquire)),
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
                "{kind} export to {} resumed; {} lost while it was interrupted",
                self.exporter.destination(),
                count(lost.saturating_sub(before), E::KIND),
                kind = E::KIND
            );
        } else {
            self.shared
                .lost_before
                .store(counters.snapshot().lost(), Ordering::Relaxed);
        }
    }

    /// The first failure of an episode is reported at once, with what
    /// happens next to the `n` items of the request; returns whether that
    /// report said they are lost.
    fn failing(&mut self, failure: &Failure, next: &Next, n: u64) -> bool {
        if let Ok(mut last) = self.shared.last_failure.lock() {
            *last = Some(failure.to_string());
        }
        self.shared.episode_failed.store(true, Ordering::Release);
        if self.shared.failing.swap(true, Ordering::AcqRel) {
            return false;
        }
        let kind = E::KIND;
        let these = match n {
            1 => format!("this {kind} is lost"),
            n => format!("these {n} {kind}s are lost"),
        };
        let then = match next {
            Next::RetryIn(left) => format!(
                "retrying for up to {} ms while {kind}s stay queued (reported once until export resumes)",
                left.as_millis()
            ),
            Next::PastDeadline { wait, hint: Some(hint) } if *hint >= *wait => format!(
                "the collector asks to wait {} s before another attempt, past this export's deadline: not retried, {these}; the next batch tries again (reported once until export resumes)",
                hint.as_secs()
            ),
            Next::PastDeadline { .. } => format!(
                "no time left before this export's deadline: not retried, {these} (reported once until export resumes)"
            ),
            Next::Stopping => format!("not retried during shutdown: {these}"),
            Next::NotRetryable => {
                format!("not retried: {these} (reported once until export resumes)")
            }
        };
        tracing::warn!(
            target: "distributed_tracing::export",
            "{kind} export to {} failed: {failure}; {then}",
            self.exporter.destination(),
        );
        !matches!(next, Next::RetryIn(_))
    }

    /// `n` items lost after their last attempt: reported once per episode,
    /// unless the first failure's report said so already.
    fn failed(&mut self, n: u64, failure: &Failure) {
        self.shared.counters.failed.fetch_add(n, Ordering::Relaxed);
        self.shared.losing.store(true, Ordering::Release);
        if !self.shared.reported_failed.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                target: "distributed_tracing::export",
                "{} lost: export to {} kept failing ({failure}) (reported once{})",
                count(n, E::KIND),
                self.exporter.destination(),
                until_shutdown(self.shared.stopping.load(Ordering::Acquire)),
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
                "a {kind} too large to export to {} was dropped ({why}); lower the attribute limits (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) (reported once{})",
                self.exporter.destination(),
                until_shutdown(self.shared.stopping.load(Ordering::Acquire)),
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
