//! What a collection of [`RequestMetrics`](super::RequestMetrics) returns:
//! histograms of data points, with their exemplars, as OTLP carries them.

use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::KeyValue;

use super::Instrument;

/// How the points of a collection add up over time (OTLP's
/// `AggregationTemporality`), chosen by
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Temporality {
    /// Each point holds everything since its series started (`cumulative`,
    /// the default; what Prometheus reads).
    #[default]
    Cumulative,
    /// Each point holds what came since the last collection (`delta`, and
    /// `lowmemory` for histograms).
    Delta,
}

/// One instrument's points of a collection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Histogram {
    /// Which histogram.
    pub instrument: Instrument,
    /// How its points add up.
    pub temporality: Temporality,
    /// A point per series (attribute set).
    pub points: Vec<HistogramPoint>,
}

/// One series' explicit-bucket histogram at a collection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistogramPoint {
    /// The series' attributes (`otel.metric.overflow = true` alone for the
    /// overflow series).
    pub attributes: Vec<KeyValue>,
    /// Where the point's interval starts: the series' first measurement
    /// (cumulative), the last collection (delta).
    pub start_time: SystemTime,
    /// When it was collected.
    pub time: SystemTime,
    /// Measurements.
    pub count: u64,
    /// Their sum, in seconds.
    pub sum: f64,
    /// The least and the greatest (none without measurements).
    pub min: Option<f64>,
    /// See `min`.
    pub max: Option<f64>,
    /// The buckets' upper boundaries (inclusive).
    pub bounds: &'static [f64],
    /// Measurements per bucket: one more than `bounds`.
    pub bucket_counts: Vec<u64>,
    /// At most one a bucket: a measurement taken inside a sampled span.
    pub exemplars: Vec<Exemplar>,
}

/// A measurement kept with the ids of the span it was taken in, so that a
/// backend can go from a bucket to a trace.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Exemplar {
    /// The duration, in seconds.
    pub value: f64,
    /// When it was measured (the span's end).
    pub time: SystemTime,
    /// The request's trace.
    pub trace_id: TraceId,
    /// The request's span (SERVER or CLIENT).
    pub span_id: SpanId,
    /// The measurement's attributes that the point does not carry: those of
    /// an attribute set folded into the overflow series; empty otherwise.
    pub filtered_attributes: Vec<KeyValue>,
}

impl HistogramPoint {
    /// The value of attribute `key`, if the series has it.
    pub fn attribute(&self, key: &str) -> Option<&opentelemetry::Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// Adds `other`'s measurements to this point (its count, sum, buckets,
    /// min and max, exemplars and interval), keeping this point's
    /// attributes: to sum series over an attribute (a route's status codes),
    /// or delta points over time. Points with other buckets are left as
    /// they are (returns `false`).
    pub fn merge(&mut self, other: &HistogramPoint) -> bool {
        if self.bounds != other.bounds || self.bucket_counts.len() != other.bucket_counts.len() {
            return false;
        }
        self.count += other.count;
        self.sum += other.sum;
        for (mine, theirs) in self.bucket_counts.iter_mut().zip(&other.bucket_counts) {
            *mine += theirs;
        }
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.exemplars.extend(other.exemplars.iter().cloned());
        self.start_time = self.start_time.min(other.start_time);
        self.time = self.time.max(other.time);
        true
    }

    /// An estimate of quantile `q` (0 to 1) from the buckets, as Prometheus'
    /// `histogram_quantile` makes it: linear within the bucket the rank
    /// falls in (its lower end 0 for the first bucket), the last boundary
    /// for the overflow bucket, clamped to the measured min and max. `None`
    /// without measurements or for a `q` outside 0 to 1.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * self.count as f64;
        let mut below = 0u64;
        for (i, &n) in self.bucket_counts.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let estimate = match self.bounds.get(i) {
                    Some(&upper) => {
                        let lower = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                        lower + (upper - lower) * ((rank - below as f64) / n as f64).max(0.0)
                    }
                    None => self.bounds.last().copied().unwrap_or(0.0),
                };
                let (min, max) = (self.min.unwrap_or(0.0), self.max.unwrap_or(f64::MAX));
                return Some(estimate.clamp(min, max.max(min)));
            }
            below += n;
        }
        self.max
    }
}
