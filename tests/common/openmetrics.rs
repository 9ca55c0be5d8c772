//! A strict reader of the OpenMetrics 1.0 text exposition
//! (<https://prometheus.io/docs/specs/om/open_metrics_spec/>), for the tests
//! that scrape a real Prometheus endpoint (the collector's `prometheus`
//! exporter). It reads every family, and keeps the histograms: per family and
//! label set (without `le`) the count, the sum, the buckets and their
//! exemplars. Anything the format does not allow is an error naming the line
//! and the rule, rather than a value silently skipped: a test that reads a
//! count from a malformed scrape would assert on the wrong thing.
//!
//! Part of `common` (`common::openmetrics`), and included alone with `#[path]`
//! by `tests/openmetrics_reader.rs`, its own tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

/// A label set, by name.
pub type Labels = BTreeMap<String, String>;

/// One exemplar of a bucket: `# {trace_id="..",span_id=".."} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    pub timestamp: Option<f64>,
    /// The upper bound of the bucket it was written on.
    pub le: f64,
}

impl Exemplar {
    /// Its `trace_id` label, if it has one.
    pub fn trace_id(&self) -> Option<&str> {
        self.labels.get("trace_id").map(String::as_str)
    }

    /// Its `span_id` label, if it has one.
    pub fn span_id(&self) -> Option<&str> {
        self.labels.get("span_id").map(String::as_str)
    }
}

/// One histogram series: the `_bucket`, `_count` and `_sum` samples of one
/// label set of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub count: u64,
    pub sum: f64,
    /// `(le, cumulative count)`, in order, the last one `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    pub exemplars: Vec<Exemplar>,
    /// `_created`, when written.
    pub created: Option<f64>,
}

/// One metric family: its metadata and, for a histogram, its series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Family {
    /// `counter`, `gauge`, `histogram`, ... (`unknown` without `# TYPE`).
    pub kind: String,
    pub help: Option<String>,
    pub unit: Option<String>,
    /// How many samples it had (of any kind).
    pub samples: usize,
    /// Its histogram series, by label set (empty unless `kind` is `histogram`).
    pub histograms: BTreeMap<Labels, Histogram>,
}

/// A whole scrape, by family name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    pub families: BTreeMap<String, Family>,
}

impl Scrape {
    /// The series of the histogram family `name` (empty when it is absent).
    pub fn histograms(&self, name: &str) -> BTreeMap<Labels, Histogram> {
        self.families
            .get(name)
            .filter(|f| f.kind == "histogram")
            .map(|f| f.histograms.clone())
            .unwrap_or_default()
    }

    /// Every exemplar of every histogram: `(family, series labels, exemplar)`.
    pub fn exemplars(&self) -> Vec<(&str, &Labels, &Exemplar)> {
        self.families
            .iter()
            .flat_map(|(name, family)| {
                family.histograms.iter().flat_map(move |(labels, h)| {
                    h.exemplars.iter().map(move |e| (name.as_str(), labels, e))
                })
            })
            .collect()
    }
}

/// What the suffixes of a family's sample names are, by type.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" => &["_bucket", "_count", "_sum", "_created"],
        "gaugehistogram" => &["_bucket", "_gcount", "_gsum"],
        "summary" => &["", "_count", "_sum", "_created"],
        "info" => &["_info"],
        // gauge, stateset, unknown
        _ => &[""],
    }
}

const KINDS: [&str; 8] = [
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
    "unknown",
];

/// A histogram series being read.
#[derive(Default)]
struct Partial {
    buckets: Vec<(f64, u64)>,
    exemplars: Vec<Exemplar>,
    count: Option<u64>,
    sum: Option<f64>,
    created: Option<f64>,
}

