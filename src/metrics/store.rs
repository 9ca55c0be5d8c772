//! [`RequestMetrics`]: the four histograms' series, each with its buckets and
//! its exemplars, bounded in number; what the middleware records into and
//! what a collection reads.

// Recording is the layers' (features `http-server`, `reqwest`); a build
// without them has the store, its collection and export only.
#![cfg_attr(
    not(any(feature = "http-server", feature = "reqwest")),
    allow(dead_code)
)]

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::SystemTime;

use opentelemetry::trace::SpanContext;
use opentelemetry::{KeyValue, Value};

use super::data::{Exemplar, Histogram, HistogramPoint, Temporality};
use super::instrument::{bucket_of, Instrument, BUCKETS};

/// The default most series one instrument keeps, the overflow series
/// included: the OpenTelemetry SDK specification's default cardinality limit.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// The attribute of the series that counts the measurements of attribute sets
/// past the cardinality limit (the OpenTelemetry SDK specification's).
pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

/// One attribute of a measurement, borrowed from the request (no copy unless
/// it starts a new series).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val<'a> {
    Str(&'a str),
    Int(i64),
}

/// A measurement's attributes, in the instrument's fixed order.
pub(crate) type Attrs<'a> = [(&'static str, Val<'a>)];

/// The store of the request metrics: the four duration histograms
/// ([`Instrument`]) the middleware records into, and that a collection reads.
///
/// [`init_observability`](crate::init_observability) makes one, installs it
/// for the layers ([`RequestMetrics::global`]) and exports what it holds at
/// every interval. Give one to a layer (`.request_metrics(&metrics)`) to
/// record into a store of your own (a test, your own export), and read it
/// with [`collect`](Self::collect).
///
/// Bounded by construction: each instrument keeps at most
/// [`cardinality_limit`](Self::cardinality_limit) series (2,000 by default,
/// the overflow series included); the measurements of further attribute
/// sets go to the series whose only attribute is `otel.metric.overflow =
/// true`, as the OpenTelemetry SDK specification asks, and the first such
/// measurement is reported once. Each series holds 15 buckets and at most one
/// exemplar per bucket.
///
/// Cloning is cheap: clones share the store.
#[derive(Clone)]
pub struct RequestMetrics {
    store: Arc<Store>,
}

impl std::fmt::Debug for RequestMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestMetrics")
            .field("cardinality_limit", &self.store.limit)
            .finish_non_exhaustive()
    }
}

impl Default for RequestMetrics {
    fn default() -> Self {
        Self::new()
    }
}

struct Store {
    tables: [Mutex<Table>; 4],
    limit: usize,
    /// The seed of the series keys' hashes, random per store.
    seed: u64,
    /// Whether the overflow of each instrument was reported.
    reported: [AtomicBool; 4],
}

/// The hash of a series key: FxHash's word-at-a-time mix (a rotate, an xor
/// and a multiply per 8 bytes), seeded per store. Not SipHash: the keys are
/// a few short values no caller chooses freely (see the module docs), and
/// the series are capped, so a flood of colliding keys cannot be made and
/// would cost at most the cap's chain; SipHash was over half of the metrics'
/// cost per request (benches/metrics_instructions.sh).
struct KeyHasher(u64);

impl KeyHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for KeyHasher {
    /// murmur3's fmix64: the high bits the multiplications fill, mixed into
    /// the low bits the index uses.
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length too, so that trailing zeros count.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One instrument's series.
#[derive(Default)]
struct Table {
    /// The first series of each attribute hash (the others chained by `next`).
    index: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    series: Vec<Series>,
    overflow: Option<Series>,
    /// When the last delta collection was (the next points' start).
    since: Option<SystemTime>,
}

struct Series {
    attributes: Box<[KeyValue]>,
    hash: u64,
    next: Option<u32>,
    start: SystemTime,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    buckets: [u64; BUCKETS],
    /// Per bucket: the measurements offered since the last collection, and
    /// the exemplar kept.
    seen: [u32; BUCKETS],
    exemplars: [Option<Exemplar>; BUCKETS],
    /// The reservoir's random state (xorshift).
    rng: u64,
}

impl Series {
    fn new(attributes: Box<[KeyValue]>, hash: u64, start: SystemTime) -> Self {
        Self {
            attributes,
            hash,
            next: None,
            start,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            buckets: [0; BUCKETS],
            seen: [0; BUCKETS],
            exemplars: Default::default(),
            rng: hash | 1,
        }
    }

    fn record(
        &mut self,
        value: f64,
        at: SystemTime,
        span: Option<&SpanContext>,
        filtered: impl FnOnce() -> Vec<KeyValue>,
    ) {
        let bucket = bucket_of(value);
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.buckets[bucket] += 1;
        // The trace-based exemplar filter (the specification's default):
        // only measurements inside a sampled span are offered.
        let Some(span) = span.filter(|s| s.is_sampled()) else {
            return;
        };
        // The aligned histogram bucket reservoir: one exemplar per bucket,
        // each measurement of the interval kept with probability 1/n (n: the
        // bucket's measurements offered so far), so the one kept is a uniform
        // pick; the first of an interval always replaces the last interval's.
        let seen = &mut self.seen[bucket];
        *seen = seen.saturating_add(1);
        let keep = *seen == 1 || {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            self.rng % u64::from(*seen) == 0
        };
        if keep {
            self.exemplars[bucket] = Some(Exemplar {
                value,
                time: at,
                trace_id: span.trace_id(),
                span_id: span.span_id(),
                filtered_attributes: filtered(),
            });
        }
    }

