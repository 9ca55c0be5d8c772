//! OTLP's `Metric` message of a request-metrics histogram, written straight
//! from [`Histogram`] with the span encoder's field writers: one message per
//! instrument (its points, each with its buckets and exemplars).

use prost::encoding::WireType;

use super::span_proto::{attributes, bytes, fixed64, message, string};
use crate::metrics::{Exemplar, Histogram, HistogramPoint, Temporality};
use crate::otlp_file::write::nanos;

/// A `double` field, written even when 0 (`sum`, `min`, `max` are `optional`:
/// presence is what says they were measured).
fn double(out: &mut Vec<u8>, tag: u32, value: f64) {
    prost::encoding::encode_key(tag, WireType::SixtyFourBit, out);
    out.extend_from_slice(&value.to_le_bytes());
}

/// A packed repeated field of 8-byte values (`fixed64` counts, `double` bounds).
fn packed(out: &mut Vec<u8>, tag: u32, values: impl ExactSizeIterator<Item = [u8; 8]>) {
    if values.len() == 0 {
        return;
    }
    message(out, tag, |out| {
        for v in values {
            out.extend_from_slice(&v);
        }
    });
}

/// `AggregationTemporality`'s number.
pub(crate) fn temporality_number(temporality: Temporality) -> u64 {
    match temporality {
        Temporality::Delta => 1,
        Temporality::Cumulative => 2,
    }
}

fn exemplar(out: &mut Vec<u8>, e: &Exemplar) {
    // Exemplar: filtered_attributes = 7, time_unix_nano = 2, as_double = 3,
    // span_id = 4, trace_id = 5.
    message(out, 8, |out| {
        fixed64(out, 2, nanos(e.time));
        double(out, 3, e.value);
        bytes(out, 4, &e.span_id.to_bytes());
        bytes(out, 5, &e.trace_id.to_bytes());
        attributes(out, 7, &e.filtered_attributes);
    });
}

fn point(out: &mut Vec<u8>, p: &HistogramPoint) {
    // HistogramDataPoint: start_time_unix_nano = 2, time_unix_nano = 3,
    // count = 4, sum = 5, bucket_counts = 6, explicit_bounds = 7,
    // exemplars = 8, attributes = 9, min = 11, max = 12.
    message(out, 1, |out| {
        fixed64(out, 2, nanos(p.start_time));
        fixed64(out, 3, nanos(p.time));
        fixed64(out, 4, p.count);
        double(out, 5, p.sum);
        packed(out, 6, p.bucket_counts.iter().map(|c| c.to_le_bytes()));
        packed(out, 7, p.bounds.iter().map(|b| b.to_le_bytes()));
        for e in &p.exemplars {
            exemplar(out, e);
        }
        attributes(out, 9, &p.attributes);
        if let Some(min) = p.min {
            double(out, 11, min);
        }
        if let Some(max) = p.max {
            double(out, 12, max);
        }
    });
}

/// The fields of a `Metric` holding `histogram` (name = 1, description = 2,
/// unit = 3, histogram = 9 with data_points = 1 and
/// aggregation_temporality = 2).
pub(crate) fn metric(out: &mut Vec<u8>, histogram: &Histogram) {
    let instrument = histogram.instrument;
    string(out, 1, instrument.name());
    string(out, 2, instrument.description());
    string(out, 3, instrument.unit());
    message(out, 9, |out| {
        for p in &histogram.points {
            point(out, p);
        }
        prost::encoding::encode_key(2, WireType::Varint, out);
        prost::encoding::encode_varint(temporality_number(histogram.temporality), out);
    });
}
