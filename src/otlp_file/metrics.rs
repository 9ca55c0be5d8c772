//! The metrics file: `MetricsData` lines of the request metrics' histograms
//! ([`crate::metrics`]), read back as strictly as spans are.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use opentelemetry_sdk::Resource;
use serde::Deserialize;

use super::read::{
    json_error, key_values, span_id, time, trace_id, FromLine, KeyValueJson, ResourceJson, F64, U64,
};
use super::Reader;
use crate::metrics::{Exemplar, Histogram, HistogramPoint, Instrument, Temporality};

/// The histograms of one resource on one line of a metrics file: one
/// collection of a service's request metrics.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MetricsBatch {
    /// The line's number in the file (the first line is 1).
    pub line: u64,
    /// The resource the metrics were exported with (`service.name`, ...).
    pub resource: Resource,
    /// The request-metrics histograms of the line.
    pub histograms: Vec<Histogram>,
    /// Metrics of the line that are not one of the crate's four histograms
    /// (another writer's), left out.
    pub skipped: usize,
}

/// The [`MetricsBatch`]es of a metrics file, line by line (see [`Reader`]).
pub type MetricsReader<R> = Reader<R, MetricsBatch>;

/// Opens a metrics file for reading.
///
/// ```no_run
/// use distributed_tracing::otlp_file;
///
/// // The last collection of a cumulative file holds everything so far.
/// let last = otlp_file::read_metrics("checkout.metrics.jsonl")?
///     .filter_map(Result::ok)
///     .last();
/// for histogram in last.map(|b| b.histograms).unwrap_or_default() {
///     for point in &histogram.points {
///         println!("{} {:?}: {} requests, p99 {:?} s", histogram.instrument.name(),
///             point.attribute("http.route"), point.count, point.quantile(0.99));
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_metrics(path: impl AsRef<Path>) -> io::Result<MetricsReader<BufReader<File>>> {
    Ok(Reader::metrics(BufReader::new(File::open(path)?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricsData {
    #[serde(default)]
    resource_metrics: Vec<ResourceMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceMetrics {
    #[serde(default)]
    resource: Option<ResourceJson>,
    #[serde(default)]
    scope_metrics: Vec<ScopeMetrics>,
    #[serde(default)]
    schema_url: String,
}

#[derive(Deserialize)]
struct ScopeMetrics {
    #[serde(default)]
    metrics: Vec<MetricJson>,
}

#[derive(Deserialize)]
struct MetricJson {
    #[serde(default)]
    name: String,
    #[serde(default)]
    histogram: Option<HistogramJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistogramJson {
    #[serde(default)]
    data_points: Vec<PointJson>,
    #[serde(default)]
    aggregation_temporality: u8,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PointJson {
    #[serde(default)]
    attributes: Vec<KeyValueJson>,
    #[serde(default)]
    start_time_unix_nano: U64,
    #[serde(default)]
    time_unix_nano: U64,
    #[serde(default)]
    count: U64,
    sum: Option<F64>,
    #[serde(default)]
    bucket_counts: Vec<U64>,
    #[serde(default)]
    explicit_bounds: Vec<F64>,
    #[serde(default)]
    exemplars: Vec<ExemplarJson>,
    min: Option<F64>,
    max: Option<F64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExemplarJson {
    #[serde(default)]
    filtered_attributes: Vec<KeyValueJson>,
    #[serde(default)]
    time_unix_nano: U64,
    as_double: Option<F64>,
    #[serde(default)]
    span_id: String,
    #[serde(default)]
    trace_id: String,
}

impl FromLine for MetricsBatch {
    fn from_line(json: &[u8], line: u64, ended: bool) -> Result<Vec<Self>, String> {
        let data: MetricsData = serde_json::from_slice(json).map_err(|e| json_error(&e, ended))?;
        data.resource_metrics
            .into_iter()
            .enumerate()
            .map(|(r, rm)| batch(rm, line, &format!("resourceMetrics[{r}]")))
            .collect()
    }
}

fn batch(rm: ResourceMetrics, line: u64, at: &str) -> Result<MetricsBatch, String> {
    let attributes = key_values(rm.resource.unwrap_or_default().attributes, at)?;
    let resource = match rm.schema_url.is_empty() {
        true => Resource::builder_empty().with_attributes(attributes),
        false => Resource::builder_empty().with_schema_url(attributes, rm.schema_url),
    }
    .build();
    let mut histograms = Vec::new();
    let mut skipped = 0;
    for (s, sm) in rm.scope_metrics.into_iter().enumerate() {
        for (m, metric) in sm.metrics.into_iter().enumerate() {
            let at = format!("{at}.scopeMetrics[{s}].metrics[{m}]");
            let instrument = Instrument::ALL
                .into_iter()
                .find(|i| i.name() == metric.name);
            let (Some(instrument), Some(h)) = (instrument, metric.histogram) else {
                skipped += 1;
                continue;
            };
            let temporality = match h.aggregation_temporality {
                1 => Temporality::Delta,
                2 => Temporality::Cumulative,
                n => {
                    return Err(format!(
                        "{at}: aggregationTemporality {n} is neither 1 (delta) nor 2 (cumulative)"
                    ))
                }
            };
            let points = h
                .data_points
                .into_iter()
                .enumerate()
                .map(|(p, point)| point_of(point, &format!("{at}.histogram.dataPoints[{p}]")))
                .collect::<Result<_, _>>()?;
            histograms.push(Histogram {
                instrument,
                temporality,
                points,
            });
        }
    }
    Ok(MetricsBatch {
        line,
        resource,
        histograms,
        skipped,
    })
}

fn point_of(p: PointJson, at: &str) -> Result<HistogramPoint, String> {
    let bounds: Vec<f64> = p.explicit_bounds.into_iter().map(|b| b.0).collect();
    // The crate's histograms have the conventions' buckets; another
    // writer's are refused rather than read against the wrong bounds.
    if bounds != crate::metrics::DURATION_BUCKETS {
        return Err(format!(
            "{at}: explicitBounds are not the duration buckets of the semantic conventions"
        ));
    }
    let bucket_counts: Vec<u64> = p.bucket_counts.into_iter().map(|c| c.0).collect();
    if bucket_counts.len() != bounds.len() + 1 {
        return Err(format!(
            "{at}: {} bucketCounts for {} explicitBounds (one more is expected)",
            bucket_counts.len(),
            bounds.len()
        ));
    }
    let exemplars = p
        .exemplars
        .into_iter()
        .enumerate()
        .map(|(e, ex)| {
            let at = format!("{at}.exemplars[{e}]");
            Ok(Exemplar {
                value: ex.as_double.map_or(0.0, |v| v.0),
                time: time(ex.time_unix_nano),
                trace_id: trace_id(&ex.trace_id, &at)?,
                span_id: span_id(&ex.span_id, &at)?,
                filtered_attributes: key_values(ex.filtered_attributes, &at)?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(HistogramPoint {
        attributes: key_values(p.attributes, at)?,
        start_time: time(p.start_time_unix_nano),
        time: time(p.time_unix_nano),
        count: p.count.0,
        sum: p.sum.map_or(0.0, |s| s.0),
        min: p.min.map(|m| m.0),
        max: p.max.map(|m| m.0),
        bounds: &crate::metrics::DURATION_BUCKETS,
        bucket_counts,
        exemplars,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;
    use crate::metrics::{RequestMetrics, Val};

    /// What the writer writes, the reader reads back exactly; a line another
    /// writer could write with wrong buckets or an unknown metric is refused
    /// or skipped, said so.
    #[test]
    fn metrics_lines_round_trip() {
        let metrics = RequestMetrics::with_cardinality_limit(3);
        let sc = SpanContext::new(
            TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
            SpanId::from(0x00f067aa0ba902b7),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let at = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        for (route, seconds) in [
            ("/a", 0.003),
            ("/a", 0.2),
            ("/b", 1.5),
            ("/c\u{1f600}", 20.0),
        ] {
            metrics.record(
                Instrument::HttpServer,
                &[
                    ("http.route", Val::Str(route)),
                    ("http.response.status_code", Val::Int(200)),
                ],
                seconds,
                at,
                Some(&sc),
            );
        }
        let written = metrics.collect(Temporality::Cumulative);
        let mut line = Vec::new();
        let mut object = Vec::new();
        super::super::write::metric(&mut object, &written[0]);
        let mut resource = Vec::new();
        super::super::write::resource(
            &mut resource,
            &Resource::builder_empty().with_service_name("shop").build(),
        );
        super::super::write::line(
            &mut line,
            super::super::write::METRICS,
            super::super::write::Line {
                resource: &resource,
                resource_schema_url: "",
                scopes: [(b"{}".as_slice(), "", [object.as_slice()])],
            },
        );
        let read: Vec<_> = MetricsReader::metrics(line.as_slice()).collect();
        let batch = read[0].as_ref().unwrap();
        assert_eq!(
            batch.histograms, written,
            "the overflow series and its filtered attributes too"
        );
        assert_eq!(batch.skipped, 0);
        let p99 = batch.histograms[0].points[0].quantile(0.99).unwrap();
        assert!(p99 > 0.1 && p99 <= 0.25, "{p99}");

        // (line, expected error or skipped count, why)
        let cases: &[(&str, Result<usize, &str>, &str)] = &[
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"jvm.memory.used","sum":{}}]}]}]}"#,
                Ok(1),
                "another metric: skipped, counted",
            ),
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"http.server.request.duration","histogram":{"dataPoints":[{"count":"1","bucketCounts":["1","0"],"explicitBounds":[1.0]}],"aggregationTemporality":2}}]}]}]}"#,
                Err("explicitBounds"),
                "other buckets",
            ),
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"http.server.request.duration","histogram":{"dataPoints":[],"aggregationTemporality":7}}]}]}]}"#,
                Err("aggregationTemporality 7"),
                "unknown temporality",
            ),
            (
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"http.server.request.duration","histogram":{"dataPoints":[{"exemplars":[{"traceId":"zz","spanId":"00f067aa0ba902b7"}],"bucketCounts":["0","0","0","0","0","0","0","0","0","0","0","0","0","0","0"],"explicitBounds":[0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,7.5,10]}],"aggregationTemporality":2}}]}]}]}"#,
                Err("exemplars[0]"),
                "a bad trace id, named where",
            ),
            (r#"{"resourceMetrics":[{"#, Err("not complete JSON"), "cut"),
        ];
        for (text, expected, why) in cases {
            let got: Vec<_> = MetricsReader::metrics(format!("{text}\n").as_bytes()).collect();
            match (expected, &got[0]) {
                (Ok(n), Ok(batch)) => assert_eq!(batch.skipped, *n, "{why}"),
                (Err(words), Err(e)) => assert!(e.reason().contains(words), "{why}: {e}"),
                (_, other) => panic!("{why}: {other:?}"),
            }
        }
    }
}
