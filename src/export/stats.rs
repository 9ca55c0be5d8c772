//! The pipeline's counters, and what the guard shows of them ([`ExportStats`]).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the export pipeline, shared with the guard.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(super) exported: AtomicU64,
    pub(super) dropped_queue_full: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) too_large: AtomicU64,
    pub(super) unfinished: AtomicU64,
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