/// Reads a scrape; the error names the line (from 1) and what is wrong.
pub fn parse(text: &str) -> Result<Scrape, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .or_else(|| text.strip_suffix("# EOF"))
        .ok_or("the exposition does not end with `# EOF`")?;
    let mut scrape = Scrape::default();
    // The family being read, and those already closed (a family's lines are
    // contiguous: one seen again later is an error).
    let mut current: Option<String> = None;
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut partial: BTreeMap<Labels, Partial> = BTreeMap::new();
    for (index, line) in body.split_terminator('\n').enumerate() {
        let at = index + 1;
        let err = |why: String| format!("line {at}: {why}: {line:?}");
        if line.is_empty() {
            return Err(err("an empty line".into()));
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let (keyword, rest) = meta
                .split_once(' ')
                .ok_or_else(|| err("a comment that is not HELP, TYPE or UNIT".into()))?;
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            check_name(name).map_err(&err)?;
            if current.as_deref() != Some(name) {
                if let Some(done) = current.take() {
                    finish(&mut scrape, &done, &mut partial).map_err(&err)?;
                    closed.insert(done);
                }
                if closed.contains(name) || scrape.families.contains_key(name) {
                    return Err(err(format!("family {name} again, after other families")));
                }
                current = Some(name.to_owned());
                scrape.families.insert(
                    name.to_owned(),
                    Family {
                        kind: "unknown".into(),
                        ..Family::default()
                    },
                );
            }
            let family = scrape.families.get_mut(name).unwrap();
            if family.samples > 0 {
                return Err(err(format!("metadata of {name} after its samples")));
            }
            match keyword {
                "HELP" => {
                    if family.help.is_some() {
                        return Err(err("a second HELP".into()));
                    }
                    family.help = Some(unescape(value, false).map_err(&err)?);
                }
                "TYPE" => {
                    if !KINDS.contains(&value) {
                        return Err(err(format!("unknown type {value:?}")));
                    }
                    family.kind = value.to_owned();
                }
                "UNIT" => {
                    if !name.ends_with(&format!("_{value}")) && !value.is_empty() {
                        return Err(err(format!("the name does not end with its unit {value}")));
                    }
                    family.unit = Some(value.to_owned());
                }
                other => return Err(err(format!("unknown metadata {other}"))),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(err("a comment that is not HELP, TYPE or UNIT".into()));
        }

        let sample = Sample::read(line).map_err(&err)?;
        // Which family it belongs to: the current one when the name is the
        // family's with one of its type's suffixes, else a family of its own
        // (type unknown, no metadata).
        let belongs = current.as_ref().and_then(|family| {
            let kind = &scrape.families[family].kind;
            let suffix = sample.name.strip_prefix(family.as_str())?;
            suffixes(kind).contains(&suffix).then_some(suffix)
        });
        let suffix = match belongs {
            Some(suffix) => suffix.to_owned(),
            None => {
                let name = sample.name.clone();
                if let Some(done) = current.take() {
                    finish(&mut scrape, &done, &mut partial).map_err(&err)?;
                    closed.insert(done);
                }
                if closed.contains(&name) || scrape.families.contains_key(&name) {
                    return Err(err(format!("family {name} again, after other families")));
                }
                scrape.families.insert(
                    name.clone(),
                    Family {
                        kind: "unknown".into(),
                        ..Family::default()
                    },
                );
                current = Some(name);
                String::new()
            }
        };
        let family_name = current.clone().unwrap();
        let family = scrape.families.get_mut(&family_name).unwrap();
        family.samples += 1;
        let may_have_exemplar = matches!(
            (family.kind.as_str(), suffix.as_str()),
            ("histogram" | "gaugehistogram", "_bucket") | ("counter", "_total")
        );
        if sample.exemplar.is_some() && !may_have_exemplar {
            return Err(err("an exemplar on a sample that cannot have one".into()));
        }
        if family.kind != "histogram" {
            continue;
        }
        let mut labels = sample.labels.clone();
        let le = labels.remove("le");
        let series = partial.entry(labels).or_default();
        match suffix.as_str() {
            "_bucket" => {
                let le = le.ok_or_else(|| err("a bucket without `le`".into()))?;
                let le = number(&le).map_err(|e| err(format!("le: {e}")))?;
                let count = count(&sample.value).map_err(&err)?;
                if series.count.is_some() || series.sum.is_some() {
                    return Err(err("a bucket after the series' count or sum".into()));
                }
                if let Some(&(previous, before)) = series.buckets.last() {
                    if le.is_nan() || le <= previous {
                        return Err(err(format!("le {le} after le {previous}")));
                    }
                    if count < before {
                        return Err(err(format!(
                            "bucket counts are cumulative: {count} after {before}"
                        )));
                    }
                }
                if let Some((labels, value, timestamp)) = sample.exemplar {
                    let low = series.buckets.last().map_or(f64::NEG_INFINITY, |b| b.0);
                    if !(value > low && value <= le) {
                        return Err(err(format!(
                            "exemplar value {value} outside its bucket ({low}, {le}]"
                        )));
                    }
                    series.exemplars.push(Exemplar {
                        labels,
                        value,
                        timestamp,
                        le,
                    });
                }
                series.buckets.push((le, count));
            }
            _ if le.is_some() => return Err(err("`le` on a sample that is not a bucket".into())),
            "_count" => {
                if series
                    .count
                    .replace(count(&sample.value).map_err(&err)?)
                    .is_some()
                {
                    return Err(err("a second count".into()));
                }
            }
            "_sum" => {
                let sum = number(&sample.value).map_err(&err)?;
                if series.sum.replace(sum).is_some() {
                    return Err(err("a second sum".into()));
                }
            }
            "_created" => {
                let created = number(&sample.value).map_err(&err)?;
                if series.created.replace(created).is_some() {
                    return Err(err("a second created".into()));
                }
            }
            _ => unreachable!("the suffixes of a histogram"),
        }
    }
    if let Some(done) = current.take() {
        finish(&mut scrape, &done, &mut partial).map_err(|e| format!("at `# EOF`: {e}"))?;
    }
    Ok(scrape)
}