    fn point(&self, start: SystemTime, now: SystemTime) -> HistogramPoint {
        HistogramPoint {
            attributes: self.attributes.to_vec(),
            start_time: start,
            time: now,
            count: self.count,
            sum: self.sum,
            min: (self.count > 0).then_some(self.min),
            max: (self.count > 0).then_some(self.max),
            bounds: &super::DURATION_BUCKETS,
            bucket_counts: self.buckets.to_vec(),
            exemplars: self.exemplars.iter().flatten().cloned().collect(),
        }
    }
}

impl Val<'_> {
    fn hash_into(&self, h: &mut impl Hasher) {
        match self {
            Val::Str(s) => {
                h.write_u8(0);
                s.hash(h);
            }
            Val::Int(i) => {
                h.write_u8(1);
                i.hash(h);
            }
        }
    }

    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Val::Str(s), Value::String(v)) => v.as_str() == *s,
            (Val::Int(i), Value::I64(v)) => i == v,
            _ => false,
        }
    }

    fn owned(&self) -> Value {
        match *self {
            Val::Str(s) => Value::from(s.to_owned()),
            Val::Int(i) => Value::I64(i),
        }
    }
}

fn owned(attrs: &Attrs<'_>) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|(k, v)| KeyValue::new(*k, v.owned()))
        .collect()
}

fn same(series: &[KeyValue], attrs: &Attrs<'_>) -> bool {
    series.len() == attrs.len()
        && series.iter().zip(attrs).all(|(kv, (k, v))| {
            // A series' keys are the `&'static str`s it was made from.
            (std::ptr::eq(kv.key.as_str(), *k) || kv.key.as_str() == *k) && v.matches(&kv.value)
        })
}

/// The store the layers record into by default (installed by
/// `init_observability`).
static GLOBAL: RwLock<Option<RequestMetrics>> = RwLock::new(None);