/// Closes the family `name`: each histogram series must be whole (buckets
/// up to `+Inf`, whose count is the series' count, and a sum).
fn finish(
    scrape: &mut Scrape,
    name: &str,
    partial: &mut BTreeMap<Labels, Partial>,
) -> Result<(), String> {
    let family = scrape.families.get_mut(name).unwrap();
    for (labels, series) in std::mem::take(partial) {
        let what = format!("histogram {name}{labels:?}");
        let last = series
            .buckets
            .last()
            .ok_or(format!("{what} has no bucket"))?;
        if last.0 != f64::INFINITY {
            return Err(format!("{what}: its last bucket is not +Inf"));
        }
        let count = series.count.ok_or(format!("{what} has no count"))?;
        if count != last.1 {
            return Err(format!(
                "{what}: count {count}, but the +Inf bucket has {}",
                last.1
            ));
        }
        let sum = series.sum.ok_or(format!("{what} has no sum"))?;
        family.histograms.insert(
            labels,
            Histogram {
                count,
                sum,
                buckets: series.buckets,
                exemplars: series.exemplars,
                created: series.created,
            },
        );
    }
    Ok(())
}

/// One sample line: `name{labels} value [timestamp] [# {labels} value [timestamp]]`.
struct Sample {
    name: String,
    labels: Labels,
    value: String,
    exemplar: Option<(Labels, f64, Option<f64>)>,
}

impl Sample {
    fn read(line: &str) -> Result<Sample, String> {
        let end = line.find(['{', ' ']).ok_or("a sample without a value")?;
        let name = &line[..end];
        check_name(name)?;
        let mut rest = &line[end..];
        let labels = if rest.starts_with('{') {
            let (labels, after) = label_set(rest)?;
            rest = after;
            labels
        } else {
            Labels::new()
        };
        let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
        let (point, exemplar) = match rest.split_once(" # ") {
            Some((point, exemplar)) => (point, Some(exemplar)),
            None => (rest, None),
        };
        let mut fields = point.split(' ');
        let value = fields.next().unwrap_or_default().to_owned();
        number(&value)?;
        if let Some(timestamp) = fields.next() {
            number(timestamp).map_err(|e| format!("timestamp: {e}"))?;
        }
        if fields.next().is_some() {
            return Err("more than a value and a timestamp".into());
        }
        let exemplar = match exemplar {
            None => None,
            Some(text) => {
                if !text.starts_with('{') {
                    return Err("an exemplar without a label set".into());
                }
                let (labels, after) = label_set(text)?;
                // At most 128 UTF-8 characters of names and values together.
                let length: usize = labels
                    .iter()
                    .map(|(k, v)| k.chars().count() + v.chars().count())
                    .sum();
                if length > 128 {
                    return Err(format!(
                        "exemplar labels of {length} characters (128 at most)"
                    ));
                }
                let after = after
                    .strip_prefix(' ')
                    .ok_or("no space before the exemplar's value")?;
                let mut fields = after.split(' ');
                let value = number(fields.next().unwrap_or_default())
                    .map_err(|e| format!("exemplar value: {e}"))?;
                let timestamp = fields
                    .next()
                    .map(number)
                    .transpose()
                    .map_err(|e| format!("exemplar timestamp: {e}"))?;
                if fields.next().is_some() {
                    return Err("more than a value and a timestamp in the exemplar".into());
                }
                Some((labels, value, timestamp))
            }
        };
        Ok(Sample {
            name: name.to_owned(),
            labels,
            value,
            exemplar,
        })
    }
}

/// `{name="value",...}` at the start of `text`: the labels and what follows.
fn label_set(text: &str) -> Result<(Labels, &str), String> {
    let mut rest = text.strip_prefix('{').ok_or("no `{`")?;
    let mut labels = Labels::new();
    if let Some(after) = rest.strip_prefix('}') {
        return Ok((labels, after));
    }
    loop {
        let (name, after) = rest.split_once("=\"").ok_or("a label without `=\"`")?;
        check_label_name(name)?;
        // The value runs to the first `"` that is not escaped.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("a label value without its closing quote")?;
        let value = unescape(&after[..end], true)?;
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &after[end + 1..];
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        rest = rest
            .strip_prefix(',')
            .ok_or("labels not separated by `,`")?;
        if rest.starts_with('}') {
            return Err("a `,` before `}`".into());
        }
    }
}

/// The escapes of label values and HELP texts: `\\`, `\n` and, in a label
/// value, `\"`; nothing else (and in a label value no bare `"` or newline).
fn unescape(text: &str, label: bool) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') if label => out.push('"'),
                other => return Err(format!("the escape \\{}", other.unwrap_or(' '))),
            },
            '"' if label => return Err("a bare `\"` in a label value".into()),
            '\n' => return Err("a newline".into()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first = chars.next().ok_or("an empty metric name")?;
    if (first.is_ascii_alphabetic() || first == '_' || first == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        Ok(())
    } else {
        Err(format!("the metric name {name:?}"))
    }
}

/// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first = chars.next().ok_or("an empty label name")?;
    if (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(())
    } else {
        Err(format!("the label name {name:?}"))
    }
}

/// A number as OpenMetrics writes it: decimal or exponent notation,
/// `+Inf`, `-Inf`, `NaN` (not Rust's other spellings: `inf`, `infinity`).
fn number(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return Err(format!("not a number: {text:?}"));
    }
    text.parse().map_err(|_| format!("not a number: {text:?}"))
}

/// A count: a non-negative integer, in digits.
fn count(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a count: {text:?}"));
    }
    text.parse().map_err(|_| format!("not a count: {text:?}"))
}