#[cfg(feature = "testing")]
thread_local! {
    /// The store of the `TestTelemetry` set as this thread's default.
    static SCOPED: std::cell::RefCell<Option<RequestMetrics>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes `metrics` this thread's store for the layers' measurements (`None`:
/// back to the global one); returns the one it replaces.
#[cfg(feature = "testing")]
pub(crate) fn set_scoped(metrics: Option<RequestMetrics>) -> Option<RequestMetrics> {
    SCOPED.with(|scoped| scoped.replace(metrics))
}

impl RequestMetrics {
    /// An empty store, [`DEFAULT_CARDINALITY_LIMIT`] series per instrument.
    pub fn new() -> Self {
        Self::with_cardinality_limit(DEFAULT_CARDINALITY_LIMIT)
    }

    /// An empty store keeping at most `limit` series per instrument, the
    /// overflow series included (at least 2: one series and the overflow).
    pub fn with_cardinality_limit(limit: usize) -> Self {
        Self {
            store: Arc::new(Store {
                tables: Default::default(),
                limit: limit.max(2),
                seed: rand::random(),
                reported: Default::default(),
            }),
        }
    }

    /// The most series one instrument keeps, the overflow series included.
    pub fn cardinality_limit(&self) -> usize {
        self.store.limit
    }

    /// The store [`init_observability`](crate::init_observability) installed
    /// for the layers, if any (none before it, with `OTEL_SDK_DISABLED=true`
    /// or `OTEL_METRICS_EXPORTER=none`, and after its guard is dropped).
    pub fn global() -> Option<RequestMetrics> {
        GLOBAL.read().ok().and_then(|g| g.clone())
    }

    /// Installs `metrics` as the layers' default store (`None`: none);
    /// returns the one it replaces.
    pub(crate) fn set_global(metrics: Option<RequestMetrics>) -> Option<RequestMetrics> {
        match GLOBAL.write() {
            Ok(mut global) => std::mem::replace(&mut *global, metrics),
            Err(poisoned) => std::mem::replace(&mut *poisoned.into_inner(), metrics),
        }
    }

    /// Whether two handles share one store.
    pub fn same_store(&self, other: &RequestMetrics) -> bool {
        Arc::ptr_eq(&self.store, &other.store)
    }

    fn table(&self, instrument: Instrument) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves at worst one series with a
        // count and its buckets one measurement apart: keep going.
        self.store.tables[instrument.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Records one duration (seconds) with its attributes, in the order the
    /// instrument gives them; `span`: the request's span, whose ids an
    /// exemplar carries when it is sampled.
    pub(crate) fn record(
        &self,
        instrument: Instrument,
        attrs: &Attrs<'_>,
        seconds: f64,
        at: SystemTime,
        span: Option<&SpanContext>,
    ) {
        let seconds = match seconds.is_finite() && seconds >= 0.0 {
            true => seconds,
            false => 0.0,
        };
        let hash = {
            let mut h = KeyHasher(self.store.seed);
            for (key, value) in attrs {
                // The instrument fixes the keys and their order: their
                // lengths tell its optional ones apart (`same` compares them).
                h.write_usize(key.len());
                value.hash_into(&mut h);
            }
            h.finish()
        };
        let overflowed = {
            let mut table = self.table(instrument);
            let table = &mut *table;
            let mut found = table.index.get(&hash).copied();
            while let Some(i) = found {
                let series = &table.series[i as usize];
                if series.hash == hash && same(&series.attributes, attrs) {
                    break;
                }
                found = series.next;
            }
            match found {
                Some(i) => {
                    table.series[i as usize].record(seconds, at, span, Vec::new);
                    false
                }
                // Room for one more besides the overflow series.
                None if table.series.len() + 1 < self.store.limit => {
                    let i = table.series.len() as u32;
                    let mut series = Series::new(owned(attrs).into(), hash, at);
                    series.next = table.index.insert(hash, i);
                    series.record(seconds, at, span, Vec::new);
                    table.series.push(series);
                    false
                }
                None => {
                    let overflow = table.overflow.get_or_insert_with(|| {
                        Series::new(Box::new([KeyValue::new(OVERFLOW_ATTRIBUTE, true)]), 0, at)
                    });
                    // The attributes the overflow series does not show go
                    // with its exemplars (bounded: one per bucket).
                    overflow.record(seconds, at, span, || owned(attrs));
                    true
                }
            }
        };
        if overflowed && !self.store.reported[instrument.index()].swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "distributed_tracing::metrics",
                metric = instrument.name(),
                cardinality_limit = self.store.limit,
                "{} reached its cardinality limit of {} series: the measurements of further attribute sets are counted in the series {OVERFLOW_ATTRIBUTE}=true (reported once)",
                instrument.name(),
                self.store.limit
            );
        }
    }

    /// What the store holds now, one [`Histogram`] per instrument with at
    /// least one series (in [`Instrument::ALL`]'s order).
    ///
    /// [`Temporality::Cumulative`]: every series since it started, its
    /// exemplars kept until a newer measurement of their bucket replaces
    /// them. [`Temporality::Delta`]: what came since the last delta
    /// collection, which then empties the store (its series, exemplars and
    /// cardinality count start again); a series without measurements in the
    /// interval is left out. Use one temporality per store.
    pub fn collect(&self, temporality: Temporality) -> Vec<Histogram> {
        let now = SystemTime::now();
        let mut out = Vec::new();
        for instrument in Instrument::ALL {
            let mut table = self.table(instrument);
            let points: Vec<HistogramPoint> = match temporality {
                Temporality::Cumulative => {
                    let table = &mut *table;
                    table
                        .series
                        .iter_mut()
                        .chain(table.overflow.as_mut())
                        .map(|series| {
                            series.seen = [0; BUCKETS];
                            series.point(series.start, now)
                        })
                        .collect()
                }
                Temporality::Delta => {
                    let since = table.since.replace(now);
                    let taken = std::mem::take(&mut *table);
                    table.since = Some(now);
                    drop(table);
                    taken
                        .series
                        .iter()
                        .chain(taken.overflow.as_ref())
                        .filter(|s| s.count > 0)
                        .map(|s| s.point(since.unwrap_or(s.start), now))
                        .collect()
                }
            };
            if !points.is_empty() {
                out.push(Histogram {
                    instrument,
                    temporality,
                    points,
                });
            }
        }
        out
    }

    /// How many series `instrument` holds now, the overflow series included.
    pub fn series_count(&self, instrument: Instrument) -> usize {
        let table = self.table(instrument);
        table.series.len() + usize::from(table.overflow.is_some())
    }
}

/// Which store a layer records into.
#[derive(Debug, Clone, Default)]
pub(crate) enum Recorder {
    /// The global one ([`RequestMetrics::global`]), if installed.
    #[default]
    Global,
    /// None: the layer's metrics are off.
    Off,
    /// One given to the layer.
    Given(RequestMetrics),
}

impl Recorder {
    /// A layer's `.metrics(on)`: the installed store, or none.
    pub(crate) fn switch(on: bool) -> Self {
        match on {
            true => Self::Global,
            false => Self::Off,
        }
    }

    /// The store a request records into, taken when it starts.
    pub(crate) fn store(&self) -> Option<RequestMetrics> {
        match self {
            #[cfg(feature = "testing")]
            Self::Global => SCOPED
                .with(|scoped| scoped.borrow().clone())
                .or_else(RequestMetrics::global),
            #[cfg(not(feature = "testing"))]
            Self::Global => RequestMetrics::global(),
            Self::Off => None,
            Self::Given(metrics) => Some(metrics.clone()),
        }
    }
}
